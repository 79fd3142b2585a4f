// Group commit for directory syncs. A new name (a message renamed into
// queue/, a state file, a removal) is durable only once its directory has
// been fsynced (see docs/queue.md). One fsync covers every name changed
// before it started, so every caller that asks while a sync is running waits
// for the next one, and that one sync serves them all: 20 sessions finishing
// DATA together cost one directory fsync, not 20.

import fs, { closeSync, constants, openSync } from 'node:fs';
import { promisify } from 'node:util';

const fsync = promisify(fs.fsync);

export class GroupSync {
  private running?: Promise<void>;
  private next?: Promise<void>;

  constructor(private readonly syncOnce: () => Promise<void>, private readonly release: () => void = () => undefined) {}

  /**
   * A group sync of one directory, on a descriptor opened at the first sync
   * and kept until close(): a relay syncs its queue directory for every
   * message, and an open and a close each time were two more system calls on
   * the event loop.
   */
  static ofDirectory(path: string): GroupSync {
    let dir: number | undefined;
    return new GroupSync(
      async () => {
        dir ??= openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
        await fsync(dir);
      },
      () => {
        if (dir !== undefined) closeSync(dir);
        dir = undefined;
      },
    );
  }

  /** Resolves after a sync that started after this call; rejects with that sync's error. */
  sync(): Promise<void> {
    if (!this.running) return this.start();
    // The running sync may have started before our change: wait for the next.
    this.next ??= this.running.then(() => this.startNext(), () => this.startNext());
    return this.next;
  }

  /** Closes the directory's descriptor, once the sync under way (if any) is over; a later sync opens it again. */
  async close(): Promise<void> {
    await Promise.allSettled([this.running, this.next]);
    this.release();
  }

  private startNext(): Promise<void> {
    this.next = undefined;
    return this.start();
  }

  private start(): Promise<void> {
    const run = this.syncOnce().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }
}

/**
 * Flushes a directory's entries (new, renamed or removed names) to disk.
 * Only the fsync, which waits for the disk, goes through the thread pool:
 * opening and closing a directory are lookups in the kernel's caches.
 */
export async function fsyncDirectory(path: string): Promise<void> {
  const dir = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fsync(dir);
  } finally {
    closeSync(dir);
  }
}

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

  constructor(private readonly syncOnce: () => Promise<void>) {}

  /** A group sync of one directory. */
  static ofDirectory(path: string): GroupSync {
    return new GroupSync(() => fsyncDirectory(path));
  }

  /** Resolves after a sync that started after this call; rejects with that sync's error. */
  sync(): Promise<void> {
    if (!this.running) return this.start();
    // The running sync may have started before our change: wait for the next.
    this.next ??= this.running.then(() => this.startNext(), () => this.startNext());
    return this.next;
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

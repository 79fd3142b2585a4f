// tmp/<id>: the file a message is written into while it arrives (receipt.ts).
//
// Creating a name waits, now and then, about a millisecond for the file
// system's journal to finish committing other messages' syncs. So it goes
// through libuv's thread pool, and a relay keeps one file made ahead of
// time (SpareTmpFile): the next DATA takes it at once, and the next spare is
// made while that message arrives, much as Postfix's cleanup creates the
// queue file at MAIL FROM, before the client reaches DATA.

import fs from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { newQueueId } from './queue-id.js';
import { CREATE_FLAGS, FILE_MODE } from './queue-file.js';
import { SpoolError } from './spool-error.js';

/** A new, empty, open tmp/<id>. */
export interface TmpFile {
  readonly id: string;
  readonly fd: number;
}

/** Two processes making the same id in the same millisecond is rare; a few tries settle it. */
const ID_TRIES = 3;
/**
 * A queue id names when its message arrived (queue-id.ts; the latency
 * metric reads it): a spare older than this is not used but replaced.
 */
const SPARE_MAX_AGE_MS = 1000;
const openFd = promisify(fs.open);

/** Creates tmp/<id> under a new id (O_EXCL: never an existing file). */
export async function createTmpFile(tmpDir: string): Promise<TmpFile> {
  for (let tries = 1; ; tries++) {
    const id = newQueueId();
    try {
      return { id, fd: await openFd(join(tmpDir, id), CREATE_FLAGS, FILE_MODE) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && tries < ID_TRIES) continue;
      throw SpoolError.fromFs(err, `create tmp/${id}`);
    }
  }
}

type Spare = { file: TmpFile; madeAt: number } | { failed: SpoolError };

/** One tmp/<id> made ahead of time, for the relay's next message. */
export class SpareTmpFile {
  private next?: Promise<Spare | undefined>;
  private closed = false;

  constructor(
    private readonly tmpDir: string,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A new tmp file: the spare if there is a fresh one, else one made now.
   * Makes the next spare in the next turn of the event loop: asking the
   * thread pool wakes one of its threads, which costs the event loop tens of
   * microseconds on a busy machine, and the client's 354 is written first.
   */
  async take(): Promise<TmpFile> {
    const ready = this.next;
    this.next = this.closed ? undefined : this.makeNextTurn();
    const spare = await ready;
    if (spare && 'file' in spare) {
      if (this.now() - spare.madeAt <= SPARE_MAX_AGE_MS) return spare.file;
      // One that cannot be removed stays in tmp/ until the next start clears
      // it; if tmp/ itself is broken, making the new file below says so.
      await discard(this.tmpDir, spare.file).catch(() => undefined);
    }
    // No spare, a stale one, or one that failed: making one now reports what is wrong, if anything is.
    return createTmpFile(this.tmpDir);
  }

  /** Removes the spare, if one was made; no more are made. */
  async close(): Promise<void> {
    this.closed = true;
    const spare = await this.next;
    this.next = undefined;
    if (spare && 'file' in spare) await discard(this.tmpDir, spare.file);
  }

  private makeNextTurn(): Promise<Spare | undefined> {
    return new Promise((resolve) => setImmediate(() => resolve(this.closed ? undefined : this.make())));
  }

  private make(): Promise<Spare> {
    // Its age counts from before its id was made (the id holds that time).
    const madeAt = this.now();
    // A failure is a value here, kept until take() or close() looks at it.
    return createTmpFile(this.tmpDir).then(
      (file) => ({ file, madeAt }),
      (failed: SpoolError) => ({ failed }),
    );
  }
}

/** Closes and removes an unused tmp file. */
async function discard(tmpDir: string, file: TmpFile): Promise<void> {
  fs.closeSync(file.fd);
  await unlink(join(tmpDir, file.id));
}

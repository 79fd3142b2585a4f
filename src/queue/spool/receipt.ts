// One message being received: its bytes go into tmp/<id> while the DATA
// arrives, and commit() makes it durable and visible as queue/<id>. Only
// after commit() resolves may the server answer "250 2.0.0 Ok: queued as
// <id>" (RFC 5321 §4.1.1.4, §6.1).
//
// The path to the 250 (docs/queue.md): the envelope line is appended, the
// file is renamed into queue/, and then two syncs run side by side, neither
// waiting for the other: the file's one fdatasync, and the fsync of queue/ by
// a group sync that every message committing at that moment shares.

import fs from 'node:fs';
import { promisify } from 'node:util';
import { open, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { validateEnvelope, type Envelope } from './envelope.js';
import { FileWriter } from './file-writer.js';
import type { GroupSync } from './group-sync.js';
import { envelopeTrailer } from './queue-file.js';
import { SPOOL_CODES, SpoolError, fsStep } from './spool-error.js';
import { openSpoolFile } from './spool-safety.js';
import { CREATE_FLAGS, FILE_MODE } from './queue-file.js';

/** Where a receipt goes: the spool's two directories, absolute, and the group sync of queue/. */
export interface ReceiptDirs {
  readonly tmp: string;
  readonly queue: string;
  readonly queueSync: GroupSync;
  /**
   * Ids in queue/ whose syncs have not finished: not yet queued, so a look
   * at queue/ (Spool.listAll) passes over them.
   */
  readonly committing: Set<string>;
  /** Told when this receipt's syncs have started: its client waits for the disk (Spool.onClientWaitsForDisk). */
  readonly waitingForDisk?: () => void;
}

type ReceiptState = 'receiving' | 'committing' | 'committed' | 'failed' | 'aborted';

const NEWLINE = 0x0a;
const fdatasync = promisify(fs.fdatasync);
const COPY_BYTES = 64 * 1024;

/**
 * Writes `prefix`, the bytes of `source` and `trailer` to a new file
 * `target`, and flushes it (the message's one data sync on this path).
 */
async function copyWithPrefix(source: string, target: string, prefix: Buffer, trailer: Buffer): Promise<void> {
  const input = await openSpoolFile(source);
  try {
    const output = await open(target, CREATE_FLAGS, FILE_MODE);
    try {
      await output.write(prefix);
      const chunk = Buffer.allocUnsafe(COPY_BYTES);
      for (;;) {
        const { bytesRead } = await input.read(chunk, 0, chunk.length, null);
        if (bytesRead === 0) break;
        await output.write(chunk, 0, bytesRead);
      }
      await output.write(trailer);
      await output.datasync();
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}

export class Receipt {
  private state: ReceiptState = 'receiving';
  private bytes = 0;
  private readonly writer: FileWriter;
  private fileClosed = false;
  private committing?: Promise<Envelope>;
  private aborting?: Promise<void>;

  /** Made by Spool.beginReceipt(), which opened `fd` as tmp/<id>; the receipt closes it. */
  constructor(
    readonly id: string,
    private readonly dirs: ReceiptDirs,
    private readonly fd: number,
  ) {
    this.writer = new FileWriter(fd, `tmp/${id}`);
  }

  /**
   * Appends bytes (the caller must not change the chunk afterwards, as with a
   * stream). Returns false when the caller should waitForDrain() first. After
   * a write error the bytes are dropped and true is returned, so the caller
   * can read the DATA to its end; the error is in `failed` and commit() rejects.
   */
  write(chunk: Buffer): boolean {
    if (this.state !== 'receiving') throw this.closedError('write');
    if (this.writer.failed) return true;
    this.bytes += chunk.length;
    return this.writer.write(chunk);
  }

  waitForDrain(): Promise<void> {
    return this.writer.waitForDrain();
  }

  /** Bytes appended so far (not counting any dropped after a write error). */
  get bytesWritten(): number {
    return this.bytes;
  }

  /** The first write error, once there was one: commit() will reject with it. */
  get failed(): SpoolError | undefined {
    return this.writer.failed;
  }

  /**
   * Sets size to the bytes written, appends the envelope, makes the file
   * durable and visible as queue/<id>. Resolves with the envelope as stored,
   * once the message is durable and visible; when it rejects (SpoolError)
   * nothing is visible in queue/ and the caller should abort().
   * `prefix`: header fields that go in front of the message, known only now
   * that it is complete (DKIM-Signature fields, src/dkim/).
   */
  commit(envelope: Omit<Envelope, 'size'>, prefix?: Buffer): Promise<Envelope> {
    if (this.state !== 'receiving') return Promise.reject(this.closedError('commit'));
    this.state = 'committing';
    this.committing = this.store(envelope, prefix).then(
      (stored) => { this.state = 'committed'; return stored; },
      (err: unknown) => { this.state = 'failed'; throw err; },
    );
    return this.committing;
  }

  /**
   * Removes tmp/<id>. Safe to call twice, after a write error and after a
   * failed commit. Called during a commit it waits for it; after a commit
   * that succeeded it does nothing, since the message is already queued.
   */
  abort(): Promise<void> {
    this.aborting ??= this.discard();
    return this.aborting;
  }

  private get tmpPath(): string {
    return join(this.dirs.tmp, this.id);
  }

  private get queuePath(): string {
    return join(this.dirs.queue, this.id);
  }

  private get prefixedPath(): string {
    return join(this.dirs.tmp, `${this.id}.prefixed`);
  }

  private async store(envelope: Omit<Envelope, 'size'>, prefix: Buffer | undefined): Promise<Envelope> {
    const env = validateEnvelope({ ...envelope, size: this.bytes + (prefix?.length ?? 0) });
    if (env.id !== this.id) {
      throw new SpoolError(SPOOL_CODES.badEnvelope, `spool: envelope id ${env.id} given to receipt ${this.id}`);
    }
    const lastByte = this.bytes > 0 ? this.writer.lastByteWritten : prefix?.[prefix.length - 1];
    const trailer = envelopeTrailer(env, lastByte === NEWLINE);
    // Ids are unique (queue-id.ts), so the rename never replaces a queued message.
    if (!prefix?.length || this.writer.prepend(prefix)) {
      // The file stays open: its data sync runs after the rename (syncQueue).
      await this.flushFile(trailer, { close: false });
      await this.publish(`tmp/${this.id}`, async () => fs.renameSync(this.tmpPath, this.queuePath), true);
    } else {
      // Part of the message is on disk already: a copy with the prefix in front
      // takes its place, and the copy syncs its own data.
      await this.flushFile(Buffer.alloc(0));
      await fsStep(`prefix tmp/${this.id}`, () => copyWithPrefix(this.tmpPath, this.prefixedPath, prefix, trailer));
      await fsStep(`remove tmp/${this.id}`, () => unlink(this.tmpPath));
      await this.publish(`tmp/${this.id}.prefixed`, () => rename(this.prefixedPath, this.queuePath), false);
    }
    return env;
  }

  /** Every byte and the envelope written, and the file closed unless `close` is false. */
  private async flushFile(trailer: Buffer, { close = true } = {}): Promise<void> {
    try {
      await this.writer.finish(trailer);
    } catch (err) {
      // The write error is the one to report (ENOSPC → 452), not a close error after it.
      await this.closeFile().catch(() => undefined);
      throw err;
    }
    if (close) await fsStep(`close tmp/${this.id}`, () => this.closeFile());
  }

  /**
   * Renames the file into queue/ and makes it durable (syncQueue); until
   * then a look at queue/ passes over it (`committing`).
   */
  private async publish(from: string, renameIntoQueue: () => Promise<void>, syncData: boolean): Promise<void> {
    this.dirs.committing.add(this.id);
    try {
      await fsStep(`rename ${from} to queue/${this.id}`, renameIntoQueue);
      await this.syncQueue(syncData);
    } finally {
      this.dirs.committing.delete(this.id);
    }
  }

  /**
   * Makes queue/<id> durable: the directory's group sync and, when
   * `withData`, the file's fdatasync, side by side. Neither waits for the
   * other, since each makes its own part durable (the name, the bytes); the
   * 250 waits for both. A crash before both finish may leave the name with
   * fewer bytes than were written, for a message no client was told was
   * queued: it lacks its envelope line (or its size does not match), so the
   * next start reports it and never delivers it (queue-file.ts, readTrailer).
   *
   * Until both are done the message may not survive a crash, so we must not
   * report success. Moving it back keeps it invisible: the client gets 451
   * and sends it again. If even that fails it stays queued, and a duplicate
   * is possible, which RFC 5321 §6.1 prefers to a loss.
   */
  private async syncQueue(withData: boolean): Promise<void> {
    const data = withData ? fsStep(`fsync queue/${this.id}`, () => fdatasync(this.fd)) : Promise.resolve();
    const name = this.dirs.queueSync.sync().catch((err: unknown) => {
      throw SpoolError.fromFs(err, `fsync the spool after queueing ${this.id}`);
    });
    this.dirs.waitingForDisk?.();
    const synced = await Promise.allSettled([data, name]);
    let error = synced.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason as SpoolError | undefined;
    if (withData) {
      // After a sync error the close error is not the one to report.
      try {
        await this.closeFile();
      } catch (err) {
        error ??= SpoolError.fromFs(err, `close queue/${this.id}`);
      }
    }
    if (!error) return;
    try {
      await rename(this.queuePath, this.tmpPath);
    } catch (undoErr) {
      error.message += `; it stays queued (${(undoErr as Error).message})`;
    }
    throw error;
  }

  private async closeFile(): Promise<void> {
    if (this.fileClosed) return;
    this.fileClosed = true;
    fs.closeSync(this.fd);
  }

  private async discard(): Promise<void> {
    if (this.committing) await this.committing.catch(() => undefined); // its own caller gets that error
    if (this.state === 'committed') return;
    this.state = 'aborted';
    await this.writer.idle();
    // A close error here concerns bytes we are throwing away: nothing to report.
    await this.closeFile().catch(() => undefined);
    await fsStep(`remove tmp/${this.id}`, () => Promise.all([rm(this.tmpPath, { force: true }), rm(this.prefixedPath, { force: true })]));
  }

  private closedError(doing: string): SpoolError {
    return new SpoolError(SPOOL_CODES.closed, `spool: cannot ${doing} receipt ${this.id}: it is ${this.state}`);
  }
}

// One message being received: its bytes stream into tmp/<id>/message while
// the DATA arrives, and commit() makes it durable and visible in queue/ with
// one atomic rename. Only after commit() resolves may the server answer
// "250 2.0.0 Ok: queued as <id>" (RFC 5321 §4.1.1.4, §6.1).

import type { FileHandle } from 'node:fs/promises';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { validateEnvelope, type Envelope } from './envelope.js';
import { FileWriter } from './file-writer.js';
import { fsyncDir, prependDurably, writeFileDurably } from './fsync.js';
import { SPOOL_CODES, SpoolError, fsStep } from './spool-error.js';

/** The spool's two directories, absolute. */
export interface ReceiptDirs {
  readonly tmp: string;
  readonly queue: string;
}

type ReceiptState = 'receiving' | 'committing' | 'committed' | 'failed' | 'aborted';

export class Receipt {
  private state: ReceiptState = 'receiving';
  private bytes = 0;
  private readonly writer: FileWriter;
  private fileClosed?: Promise<void>;
  private committing?: Promise<void>;
  private aborting?: Promise<void>;

  /** Made by Spool.beginReceipt(), which created tmp/<id>/ and opened `file` as tmp/<id>/message. */
  constructor(
    readonly id: string,
    private readonly dirs: ReceiptDirs,
    private readonly file: FileHandle,
  ) {
    this.writer = new FileWriter(file, `tmp/${id}/message`);
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
   * Sets size to the bytes written, stores the envelope, fsyncs the files and
   * tmp/<id>/, renames tmp/<id> to queue/<id>, fsyncs queue/. When it
   * resolves the message is durable and visible; when it rejects (SpoolError)
   * nothing is visible in queue/ and the caller should abort().
   * `prefix`: header fields that go in front of the message, known only now
   * that it is complete (DKIM-Signature fields, src/dkim/).
   */
  commit(envelope: Omit<Envelope, 'size'>, prefix?: Buffer): Promise<void> {
    if (this.state !== 'receiving') return Promise.reject(this.closedError('commit'));
    this.state = 'committing';
    this.committing = this.store(envelope, prefix).then(
      () => { this.state = 'committed'; },
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

  private get tmpDir(): string {
    return join(this.dirs.tmp, this.id);
  }

  private async store(envelope: Omit<Envelope, 'size'>, prefix: Buffer | undefined): Promise<void> {
    const env = validateEnvelope({ ...envelope, size: this.bytes + (prefix?.length ?? 0) });
    if (env.id !== this.id) {
      throw new SpoolError(SPOOL_CODES.badEnvelope, `spool: envelope id ${env.id} given to receipt ${this.id}`);
    }
    // Both files are flushed at once: each fsync waits on the disk, and
    // neither needs the other. Both are on disk before the rename.
    const [message, envelopeFile] = await Promise.allSettled([
      this.flushMessage(prefix),
      fsStep(`write tmp/${this.id}/envelope.json`, () =>
        writeFileDurably(join(this.tmpDir, 'envelope.json'), JSON.stringify(env, null, 2) + '\n', 'wx')),
    ]);
    if (message.status === 'rejected') throw message.reason;
    if (envelopeFile.status === 'rejected') throw envelopeFile.reason;
    await fsStep(`fsync tmp/${this.id}/`, () => fsyncDir(this.tmpDir));
    await fsStep(`rename tmp/${this.id} to queue/${this.id}`, () => rename(this.tmpDir, join(this.dirs.queue, this.id)));
    await this.syncRename();
  }

  /** Every byte written and on disk (after the prefix, if any), and the file closed. */
  private async flushMessage(prefix: Buffer | undefined): Promise<void> {
    try {
      await this.writer.flush();
      await fsStep(`fsync tmp/${this.id}/message`, () => this.file.sync());
    } catch (err) {
      // The write or fsync error is the one to report (ENOSPC → 452), not a close error after it.
      await this.closeFile().catch(() => undefined);
      throw err;
    }
    await fsStep(`close tmp/${this.id}/message`, () => this.closeFile());
    if (prefix?.length) {
      await fsStep(`prepend to tmp/${this.id}/message`, () => prependDurably(join(this.tmpDir, 'message'), prefix));
    }
  }

  /**
   * Until queue/ is synced the rename may not survive a crash, so we must not
   * report success. Moving the message back keeps it invisible: the client
   * gets 451 and sends it again. If even that fails it stays queued, and a
   * duplicate is possible, which RFC 5321 §6.1 prefers to a loss.
   */
  private async syncRename(): Promise<void> {
    try {
      // The new name in queue/ is what must survive; the old name's removal
      // from tmp/ needs no sync of its own (a leftover there is cleaned at start).
      await fsyncDir(this.dirs.queue);
    } catch (err) {
      const error = SpoolError.fromFs(err, `fsync the spool after queueing ${this.id}`);
      try {
        await rename(join(this.dirs.queue, this.id), this.tmpDir);
      } catch (undoErr) {
        error.message += `; it stays queued (${(undoErr as Error).message})`;
      }
      throw error;
    }
  }

  private closeFile(): Promise<void> {
    this.fileClosed ??= this.file.close();
    return this.fileClosed;
  }

  private async discard(): Promise<void> {
    if (this.committing) await this.committing.catch(() => undefined); // its own caller gets that error
    if (this.state === 'committed') return;
    this.state = 'aborted';
    await this.writer.idle();
    // A close error here concerns bytes we are throwing away: nothing to report.
    await this.closeFile().catch(() => undefined);
    await fsStep(`remove tmp/${this.id}`, () => rm(this.tmpDir, { recursive: true, force: true }));
  }

  private closedError(doing: string): SpoolError {
    return new SpoolError(SPOOL_CODES.closed, `spool: cannot ${doing} receipt ${this.id}: it is ${this.state}`);
  }
}

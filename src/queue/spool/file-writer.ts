// Appends chunks to an open file, in order, with back-pressure like a stream's
// write()/'drain', but without 'error' events: the first write error is kept
// (and later chunks dropped) until flush() reports it. An SMTP server must
// read the DATA to its end before it may answer (RFC 5321 §4.1.1.4), so a
// full disk in the middle of a message must not stop or crash anything.

import type { FileHandle } from 'node:fs/promises';
import { SpoolError } from './spool-error.js';

/** Bytes handed over but not yet written above which write() asks the caller to wait. */
const HIGH_WATER_MARK = 64 * 1024;

export class FileWriter {
  private unwritten = 0;
  private written: Promise<void> = Promise.resolve();
  private drainWaiters: (() => void)[] = [];
  private firstError?: SpoolError;

  constructor(
    private readonly file: FileHandle,
    /** For error messages, e.g. "tmp/<id>/message". */
    private readonly name: string,
  ) {}

  /** The first write error, once there was one. */
  get failed(): SpoolError | undefined {
    return this.firstError;
  }

  /** Queues a chunk. False: wait for waitForDrain() before writing more. */
  write(chunk: Buffer): boolean {
    if (this.firstError) return true;
    this.unwritten += chunk.length;
    this.written = this.written.then(() => this.writeChunk(chunk));
    return this.unwritten < HIGH_WATER_MARK;
  }

  /** Resolves once write() would accept more (or writing has failed). */
  waitForDrain(): Promise<void> {
    if (this.unwritten < HIGH_WATER_MARK || this.firstError) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Resolves when no chunk is being written; never rejects. */
  idle(): Promise<void> {
    return this.written;
  }

  /** Waits for every queued chunk to be written; rejects with the first write error. */
  async flush(): Promise<void> {
    await this.written;
    if (this.firstError) throw this.firstError;
  }

  private async writeChunk(chunk: Buffer): Promise<void> {
    try {
      let offset = 0;
      while (!this.firstError && offset < chunk.length) {
        const { bytesWritten } = await this.file.write(chunk, offset, chunk.length - offset);
        offset += bytesWritten;
      }
    } catch (err) {
      this.firstError = SpoolError.fromFs(err, `write ${this.name}`);
    } finally {
      this.unwritten -= chunk.length;
      if (this.unwritten < HIGH_WATER_MARK || this.firstError) this.wakeDrainWaiters();
    }
  }

  private wakeDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

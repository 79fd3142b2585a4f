// Appends chunks to an open file, in order, with back-pressure like a stream's
// write()/'drain', but without 'error' events: the first write error is kept
// (and later chunks dropped) until finish() reports it. An SMTP server must
// read the DATA to its end before it may answer (RFC 5321 §4.1.1.4), so a
// full disk in the middle of a message must not stop or crash anything.
//
// Chunks are gathered in memory up to HIGH_WATER_MARK and written together
// (one writev). A message that never outgrew that is written at the end with
// one synchronous writev: a few microseconds into the page cache, cheaper
// than a trip through libuv's thread pool (docs/queue.md).

import fs from 'node:fs';
import { promisify } from 'node:util';
import { SpoolError } from './spool-error.js';

/** Bytes gathered before they are written, and unwritten bytes above which write() asks the caller to wait. */
const HIGH_WATER_MARK = 64 * 1024;
/** Linux takes at most 1024 buffers per writev (IOV_MAX). */
const MAX_BUFFERS_PER_WRITE = 1024;
const writev = promisify(fs.writev);

export class FileWriter {
  private gathered: Buffer[] = [];
  private gatheredBytes = 0;
  /** Handed to the file but not written yet. */
  private unwritten = 0;
  private written: Promise<void> = Promise.resolve();
  private drainWaiters: (() => void)[] = [];
  private firstError?: SpoolError;
  private lastByte = -1;
  private startedWriting = false;

  constructor(
    /** An open file descriptor, owned by the caller. */
    private readonly fd: number,
    /** For error messages, e.g. "tmp/<id>". */
    private readonly name: string,
  ) {}

  /** The first write error, once there was one. */
  get failed(): SpoolError | undefined {
    return this.firstError;
  }

  /** The last byte given to write(), -1 before any. */
  get lastByteWritten(): number {
    return this.lastByte;
  }

  /** Queues a chunk. False: wait for waitForDrain() before writing more. */
  write(chunk: Buffer): boolean {
    if (this.firstError || chunk.length === 0) return true;
    this.lastByte = chunk[chunk.length - 1]!;
    this.gathered.push(chunk);
    this.gatheredBytes += chunk.length;
    if (this.gatheredBytes >= HIGH_WATER_MARK) this.writeGathered();
    return this.unwritten < HIGH_WATER_MARK;
  }

  /**
   * Puts bytes in front of everything written so far, if none of it has
   * reached the file yet (true); false once some has.
   */
  prepend(prefix: Buffer): boolean {
    if (this.startedWriting) return false;
    this.gathered.unshift(prefix);
    this.gatheredBytes += prefix.length;
    return true;
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

  /** Writes what is gathered and then `last`; rejects with the first write error. */
  async finish(last: Buffer): Promise<void> {
    if (!this.firstError) {
      this.gathered.push(last);
      this.gatheredBytes += last.length;
      if (this.startedWriting) this.writeGathered();
      else this.writeGatheredNow();
    }
    await this.written;
    if (this.firstError) throw this.firstError;
  }

  /** Nothing is in flight: everything in one synchronous writev. */
  private writeGatheredNow(): void {
    this.startedWriting = true;
    let pending = this.gathered;
    this.gathered = [];
    this.gatheredBytes = 0;
    try {
      while (pending.length > 0) {
        const batch = pending.slice(0, MAX_BUFFERS_PER_WRITE);
        const bytesWritten = fs.writevSync(this.fd, batch);
        if (bytesWritten === 0) throw new Error('the file took no bytes');
        pending = [...skipBytes(batch, bytesWritten), ...pending.slice(MAX_BUFFERS_PER_WRITE)];
      }
    } catch (err) {
      this.firstError = SpoolError.fromFs(err, `write ${this.name}`);
    }
  }

  private writeGathered(): void {
    this.startedWriting = true;
    const buffers = this.gathered;
    const bytes = this.gatheredBytes;
    this.gathered = [];
    this.gatheredBytes = 0;
    this.unwritten += bytes;
    this.written = this.written.then(() => this.writeAll(buffers, bytes));
  }

  private async writeAll(buffers: Buffer[], bytes: number): Promise<void> {
    try {
      let pending = buffers;
      while (!this.firstError && pending.length > 0) {
        const batch = pending.slice(0, MAX_BUFFERS_PER_WRITE);
        const { bytesWritten } = await writev(this.fd, batch);
        if (bytesWritten === 0) throw new Error('the file took no bytes');
        pending = [...skipBytes(batch, bytesWritten), ...pending.slice(MAX_BUFFERS_PER_WRITE)];
      }
    } catch (err) {
      this.firstError = SpoolError.fromFs(err, `write ${this.name}`);
    } finally {
      this.unwritten -= bytes;
      if (this.unwritten < HIGH_WATER_MARK || this.firstError) this.wakeDrainWaiters();
    }
  }

  private wakeDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** What is left of `buffers` after the first `count` bytes were written (a short write). */
function skipBytes(buffers: Buffer[], count: number): Buffer[] {
  let skip = count;
  const rest: Buffer[] = [];
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length;
      continue;
    }
    rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
    skip = 0;
  }
  return rest;
}

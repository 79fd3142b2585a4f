// The durable on-disk queue. A message is visible iff its directory is in
// queue/; everything in tmp/ is work in progress or being removed, and what a
// crash leaves there is deleted at the next open. Every change is one rename
// followed by an fsync of the directories involved, so a crash at any point
// leaves either the old state or the new one (RFC 5321 §6.1).
//
//   <spool>/tmp/<id>/message, envelope.json   a receipt in progress
//   <spool>/tmp/<id>.removed/                  a message being removed
//   <spool>/queue/<id>/message, envelope.json  a committed message

import type { ReadStream } from 'node:fs';
import { chmod, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { validateEnvelope, type Envelope } from './envelope.js';
import { fsyncDir, writeFileDurably } from './fsync.js';
import { isQueueId, newQueueId } from './queue-id.js';
import { Receipt } from './receipt.js';
import { SPOOL_CODES, SpoolError, fsStep } from './spool-error.js';
import { checkSpoolOwnership, createSpoolReadStream, openSpoolFile } from './spool-safety.js';

export { Receipt } from './receipt.js';
export { SPOOL_CODES, SpoolError } from './spool-error.js';
export { UnsafeSpoolError, checkSpoolOwnership } from './spool-safety.js';

/** Owner only: queued mail is private (and may hold AUTH identities). */
const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
/** How far readMessageHead looks for the end of the header section by default. */
const DEFAULT_HEAD_BYTES = 64 * 1024;
const HEAD_READ_BYTES = 16 * 1024;
/** Two processes making the same id in the same millisecond is rare; a few tries settle it. */
const ID_TRIES = 3;
const CRLF = Buffer.from('\r\n');
const EMPTY_LINE = Buffer.from('\r\n\r\n');

/** What listAll() found in queue/. */
export interface SpoolListing {
  /** Committed messages with a valid envelope, oldest first. */
  envelopes: Envelope[];
  /**
   * Entries of queue/ that are not a readable message (a bad name, a missing
   * or invalid envelope.json), each with why. Left in place for the operator.
   */
  corrupt: { name: string; error: SpoolError }[];
}

export class Spool {
  /** Changes to one id (rewrites, removal) run in turn, so two never share envelope.json.new. */
  private readonly envelopeWrites = new Map<string, Promise<void>>();

  private constructor(
    /** The spool directory, absolute. */
    readonly dir: string,
  ) {}

  /**
   * Opens (creating if needed) the spool at `dir` and deletes what interrupted
   * receipts and removals left in tmp/. `cleaned` is how many entries of tmp/
   * were deleted, for the caller to log. A spool that is not ours alone is
   * refused with UnsafeSpoolError (spool-safety.ts).
   */
  static async open(dir: string): Promise<{ spool: Spool; cleaned: number }> {
    const spool = new Spool(resolve(dir));
    return fsStep(`open the spool at ${spool.dir}`, async () => {
      await mkdir(spool.dir, { recursive: true, mode: DIR_MODE });
      // Before anything is created in it or changed: someone else's directory stays untouched.
      await checkSpoolOwnership(spool.dir);
      for (const path of [spool.dir, spool.tmpDir, spool.queueDir]) {
        await mkdir(path, { recursive: true, mode: DIR_MODE });
        await chmod(path, DIR_MODE);
      }
      await fsyncDir(spool.dir);
      const cleaned = await spool.cleanTmp();
      return { spool, cleaned };
    });
  }

  /**
   * Uses the spool at `dir` as it is, creating and deleting nothing: for the
   * queue commands, which may run beside a relay that has it open.
   */
  static attach(dir: string): Spool {
    return new Spool(resolve(dir));
  }

  /** Starts receiving a message under a new id: creates tmp/<id>/ and opens tmp/<id>/message. */
  async beginReceipt(): Promise<Receipt> {
    for (let tries = 1; ; tries++) {
      const id = newQueueId();
      const dir = join(this.tmpDir, id);
      try {
        await mkdir(dir, { mode: DIR_MODE });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST' && tries < ID_TRIES) continue;
        throw SpoolError.fromFs(err, `create tmp/${id}`);
      }
      try {
        const file = await open(join(dir, 'message'), 'wx', FILE_MODE);
        return new Receipt(id, { tmp: this.tmpDir, queue: this.queueDir }, file);
      } catch (err) {
        const error = SpoolError.fromFs(err, `create tmp/${id}/message`);
        await rm(dir, { recursive: true, force: true }).catch(() => undefined); // open's error is the one to report; open() cleans tmp/ anyway
        throw error;
      }
    }
  }

  /** Committed ids, oldest first. Reads no envelope. */
  async list(): Promise<string[]> {
    const entries = await fsStep('list queue/', () => readdir(this.queueDir, { withFileTypes: true }));
    return entries
      .filter((e) => e.isDirectory() && isQueueId(e.name))
      .map((e) => e.name)
      .sort();
  }

  /**
   * Every committed message's envelope, oldest first, and what could not be
   * read, without failing on it: one bad entry must not stop the queue.
   * Throws only if queue/ itself cannot be read.
   */
  async listAll(): Promise<SpoolListing> {
    const entries = await fsStep('list queue/', () => readdir(this.queueDir, { withFileTypes: true }));
    const listing: SpoolListing = { envelopes: [], corrupt: [] };
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (!entry.isDirectory() || !isQueueId(entry.name)) {
        const error = new SpoolError(SPOOL_CODES.badId, `spool: queue/${entry.name} is not a message directory`);
        listing.corrupt.push({ name: entry.name, error });
        continue;
      }
      try {
        listing.envelopes.push(await this.readEnvelope(entry.name));
      } catch (err) {
        const error = SpoolError.fromFs(err, `read queue/${entry.name}`);
        // Removed since readdir: gone, not corrupt.
        if (error.code === 'ENOENT' && !(await this.exists(entry.name))) continue;
        listing.corrupt.push({ name: entry.name, error });
      }
    }
    return listing;
  }

  /** The envelope of a committed message. SpoolError 'ENOENT' if it is not queued, 'EBADENVELOPE' if unreadable. */
  async readEnvelope(id: string): Promise<Envelope> {
    const path = `queue/${checkId(id)}/envelope.json`;
    const text = await fsStep(`read ${path}`, () => readSpoolFile(join(this.dir, path)));
    try {
      const env = validateEnvelope(JSON.parse(text));
      if (env.id !== id) throw new SpoolError(SPOOL_CODES.badEnvelope, `spool: bad envelope: id is ${env.id}`);
      return env;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new SpoolError(SPOOL_CODES.badEnvelope, `${message} (in ${path})`, { cause: err });
    }
  }

  /**
   * Replaces the envelope of a committed message atomically: envelope.json.new
   * is written and fsynced, renamed over envelope.json, and the directory
   * fsynced. A reader sees the old envelope or the new one, never a mix.
   */
  async writeEnvelope(env: Envelope): Promise<void> {
    validateEnvelope(env);
    await this.inTurn(env.id, () => this.replaceEnvelope(env));
  }

  /**
   * Read-modify-write of an envelope, in turn with every other write to the
   * same id in this process: the worker recording outcomes and an operator
   * holding the message cannot overwrite each other's change.
   * Resolves with the envelope as written.
   */
  async update(id: string, change: (env: Envelope) => void): Promise<Envelope> {
    checkId(id);
    return this.inTurn(id, async () => {
      const env = await this.readEnvelope(id);
      change(env);
      validateEnvelope(env);
      await this.replaceEnvelope(env);
      return env;
    });
  }

  /** Runs `work` once every earlier change to the same id in this process has settled. */
  private inTurn<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.envelopeWrites.get(id) ?? Promise.resolve();
    // An earlier change's error belongs to its own caller.
    const next = previous.then(work);
    const settled = next.then(() => undefined, () => undefined);
    this.envelopeWrites.set(id, settled);
    void settled.then(() => {
      if (this.envelopeWrites.get(id) === settled) this.envelopeWrites.delete(id);
    });
    return next;
  }

  /** Where the committed message's bytes are: queue/<id>/message. */
  messagePath(id: string): string {
    return join(this.queueDir, checkId(id), 'message');
  }

  /** The message bytes, for delivery. A missing (or unsafe) message shows as the stream's 'error'. */
  openMessage(id: string): ReadStream {
    return createSpoolReadStream(this.messagePath(id));
  }

  /**
   * The header section of the message (RFC 5322 §2.1): the bytes before the
   * first empty line, so it ends with the CRLF of the last header field; the
   * first maxBytes bytes if no empty line comes before them.
   */
  async readMessageHead(id: string, maxBytes: number = DEFAULT_HEAD_BYTES): Promise<Buffer> {
    const path = this.messagePath(id);
    const file = await fsStep(`open queue/${id}/message`, () => openSpoolFile(path));
    try {
      const head = Buffer.alloc(maxBytes);
      let length = 0;
      while (length < maxBytes) {
        const { bytesRead } = await fsStep(`read queue/${id}/message`, () =>
          file.read(head, length, Math.min(HEAD_READ_BYTES, maxBytes - length), null));
        if (bytesRead === 0) break;
        const searchFrom = Math.max(0, length - (EMPTY_LINE.length - 1));
        length += bytesRead;
        const end = headerSectionEnd(head.subarray(0, length), searchFrom);
        if (end >= 0) return Buffer.from(head.subarray(0, end));
      }
      return Buffer.from(head.subarray(0, length));
    } finally {
      await file.close();
    }
  }

  /**
   * Removes a committed message: renamed to tmp/<id>.removed (invisible from
   * then on), queue/ fsynced, then deleted. SpoolError 'ENOENT' if it is not queued.
   */
  async remove(id: string): Promise<void> {
    const removed = join(this.tmpDir, `${checkId(id)}.removed`);
    // In turn with envelope rewrites of the same id, so none writes into a half-removed message.
    await this.inTurn(id, async () => {
      await fsStep(`move queue/${id} to tmp/${id}.removed`, () => rename(join(this.queueDir, id), removed));
      await fsStep('fsync queue/', () => fsyncDir(this.queueDir));
    });
    await fsStep(`delete tmp/${id}.removed`, () => rm(removed, { recursive: true, force: true }));
  }

  /** Whether the id is committed. */
  async exists(id: string): Promise<boolean> {
    try {
      return (await stat(join(this.queueDir, checkId(id)))).isDirectory();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw SpoolError.fromFs(err, `look for queue/${id}`);
    }
  }

  private get tmpDir(): string {
    return join(this.dir, 'tmp');
  }

  private get queueDir(): string {
    return join(this.dir, 'queue');
  }

  private replaceEnvelope(env: Envelope): Promise<void> {
    const dir = join(this.queueDir, env.id);
    const next = join(dir, 'envelope.json.new');
    return fsStep(`rewrite queue/${env.id}/envelope.json`, async () => {
      await stat(dir); // ENOENT for a message that is not queued, rather than a stray file anywhere
      await writeFileDurably(next, JSON.stringify(env, null, 2) + '\n', 'w');
      await rename(next, join(dir, 'envelope.json'));
      await fsyncDir(dir);
    });
  }

  /** Deletes everything in tmp/: no process but ours writes there, and we have just started. */
  private async cleanTmp(): Promise<number> {
    const names = await readdir(this.tmpDir);
    for (const name of names) await rm(join(this.tmpDir, name), { recursive: true, force: true });
    if (names.length > 0) await fsyncDir(this.tmpDir);
    return names.length;
  }
}

async function readSpoolFile(path: string): Promise<string> {
  const file = await openSpoolFile(path);
  try {
    return await file.readFile('utf8');
  } finally {
    await file.close();
  }
}

/** An id that is not a queue id could name a path outside the spool ("../x"): refuse it. */
function checkId(id: string): string {
  if (!isQueueId(id)) throw new SpoolError(SPOOL_CODES.badId, `spool: not a queue id: ${JSON.stringify(id)}`);
  return id;
}

/** Index just past the CRLF ending the last header field, or -1 while no empty line is seen. */
function headerSectionEnd(buf: Buffer, searchFrom: number): number {
  if (buf.length >= CRLF.length && buf.subarray(0, CRLF.length).equals(CRLF)) return 0;
  const at = buf.indexOf(EMPTY_LINE, searchFrom);
  return at < 0 ? -1 : at + CRLF.length;
}

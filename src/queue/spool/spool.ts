// The durable on-disk queue (docs/queue.md has the whole design). A message
// is visible iff its file is in queue/; everything in tmp/ is work in
// progress, and what a crash leaves there is deleted at the next open.
//
//   <spool>/tmp/<id>           a receipt in progress, or a state file being written
//   <spool>/queue/<id>         a committed message: its bytes, then its envelope as accepted
//   <spool>/state/<id>         its envelope now, once it changed (a deferral, a hold)
//
// A message delivered at the first try is written once and unlinked: no state
// file. Every change is one rename or link followed by an fsync of the
// directory involved, shared by all changes made at that moment (group
// commit), so a crash at any point leaves either the old state or the new one
// (RFC 5321 §6.1). Removals alone are not synced, as Postfix does not sync
// them: a crash just after one may bring a delivered message back, a
// duplicate, never a loss.

import { existsSync } from 'node:fs';
import { chmod, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { validateEnvelope, type Envelope } from './envelope.js';
import { GroupSync, fsyncDirectory } from './group-sync.js';
import { isQueueId } from './queue-id.js';
import { CREATE_FLAGS, FILE_MODE, envelopeLine, parseEnvelope, readFileSafelySync, readTrailer } from './queue-file.js';
import { upgradeLegacyMessages, type UpgradeResult } from './legacy-upgrade.js';
import { Receipt, type ReceiptDirs } from './receipt.js';
import { SpareTmpFile, createTmpFile } from './tmp-file.js';
import { SPOOL_CODES, SpoolError, fsStep, fsStepSync } from './spool-error.js';
import { checkSpoolOwnership } from './spool-safety.js';
import { DEFAULT_HEAD_BYTES, headerSection, messageBytes } from './message-bytes.js';
import { removeStoredTranscripts, transcriptDir } from '../../trace/transcript-files.js';
import { unlinkInBatch } from './unlink-batch.js';

export { Receipt } from './receipt.js';
export { SPOOL_CODES, SpoolError } from './spool-error.js';
export { UnsafeSpoolError, checkSpoolOwnership } from './spool-safety.js';

/** Owner only: queued mail is private (and may hold AUTH identities). */
const DIR_MODE = 0o700;
/** Envelopes read synchronously at start-up before the event loop gets a turn (the greeting, other work). */
const READS_PER_TURN = 128;
/** Envelopes read at once at start-up: enough to keep libuv's thread pool busy. */
const PARALLEL_READS = 32;

/** One entry of queue/ as scan() reads it: an envelope (and where it came from), or why it could not be read. */
export type ScannedEntry = { envelope: Envelope; hasState: boolean } | { name: string; error: SpoolError };

/** What listAll() found in queue/. */
export interface SpoolListing {
  /** Committed messages with a valid envelope, oldest first. */
  envelopes: Envelope[];
  /**
   * Entries of queue/ that are not a readable message (a bad name, a
   * missing or invalid envelope), each with why. Left in place for the operator.
   */
  corrupt: { name: string; error: SpoolError }[];
  /** Ids whose envelope came from a state file (state/<id>). */
  withState: ReadonlySet<string>;
}

export class Spool {
  /** Changes to one id (state writes, removal) run in turn, so two never share tmp/<id>.state. */
  private readonly envelopeWrites = new Map<string, Promise<void>>();
  private readonly queueSync: GroupSync;
  private readonly stateSync: GroupSync;
  /** Receipts renamed into queue/ whose syncs are running (receipt.ts): not listed yet. */
  private readonly committing = new Set<string>();
  private spare?: SpareTmpFile;
  /** Told whenever a receipt's syncs have started (onClientWaitsForDisk). */
  private waitingForDisk: () => void = () => undefined;
  /** Where every receipt goes: made once, not for each message. */
  private readonly receiptDirs: ReceiptDirs;
  /** Whether a removal looks for the message's stored transcripts (storesNoTranscripts). */
  private transcriptsPossible = true;

  private constructor(
    /** The spool directory, absolute. */
    readonly dir: string,
  ) {
    this.queueSync = GroupSync.ofDirectory(this.queueDir);
    this.stateSync = GroupSync.ofDirectory(this.stateDir);
    this.receiptDirs = {
      tmp: this.tmpDir,
      queue: this.queueDir,
      queueSync: this.queueSync,
      committing: this.committing,
      waitingForDisk: () => this.waitingForDisk(),
    };
  }

  /**
   * Opens (creating if needed) the spool at `dir` and deletes what interrupted
   * receipts and removals left behind. `cleaned` is how many leftovers were
   * deleted, for the caller to log. A spool that is not ours alone is
   * refused with UnsafeSpoolError (spool-safety.ts). Messages in the previous
   * release's directory layout are converted first (`upgraded`, for the
   * caller to log; legacy-upgrade.ts).
   */
  static async open(dir: string): Promise<{ spool: Spool; cleaned: number; upgraded: UpgradeResult }> {
    const spool = new Spool(resolve(dir));
    return fsStep(`open the spool at ${spool.dir}`, async () => {
      await mkdir(spool.dir, { recursive: true, mode: DIR_MODE });
      // Before anything is created in it or changed: someone else's directory stays untouched.
      await checkSpoolOwnership(spool.dir);
      for (const path of [spool.dir, spool.tmpDir, spool.queueDir, spool.stateDir]) {
        await mkdir(path, { recursive: true, mode: DIR_MODE });
        await chmod(path, DIR_MODE);
      }
      await fsyncDirectory(spool.dir);
      const upgraded = await upgradeLegacyMessages({ spool: spool.dir, tmp: spool.tmpDir, queue: spool.queueDir });
      const cleaned = await spool.cleanTmp() + await spool.cleanOrphanStates();
      return { spool, cleaned, upgraded };
    });
  }

  /**
   * Uses the spool at `dir` as it is, creating and deleting nothing: for the
   * queue commands, which may run beside a relay that has it open.
   */
  static attach(dir: string): Spool {
    return new Spool(resolve(dir));
  }

  /**
   * From now on keeps one tmp file made ahead of time for the next message
   * (tmp-file.ts): for a relay, which receives message after message. close()
   * removes it.
   */
  keepSpareTmpFile(): void {
    this.spare ??= new SpareTmpFile(this.tmpDir);
  }

  /**
   * Calls `listener` each time a message's syncs have started (receipt.ts):
   * its client now waits a millisecond or two for the disk, with nothing for
   * the event loop to do for it meanwhile. The relay's delivery worker
   * starts new mail then (src/queue/delivery/new-mail-start.ts).
   */
  onClientWaitsForDisk(listener: () => void): void {
    this.waitingForDisk = listener;
  }

  /**
   * This process stores no transcripts (src/trace/; `trace.enabled` off): a
   * removal then looks for a message's transcripts only if transcripts/ is
   * there now, left by an earlier run that stored them. A relay without
   * them saves a lookup per message.
   */
  storesNoTranscripts(): void {
    this.transcriptsPossible = existsSync(transcriptDir(this.dir));
  }

  /** Removes the spare tmp file, if there is one, and closes the directories kept open for syncs. */
  async close(): Promise<void> {
    await this.spare?.close();
    await Promise.all([this.queueSync.close(), this.stateSync.close()]);
  }

  /** Starts receiving a message under a new id: creates tmp/<id>, or takes the spare. */
  async beginReceipt(): Promise<Receipt> {
    const { id, fd } = await (this.spare ? this.spare.take() : createTmpFile(this.tmpDir));
    return new Receipt(id, this.receiptDirs, fd);
  }

  /** Committed ids, oldest first. Reads no envelope. */
  async list(): Promise<string[]> {
    const names = await fsStep('list queue/', () => readdir(this.queueDir));
    return names.filter(isQueueId).sort();
  }

  /**
   * Every committed message's envelope, oldest first, and what could not be
   * read, without failing on it: one bad entry must not stop the queue.
   * Each envelope is read once: from state/<id> if the message has one, else
   * from the end of queue/<id>. Throws only if queue/ itself cannot be read.
   */
  async listAll(): Promise<SpoolListing> {
    const envelopes: Envelope[] = [];
    const corrupt: SpoolListing['corrupt'] = [];
    const withState = await this.scan((entry) => {
      if ('error' in entry) corrupt.push(entry);
      else envelopes.push(entry.envelope);
    });
    return { envelopes, corrupt, withState };
  }

  /**
   * Reads the committed messages one by one, oldest first, and hands each
   * envelope (or why it could not be read) to `each`, holding none: the
   * running worker keeps a few fields of each, not 100 000 envelopes at once.
   * Names for which `skip` says true are not read at all (the worker's look
   * for messages it does not know yet: O(new), not O(queue)). Between
   * batches of reads the event loop gets a turn. Resolves with the names in
   * state/ (none when every name was skipped: then state/ is not listed).
   * Throws only if queue/ itself cannot be read.
   */
  async scan(each: (entry: ScannedEntry) => void, skip?: (name: string) => boolean): Promise<ReadonlySet<string>> {
    let names = await fsStep('list queue/', () => readdir(this.queueDir));
    if (skip) names = names.filter((name) => !skip(name));
    names.sort();
    // Nothing new: state/ need not be listed either.
    const states = new Set(names.length > 0 || !skip ? await this.stateNames() : []);
    for (let i = 0; i < names.length; i++) {
      const entry = this.readListed(names[i]!, states);
      if (entry !== undefined) each(entry);
      // Each read takes microseconds; between batches the event loop serves the listeners.
      if (i % READS_PER_TURN === READS_PER_TURN - 1) await new Promise((resolve) => setImmediate(resolve));
    }
    return states;
  }

  /** One entry of queue/ as scan() reports it; undefined if it was removed meanwhile. */
  private readListed(name: string, states: ReadonlySet<string>): ScannedEntry | undefined {
    if (!isQueueId(name)) {
      return { name, error: new SpoolError(SPOOL_CODES.badId, `spool: queue/${name} is not a message file`) };
    }
    if (this.committing.has(name)) return undefined;
    try {
      const hasState = states.has(name);
      return { envelope: this.readEnvelopeSync(name, hasState), hasState };
    } catch (err) {
      const error = SpoolError.fromFs(err, `read queue/${name}`);
      // Removed since readdir: gone, not corrupt.
      if (error.code === 'ENOENT' && !existsSync(join(this.queueDir, name))) return undefined;
      return { name, error };
    }
  }

  /** The envelope of a committed message. SpoolError 'ENOENT' if it is not queued, 'EBADENVELOPE' if unreadable. */
  async readEnvelope(id: string): Promise<Envelope> {
    checkId(id);
    let hasState: boolean;
    try {
      hasState = (await stat(this.statePath(id))).isFile();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw SpoolError.fromFs(err, `look for state/${id}`);
      hasState = false;
    }
    return this.readEnvelopeOf(id, hasState);
  }

  private async readEnvelopeOf(id: string, hasState: boolean): Promise<Envelope> {
    return this.readEnvelopeSync(id, hasState);
  }

  /**
   * One envelope, read with synchronous calls (microseconds on the page
   * cache): from state/<id> when the caller knows there is one, else from the
   * end of queue/<id>. SpoolError as readEnvelope.
   */
  readEnvelopeSync(id: string, hasState: boolean): Envelope {
    checkId(id);
    if (!hasState) return fsStepSync(`read queue/${id}`, () => readTrailer(join(this.queueDir, id), id, `queue/${id}`));
    const text = fsStepSync(`read state/${id}`, () => readFileSafelySync(this.statePath(id)));
    return parseEnvelope(text.toString('utf8'), id, `state/${id}`);
  }

  /**
   * Replaces the envelope of a committed message atomically: tmp/<id>.state
   * is written and fsynced, renamed to state/<id>, and state/ fsynced (a
   * group sync). A reader sees the old envelope or the new one, never a mix.
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

  /**
   * The queue file: queue/<id>, the message's bytes followed by its envelope
   * line (queue-file.ts). For the message alone: readMessage(), openMessage().
   */
  queueFilePath(id: string): string {
    return join(this.queueDir, checkId(id));
  }

  /**
   * The message bytes, for delivery: the first `size` bytes of queue/<id>.
   * A missing message shows as an error thrown by the iteration.
   */
  openMessage(id: string, size: number): AsyncIterable<Buffer> {
    return messageBytes(this.queueFilePath(id), size, `queue/${id}`);
  }

  /** The whole message as stored (tests, `queue show`): its bytes without the envelope. */
  async readMessage(id: string): Promise<Buffer> {
    const env = await this.readEnvelope(id);
    const bytes = await fsStep(`read queue/${id}`, () => readSpoolFile(this.queueFilePath(id)));
    return bytes.subarray(0, env.size);
  }

  /**
   * The header section of the message (RFC 5322 §2.1): the bytes before the
   * first empty line, so it ends with the CRLF of the last header field; the
   * first maxBytes bytes if no empty line comes before them. `knownSize`
   * (the envelope's size) saves reading the envelope.
   */
  async readMessageHead(id: string, maxBytes: number = DEFAULT_HEAD_BYTES, knownSize?: number): Promise<Buffer> {
    const path = this.queueFilePath(id);
    const size = knownSize ?? (await this.readEnvelope(id)).size;
    return headerSection(path, Math.min(maxBytes, size), `queue/${id}`);
  }

  /**
   * Removes a committed message: queue/<id> is unlinked (invisible from then
   * on), then its state file if it has one, and last its stored transcripts
   * (src/trace/transcript-files.ts), which live only as long as the message.
   * The directories are not synced (see the top of this file).
   * SpoolError 'ENOENT' if it is not queued.
   */
  async remove(id: string, hasState?: boolean): Promise<void> {
    checkId(id);
    // In turn with envelope rewrites of the same id, so none writes into a half-removed message.
    await this.inTurn(id, async () => {
      await fsStep(`remove queue/${id}`, () => unlinkInBatch(join(this.queueDir, id)));
      // A state file left by a crash right here is deleted at the next open (an orphan).
      if (hasState !== false) await removeIfThere(this.statePath(id), `state/${id}`);
      if (this.transcriptsPossible) await fsStep(`remove the transcripts of ${id}`, () => removeStoredTranscripts(this.dir, id));
    });
  }

  /** Whether the id is committed. */
  async exists(id: string): Promise<boolean> {
    try {
      return (await stat(join(this.queueDir, checkId(id)))).isFile();
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

  private get stateDir(): string {
    return join(this.dir, 'state');
  }

  private statePath(id: string): string {
    return join(this.stateDir, id);
  }

  /** Names in state/; none when the directory is missing (a spool from before state/ existed). */
  private async stateNames(): Promise<string[]> {
    try {
      return await readdir(this.stateDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw SpoolError.fromFs(err, 'list state/');
    }
  }

  private replaceEnvelope(env: Envelope): Promise<void> {
    const next = join(this.tmpDir, `${env.id}.state`);
    return fsStep(`write state/${env.id}`, async () => {
      // ENOENT for a message that is not queued, rather than a stray state file.
      if (!(await stat(join(this.queueDir, env.id))).isFile()) throw new SpoolError('ENOENT', `spool: queue/${env.id} is not a message`);
      const file = await open(next, CREATE_FLAGS, FILE_MODE);
      try {
        await file.writeFile(envelopeLine(env));
        await file.datasync();
      } finally {
        await file.close();
      }
      await rename(next, this.statePath(env.id));
      await this.stateSync.sync();
    }).catch(async (err: unknown) => {
      await rm(next, { force: true });
      throw err;
    });
  }

  /** Deletes everything in tmp/: no process but ours writes there, and we have just started. */
  private async cleanTmp(): Promise<number> {
    const names = await readdir(this.tmpDir);
    for (const name of names) await rm(join(this.tmpDir, name), { recursive: true, force: true });
    if (names.length > 0) await fsyncDirectory(this.tmpDir);
    return names.length;
  }

  /** Deletes state files whose message is gone (a crash in the middle of a removal). */
  private async cleanOrphanStates(): Promise<number> {
    const queued = new Set(await readdir(this.queueDir));
    const orphans = (await this.stateNames()).filter((name) => !queued.has(name));
    for (const name of orphans) await rm(this.statePath(name), { recursive: true, force: true });
    if (orphans.length > 0) await fsyncDirectory(this.stateDir);
    return orphans.length;
  }
}

/** A whole spool file, opened as openSpoolFile opens one (no symbolic link, a regular file of ours). */
async function readSpoolFile(path: string): Promise<Buffer> {
  return readFileSafelySync(path);
}

/** Unlinks a file; false if there was none. */
async function removeIfThere(path: string, name: string): Promise<boolean> {
  try {
    await unlinkInBatch(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw SpoolError.fromFs(err, `remove ${name}`);
  }
}

/** An id that is not a queue id could name a path outside the spool ("../x"): refuse it. */
function checkId(id: string): string {
  if (!isQueueId(id)) throw new SpoolError(SPOOL_CODES.badId, `spool: not a queue id: ${JSON.stringify(id)}`);
  return id;
}

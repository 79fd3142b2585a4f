// The operator's queue commands as operations on a spool (OpenSMTPD's
// smtpctl, Postfix's postqueue/postsuper): list, show, flush, retry, delete,
// hold, release. The running relay serves them on its control socket; with
// no relay running, the command line runs them on the spool itself. Every
// change is a spool.update or spool.remove, each atomic on disk, so neither
// the worker nor a crash can see half of one.

import { mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isQueueId } from './queue-id.js';
import { SpoolError, Spool, checkSpoolOwnership } from './spool.js';
import { pendingRecipients, type Envelope } from './envelope.js';
import { CodedError } from '../../coded-error.js';

export const QUEUE_ADMIN_CODES = {
  /** A string that is not a queue id (a usage error). */
  badId: 'EBADID',
  /** A valid id that is not queued (never was, delivered, or deleted). */
  noMessage: 'ENOMSG',
  /** The spool directory is missing or cannot be read. */
  noSpool: 'ENOSPOOL',
} as const;

/** A queue operation refused: no such message, not a queue id, no spool (QUEUE_ADMIN_CODES). */
export class QueueAdminError extends CodedError {}

/** What `queue list` shows: the envelopes oldest first, and the entries that could not be read. */
export interface QueueListing {
  envelopes: Envelope[];
  corrupt: { name: string; problem: string }[];
}

/** What `queue show` shows: the envelope and the message's header section (RFC 5322 §2.1). */
export interface MessageView {
  envelope: Envelope;
  head: string;
}

/**
 * The queue commands, whoever carries them out: QueueAdmin on a spool, or
 * the control client asking the running relay. Results are plain JSON values.
 */
export interface QueueOperations {
  /** True when a running relay carries the operations out (its worker acts at once). */
  readonly live: boolean;
  list(): Promise<QueueListing>;
  show(id: string): Promise<MessageView>;
  /** Every message neither held nor captured becomes due now; returns their ids. */
  flush(): Promise<{ ids: string[] }>;
  retry(id: string): Promise<Envelope>;
  delete(id: string): Promise<{ id: string }>;
  /** Deletes every message (captured, queued and held alike); returns their ids. */
  purge(): Promise<{ ids: string[] }>;
  hold(id: string): Promise<Envelope>;
  release(id: string): Promise<Envelope>;
  /** Asks the worker to look at the queue now (after a message was put into the spool). */
  wake(): Promise<void>;
}

export interface QueueAdminOptions {
  /** Wakes the running worker; absent when no relay runs. */
  wake?: () => void;
  now?: () => Date;
}

export class QueueAdmin implements QueueOperations {
  readonly live: boolean;
  private readonly now: () => Date;

  constructor(private readonly spool: Spool, private readonly options: QueueAdminOptions = {}) {
    this.live = options.wake !== undefined;
    this.now = options.now ?? (() => new Date());
  }

  async list(): Promise<QueueListing> {
    const { envelopes, corrupt } = await this.spool.listAll();
    // Ids sort by creation time already; arrival time first keeps "oldest first" true for any id.
    envelopes.sort((a, b) => a.arrivedAt.localeCompare(b.arrivedAt) || a.id.localeCompare(b.id));
    return { envelopes, corrupt: corrupt.map(({ name, error }) => ({ name, problem: error.message })) };
  }

  async show(id: string): Promise<MessageView> {
    const envelope = await this.envelopeOf(id);
    const head = await this.onMessage(id, () => this.spool.readMessageHead(id));
    return { envelope, head: head.toString('utf8') };
  }

  async flush(): Promise<{ ids: string[] }> {
    const now = this.now();
    const ids: string[] = [];
    for (const envelope of (await this.spool.listAll()).envelopes) {
      if (envelope.held || envelope.capture) continue;
      // Already due: nothing to write.
      const due = Date.parse(envelope.nextAttemptAt) <= now.getTime() || (await this.makeDue(envelope.id, now));
      if (due) ids.push(envelope.id);
    }
    this.options.wake?.();
    return { ids };
  }

  async retry(id: string): Promise<Envelope> {
    const envelope = await this.change(id, (env) => { env.nextAttemptAt = this.now().toISOString(); });
    this.options.wake?.();
    return envelope;
  }

  /**
   * Safe during a delivery: the message leaves queue/ in one rename, and the
   * worker, finding it gone when it records the outcome, drops it without a
   * retry or a bounce. A copy the next hop already accepted stays delivered.
   */
  async delete(id: string): Promise<{ id: string }> {
    await this.onMessage(id, () => this.spool.remove(id));
    return { id };
  }

  /** Each message leaves as in delete(); one that is already gone is not counted. */
  async purge(): Promise<{ ids: string[] }> {
    const ids: string[] = [];
    for (const id of await this.spool.list()) {
      try {
        await this.spool.remove(id);
        ids.push(id);
      } catch (err) {
        if (!(err instanceof SpoolError && err.code === 'ENOENT')) throw err;
      }
    }
    return { ids };
  }

  /** The worker checks `held` before each destination, so a delivery under way finishes only its current host. */
  hold(id: string): Promise<Envelope> {
    return this.change(id, (env) => { env.held = true; });
  }

  async release(id: string): Promise<Envelope> {
    const envelope = await this.change(id, (env) => {
      env.held = false;
      env.nextAttemptAt = this.now().toISOString();
    });
    this.options.wake?.();
    return envelope;
  }

  async wake(): Promise<void> {
    this.options.wake?.();
  }

  /** Sets nextAttemptAt to now; false if the message has left the queue meanwhile. */
  private async makeDue(id: string, now: Date): Promise<boolean> {
    try {
      await this.spool.update(id, (env) => { env.nextAttemptAt = now.toISOString(); });
      return true;
    } catch (err) {
      if (err instanceof SpoolError && err.code === 'ENOENT') return false;
      throw err;
    }
  }

  private envelopeOf(id: string): Promise<Envelope> {
    return this.onMessage(id, () => this.spool.readEnvelope(id));
  }

  private change(id: string, edit: (env: Envelope) => void): Promise<Envelope> {
    return this.onMessage(id, () => this.spool.update(id, edit));
  }

  /** Runs a spool operation on one message, turning "not a queue id" and "not queued" into our codes. */
  private async onMessage<T>(id: string, run: () => Promise<T>): Promise<T> {
    if (!isQueueId(id)) throw new QueueAdminError(QUEUE_ADMIN_CODES.badId, `not a queue id: ${JSON.stringify(id)}`);
    try {
      return await run();
    } catch (err) {
      if (err instanceof SpoolError && err.code === 'ENOENT') {
        throw new QueueAdminError(QUEUE_ADMIN_CODES.noMessage, `no message ${id}`, { cause: err });
      }
      throw err;
    }
  }
}

/** Recipients still pending, over all messages: the figure on the last line of `queue list`. */
export function countPending(envelopes: readonly Envelope[]): number {
  return envelopes.reduce((sum, env) => sum + pendingRecipients(env).length, 0);
}

/**
 * A Spool object for an existing spool, without Spool.open's start-up work:
 * open() creates missing directories (a mistyped --spool would become a new,
 * empty spool) and deletes everything in tmp/, which is only safe for the
 * process that owns the spool — a running relay may be receiving there.
 * (Spool.attach, unlike Spool.open, creates and deletes nothing.)
 * A spool that is not ours alone is refused (UnsafeSpoolError), as the relay
 * refuses it: run as root, a queue command must not act on a planted queue.
 */
export async function attachSpool(dir: string): Promise<Spool> {
  const absolute = resolve(dir);
  for (const sub of ['queue', 'tmp']) {
    let isDir: boolean;
    try {
      isDir = (await stat(join(absolute, sub))).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? `${sub}/ is missing` : (err as Error).message;
      throw new QueueAdminError(QUEUE_ADMIN_CODES.noSpool, `cannot use the spool at ${absolute}: ${why}`, { cause: err });
    }
    if (!isDir) throw new QueueAdminError(QUEUE_ADMIN_CODES.noSpool, `cannot use the spool at ${absolute}: ${sub} is not a directory`);
  }
  await checkSpoolOwnership(absolute);
  return Spool.attach(absolute);
}

/**
 * Creates the spool's directories if they are missing (mode 0700, as
 * Spool.open does), deleting nothing, then attaches to it: for local
 * submission, which must work before the relay has first run.
 */
export async function attachOrCreateSpool(dir: string): Promise<Spool> {
  const absolute = resolve(dir);
  for (const path of [absolute, join(absolute, 'tmp'), join(absolute, 'queue')]) {
    try {
      await mkdir(path, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new QueueAdminError(QUEUE_ADMIN_CODES.noSpool, `cannot create the spool at ${absolute}: ${(err as Error).message}`, { cause: err });
    }
  }
  return attachSpool(absolute);
}

// The delivery worker: takes due messages from the spool, delivers each to
// its destinations (one copy per destination with all its recipients, RFC
// 5321 §4.5.4.1), records every recipient's outcome in the spool, retries
// what failed for now, and reports what failed for good. A message leaves the
// spool when every recipient is final.
//
// The spool is the truth: the worker keeps no state that a restart would
// lose. On start it picks up everything already queued.

import { EventEmitter } from 'node:events';
import { reply, replyToString } from '../../reply-codes/index.js';
import { SpoolError, type Spool } from '../spool/spool.js';
import { isFinished, pendingRecipients, type Envelope, type RecipientRecord } from '../spool/envelope.js';
import { attemptDelivery, describeOutcome, type AttemptDeps, type RecipientOutcome } from './delivery-attempt.js';
import { DeliverySlots } from './concurrency.js';
import { isExpired, nextAttemptAt, type RetryPolicy } from './scheduler.js';
import type { Logger } from '../../log.js';
import { needsSmtputf8 } from '../../protocol/client/smtputf8.js';

/** Writes each outcome into the recipient's record; deferred ones stay pending. */
function recordOutcomes(envelope: Envelope, outcomes: RecipientOutcome[], now: Date): void {
  for (const outcome of outcomes) {
    const record = envelope.recipients.find((r) => r.address === outcome.address && r.state === 'pending');
    if (!record) continue;
    record.attempts++;
    record.lastAttemptAt = now.toISOString();
    record.lastReply = replyToString(outcome.reply);
    if (outcome.remoteMta) record.remoteMta = outcome.remoteMta;
    else delete record.remoteMta;
    if (outcome.kind !== 'deferred') {
      record.state = outcome.kind;
      record.finalAt = now.toISOString();
    }
  }
}

/** Where recipients that failed for good are reported (the bounce seam). */
export interface FailureReporter {
  report(envelope: Envelope, failed: RecipientRecord[]): Promise<void>;
  /** Optional delay warning for recipients still pending (RFC 3464 Action: delayed). */
  warn?(envelope: Envelope, pending: RecipientRecord[], willRetryUntil: Date): Promise<void>;
}

export interface WorkerOptions {
  spool: Spool;
  retry: RetryPolicy & { bounceLifetime?: number };
  /** Seconds after arrival at which a still-pending message gets one delay warning; off when absent. */
  delayWarning?: number;
  concurrency: { total: number; perDestination: number };
  pollIntervalMs: number;
  /** All mail goes to this host instead of the MX (smarthost). */
  smarthost?: string;
  attempt: AttemptDeps;
  failures: FailureReporter;
  log: Logger;
  now?: () => Date;
}

export interface WorkerEvents {
  /** A message was tried; `done` when it has left the spool. */
  attempted: [id: string, outcomes: RecipientOutcome[], done: boolean];
}

export class QueueWorker extends EventEmitter<WorkerEvents> {
  private readonly slots: DeliverySlots;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly reportedCorrupt = new Set<string>();
  private timer?: NodeJS.Timeout;
  private scanning = false;
  private rescan = false;
  private stopped = true;
  private readonly now: () => Date;

  constructor(private readonly options: WorkerOptions) {
    super();
    this.slots = new DeliverySlots(options.concurrency.total, options.concurrency.perDestination);
    this.now = options.now ?? (() => new Date());
  }

  start(): void {
    this.stopped = false;
    this.wake();
  }

  /** Something was queued or changed: look at the spool now. */
  wake(): void {
    if (this.stopped) return;
    void this.scan();
  }

  /** Stops starting deliveries; waits up to `graceMs` for those in flight. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight.values()]),
      new Promise((resolve) => { timer = setTimeout(resolve, graceMs); }),
    ]);
    clearTimeout(timer);
  }

  get busy(): boolean {
    return this.inFlight.size > 0;
  }

  private async scan(): Promise<void> {
    if (this.scanning) {
      this.rescan = true;
      return;
    }
    this.scanning = true;
    try {
      do {
        this.rescan = false;
        await this.startDueMessages();
      } while (this.rescan && !this.stopped);
    } catch (err) {
      this.options.log('qmgr', `cannot read the spool: ${(err as Error).message}`);
    } finally {
      this.scanning = false;
    }
    if (!this.stopped) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.wake(), this.options.pollIntervalMs);
      this.timer.unref();
    }
  }

  private async startDueMessages(): Promise<void> {
    const { envelopes, corrupt } = await this.options.spool.listAll();
    for (const entry of corrupt) {
      if (this.reportedCorrupt.has(entry.name)) continue;
      this.reportedCorrupt.add(entry.name);
      this.options.log('qmgr', `skipping unreadable queue entry ${entry.name}: ${entry.error.message}`);
    }
    const now = this.now().getTime();
    // Leave room in memory: never more messages in flight than a few per slot.
    const maxInFlight = this.options.concurrency.total * 4;
    for (const envelope of envelopes) {
      if (this.stopped || this.inFlight.size >= maxInFlight) return;
      if (this.inFlight.has(envelope.id) || envelope.capture || envelope.held) continue;
      if (Date.parse(envelope.nextAttemptAt) > now) continue;
      const run = this.deliver(envelope)
        .catch((err) => this.options.log('qmgr', `delivery of the message failed unexpectedly: ${(err as Error)?.stack ?? err}`, envelope.id))
        .finally(() => {
          this.inFlight.delete(envelope.id);
          this.wake();
        });
      this.inFlight.set(envelope.id, run);
    }
  }

  /** One attempt at every pending recipient of a message. */
  private async deliver(snapshot: Envelope): Promise<void> {
    const id = snapshot.id;
    try {
      const groups = this.groupByDestination(pendingRecipients(snapshot));
      const outcomes = (await Promise.all(groups.map(([destination, recipients]) =>
        this.deliverGroup(snapshot, destination, recipients.map((r) => r.address))))).flat();
      const now = this.now();
      const retry = this.retryPolicyOf(snapshot);
      const envelope = await this.options.spool.update(id, (env) => {
        env.attempts++;
        if (!isFinished(env) && isExpired(env.arrivedAt, retry, now)) this.expire(env, now);
        if (isFinished(env)) return;
        const expiry = Date.parse(env.arrivedAt) + retry.maxQueueLifetime * 1000;
        const next = nextAttemptAt(env.attempts, retry, now).getTime();
        // The last try comes at the expiry time, not after it.
        env.nextAttemptAt = new Date(Math.min(next, Math.max(expiry, now.getTime()))).toISOString();
      });
      const done = isFinished(envelope);
      if (done) await this.finish(envelope);
      else await this.warnIfDelayed(envelope, retry, now);
      this.emit('attempted', id, outcomes, done);
    } catch (err) {
      if (!(err instanceof SpoolError) || err.code !== 'ENOENT') throw err;
      // queue delete while we were delivering: nothing more happens to it.
      this.options.log('qmgr', 'removed from the queue during delivery; not tried again', id);
      this.emit('attempted', id, [], true);
    }
  }

  /** Delivers to one destination and records each recipient's outcome on disk at once. */
  private async deliverGroup(snapshot: Envelope, destination: string, addresses: string[]): Promise<RecipientOutcome[]> {
    const release = await this.slots.acquire(destination);
    let outcomes: RecipientOutcome[];
    try {
      // A message deleted or held while it waited for a slot is not sent.
      const current = await this.options.spool.readEnvelope(snapshot.id);
      if (current.held) return [];
      outcomes = await attemptDelivery({
        destination,
        recipients: addresses,
        sender: snapshot.sender,
        size: snapshot.size,
        body: snapshot.body,
        // Said SMTPUTF8, but needs it only with UTF-8 in the envelope or header (RFC 6531 §3.4);
        // the whole header section is read, however long.
        smtputf8: snapshot.smtputf8 && needsSmtputf8({
          sender: snapshot.sender,
          recipients: addresses,
          header: await this.options.spool.readMessageHead(snapshot.id, snapshot.size),
        }),
        openMessage: () => this.options.spool.openMessage(snapshot.id),
      }, this.options.attempt);
    } finally {
      release();
    }
    const now = this.now();
    const delay = (now.getTime() - Date.parse(snapshot.arrivedAt)) / 1000;
    for (const outcome of outcomes) this.options.log('smtp', describeOutcome(outcome, delay), snapshot.id);
    await this.options.spool.update(snapshot.id, (env) => recordOutcomes(env, outcomes, now));
    return outcomes;
  }

  /** RFC 5321 §4.5.4.1: give up; the recipient fails with its last real status. */
  private expire(envelope: Envelope, now: Date): void {
    for (const record of pendingRecipients(envelope)) {
      record.state = 'failed';
      record.finalAt = now.toISOString();
      record.lastReply ??= replyToString(reply('expired'));
      this.options.log('qmgr', `to=<${record.address}>, status=expired, returned to sender (${record.lastReply})`, envelope.id);
    }
  }

  /** Every recipient is final: report the failures, then remove the message. */
  private async finish(envelope: Envelope): Promise<void> {
    const failed = envelope.recipients.filter((r) => r.state === 'failed');
    if (failed.length > 0) await this.options.failures.report(envelope, failed);
    await this.options.spool.remove(envelope.id);
    this.options.log('qmgr', 'removed', envelope.id);
  }

  /** One warning per message once it has waited delivery.delayWarning seconds (off by default). */
  private async warnIfDelayed(envelope: Envelope, retry: RetryPolicy, now: Date): Promise<void> {
    const { delayWarning, failures } = this.options;
    if (delayWarning === undefined || !failures.warn || envelope.delayWarned || envelope.sender === '' || envelope.bounce) return;
    if (now.getTime() - Date.parse(envelope.arrivedAt) < delayWarning * 1000) return;
    await this.options.spool.update(envelope.id, (env) => { env.delayWarned = true; });
    const until = new Date(Date.parse(envelope.arrivedAt) + retry.maxQueueLifetime * 1000);
    await failures.warn(envelope, pendingRecipients(envelope), until);
  }

  /** Bounces get a shorter life than other mail (RFC 5321 §4.5.4.1 allows it). */
  private retryPolicyOf(envelope: Envelope): RetryPolicy {
    const { retry } = this.options;
    return envelope.bounce && retry.bounceLifetime !== undefined
      ? { ...retry, maxQueueLifetime: Math.min(retry.maxQueueLifetime, retry.bounceLifetime) }
      : retry;
  }

  /** One group per domain, or one group for everything with a smarthost. */
  private groupByDestination(recipients: RecipientRecord[]): Array<[string, RecipientRecord[]]> {
    const groups = new Map<string, RecipientRecord[]>();
    for (const record of recipients) {
      const key = this.options.smarthost ?? record.address.slice(record.address.lastIndexOf('@') + 1).toLowerCase();
      groups.set(key, [...(groups.get(key) ?? []), record]);
    }
    return [...groups];
  }
}

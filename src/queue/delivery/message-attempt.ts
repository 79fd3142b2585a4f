// One attempt at a message: its pending recipients grouped by destination
// (one copy per destination, RFC 5321 §4.5.4.1), each destination tried
// within the delivery slots, every outcome recorded in the envelope; then
// either the message is finished (failures reported, success notices sent,
// its files removed) or it is deferred (its envelope written with the time
// of the next try, and a delay warning if one is due). The worker
// (worker.ts) decides when; this is what happens then.

import { SpoolError } from '../spool/spool.js';
import { isFinished, pendingRecipients, type Envelope } from '../spool/envelope.js';
import { deliverToDestination, describeOutcome, type RecipientOutcome } from './destination.js';
import type { DeliverySlots } from './concurrency.js';
import { isExpired, nextAttemptAt, type RetryPolicy } from './scheduler.js';
import { needsSmtputf8 } from '../../protocol/client/smtputf8.js';
import { dsnRequest, expirePending, groupByDestination, recordOutcomes, retryPolicyOf } from './attempt-outcomes.js';
import type { QueuedMessage } from './queued-message.js';
import type { WorkerOptions } from './worker-options.js';

/** What an attempt needs from the worker. */
export interface AttemptSeam {
  readonly options: WorkerOptions;
  readonly slots: DeliverySlots;
  now(): Date;
  /** The message left the spool for good: its files are removed, then it leaves the schedule. */
  forget(message: QueuedMessage): Promise<void>;
  /** The message was deleted behind our back: it leaves the schedule. */
  drop(message: QueuedMessage): void;
  /** The attempt is over (the worker's `attempted` event); `done` when the message has left the spool. */
  attempted(id: string, outcomes: RecipientOutcome[], done: boolean): void;
}

/** One attempt at every pending recipient of a message (the unit: a message). */
export async function attemptMessage(seam: AttemptSeam, message: QueuedMessage, envelope: Envelope): Promise<void> {
  const id = envelope.id;
  const groups = groupByDestination(pendingRecipients(envelope), seam.options.smarthost);
  const outcomes = (await Promise.all(groups.map(([destination, recipients]) =>
    toDestination(seam, message, envelope, destination, recipients.map((r) => r.address))))).flat();
  if (message.removed) {
    // queue delete while we were delivering: nothing more happens to it.
    seam.options.log('qmgr', 'removed from the queue during delivery; not tried again', id);
    seam.attempted(id, [], true);
    return;
  }
  const now = seam.now();
  const retry = retryPolicyOf(envelope, seam.options.retry);
  recordOutcomes(envelope, outcomes, now);
  envelope.attempts++;
  if (!isFinished(envelope) && isExpired(envelope.arrivedAt, retry, now)) {
    for (const record of expirePending(envelope, now)) {
      seam.options.log('qmgr', `to=<${record.address}>, status=expired, returned to sender (${record.lastReply})`, id);
    }
  }
  try {
    if (isFinished(envelope)) {
      await finish(seam, message, envelope);
    } else {
      const expiry = Date.parse(envelope.arrivedAt) + retry.maxQueueLifetime * 1000;
      const next = nextAttemptAt(envelope.attempts, retry, now).getTime();
      // The last try comes at the expiry time, not after it.
      envelope.nextAttemptAt = new Date(Math.min(next, Math.max(expiry, now.getTime()))).toISOString();
      await seam.options.spool.writeEnvelope(envelope);
      message.hasState = true;
      await warnIfDelayed(seam, envelope, retry, now);
    }
  } catch (err) {
    if (!(err instanceof SpoolError) || err.code !== 'ENOENT') throw err;
    // Deleted from the spool behind our back: nothing more happens to it.
    seam.drop(message);
    seam.options.log('qmgr', 'removed from the queue during delivery; not tried again', id);
    seam.attempted(id, [], true);
    return;
  }
  seam.attempted(id, outcomes, isFinished(envelope));
}

/** Delivers to one destination (the unit: a destination) and logs each recipient's outcome. */
async function toDestination(seam: AttemptSeam, message: QueuedMessage, envelope: Envelope, destination: string, addresses: string[]): Promise<RecipientOutcome[]> {
  const release = await seam.slots.acquire(destination);
  let outcomes: RecipientOutcome[];
  try {
    // A message deleted or held while it waited for a slot is not sent.
    if (message.removed || envelope.held) return [];
    outcomes = await deliverToDestination({
      destination,
      recipients: addresses,
      sender: envelope.sender,
      size: envelope.size,
      body: envelope.body,
      // Said SMTPUTF8, but needs it only with UTF-8 in the envelope or header (RFC 6531 §3.4);
      // the whole header section is read, however long.
      smtputf8: envelope.smtputf8 && needsSmtputf8({
        sender: envelope.sender,
        recipients: addresses,
        header: await seam.options.spool.readMessageHead(envelope.id, envelope.size, envelope.size),
      }),
      openMessage: () => seam.options.spool.openMessage(envelope.id, envelope.size),
      queueId: envelope.id,
      dsn: dsnRequest(envelope, addresses),
    }, seam.options.destination);
  } finally {
    release();
  }
  const delay = (seam.now().getTime() - Date.parse(envelope.arrivedAt)) / 1000;
  for (const outcome of outcomes) seam.options.log('smtp', describeOutcome(outcome, delay), envelope.id);
  return outcomes;
}

/** Every recipient is final: report the failures, then remove the message. */
async function finish(seam: AttemptSeam, message: QueuedMessage, envelope: Envelope): Promise<void> {
  const failed = envelope.recipients.filter((r) => r.state === 'failed');
  if (failed.length > 0) await seam.options.failures.report(envelope, failed);
  // A next hop that took the DSN request reports success itself (RFC 3461 §5.2.2).
  const delivered = envelope.recipients.filter((r) => r.state === 'delivered' && r.notify?.includes('SUCCESS') && !r.dsnPassedOn);
  if (delivered.length > 0) await seam.options.failures.delivered?.(envelope, delivered);
  message.removed = true;
  await seam.forget(message);
  seam.options.log('qmgr', 'removed', envelope.id);
}

/** One warning per message once it has waited delivery.delayWarning seconds (off by default). */
async function warnIfDelayed(seam: AttemptSeam, envelope: Envelope, retry: RetryPolicy, now: Date): Promise<void> {
  const { delayWarning, failures } = seam.options;
  if (delayWarning === undefined || !failures.warn || envelope.delayWarned || envelope.sender === '' || envelope.bounce) return;
  if (now.getTime() - Date.parse(envelope.arrivedAt) < delayWarning * 1000) return;
  envelope.delayWarned = true;
  await seam.options.spool.writeEnvelope(envelope);
  const until = new Date(Date.parse(envelope.arrivedAt) + retry.maxQueueLifetime * 1000);
  await failures.warn(envelope, pendingRecipients(envelope), until);
}

// What one delivery attempt reads from and writes into a message's envelope:
// which recipients go together, the DSN request passed on, each outcome in
// its recipient's record, and the end of a message's life (RFC 5321
// §4.5.4.1). Pure functions: the worker (worker.ts) does the rest.

import { reply, replyToString } from '../../reply-codes/index.js';
import { pendingRecipients, type Envelope, type RecipientRecord } from '../spool/envelope.js';
import type { DestinationTarget, RecipientOutcome } from './destination.js';
import type { RetryPolicy } from './scheduler.js';

/** One group per domain (RFC 5321 §4.5.4.1: one copy per destination), or one for everything with a smarthost. */
export function groupByDestination(recipients: RecipientRecord[], smarthost?: string): Array<[string, RecipientRecord[]]> {
  const groups = new Map<string, RecipientRecord[]>();
  for (const record of recipients) {
    const key = smarthost ?? record.address.slice(record.address.lastIndexOf('@') + 1).toLowerCase();
    const group = groups.get(key);
    if (group) group.push(record);
    else groups.set(key, [record]);
  }
  return [...groups];
}

/** The sender's DSN parameters for these recipients, when any were given (RFC 3461). */
export function dsnRequest(envelope: Envelope, addresses: readonly string[]): DestinationTarget['dsn'] {
  const records = addresses.map((a) => envelope.recipients.find((r) => r.address === a && r.state === 'pending'));
  const given = envelope.ret !== undefined || envelope.envid !== undefined || records.some((r) => r?.notify || r?.orcpt);
  if (!given) return undefined;
  return {
    ...(envelope.ret ? { ret: envelope.ret } : {}),
    ...(envelope.envid !== undefined ? { envid: envelope.envid } : {}),
    recipients: records.map((r) => ({ ...(r?.notify ? { notify: r.notify } : {}), ...(r?.orcpt ? { orcpt: r.orcpt } : {}) })),
  };
}

/** Writes each outcome into the recipient's record; deferred ones stay pending. */
export function recordOutcomes(envelope: Envelope, outcomes: RecipientOutcome[], now: Date): void {
  for (const outcome of outcomes) {
    const record = envelope.recipients.find((r) => r.address === outcome.address && r.state === 'pending');
    if (!record) continue;
    record.attempts++;
    record.lastAttemptAt = now.toISOString();
    record.lastReply = replyToString(outcome.reply);
    if (outcome.remoteMta) record.remoteMta = outcome.remoteMta;
    else delete record.remoteMta;
    if (outcome.dsnPassedOn && outcome.kind === 'delivered') record.dsnPassedOn = true;
    if (outcome.kind !== 'deferred') {
      record.state = outcome.kind;
      record.finalAt = now.toISOString();
    }
  }
}

/** RFC 5321 §4.5.4.1: give up; each pending recipient fails with its last real status. Returns them. */
export function expirePending(envelope: Envelope, now: Date): RecipientRecord[] {
  const expired = pendingRecipients(envelope);
  for (const record of expired) {
    record.state = 'failed';
    record.finalAt = now.toISOString();
    record.lastReply ??= replyToString(reply('expired'));
  }
  return expired;
}

/** Bounces get a shorter life than other mail (RFC 5321 §4.5.4.1 allows it). */
export function retryPolicyOf(envelope: Envelope, retry: RetryPolicy & { bounceLifetime?: number }): RetryPolicy {
  return envelope.bounce && retry.bounceLifetime !== undefined
    ? { ...retry, maxQueueLifetime: Math.min(retry.maxQueueLifetime, retry.bounceLifetime) }
    : retry;
}

// Reports recipients that failed for good to the sender: one delivery status
// notification per message listing them all (RFC 5321 §4.4, §6.1), queued
// like any other mail, from the null reverse-path <> (RFC 5321 §4.5.5).
// A message from <> is never bounced: the failure is logged instead.

import { buildBounce, shouldBounce, wantsNotice } from './bounce.js';
import { newEnvelope, type Envelope, type RecipientRecord } from '../spool/envelope.js';
import type { Spool } from '../spool/spool.js';
import type { FailureReporter } from '../delivery/worker.js';
import type { Logger } from '../../log.js';
import type { DsnAction } from './dsn-fields.js';

export interface BounceQueueOptions {
  spool: Spool;
  hostname: string;
  log: Logger;
  /** Called once a bounce is queued, so the worker schedules it. */
  queued: (envelope: Envelope) => void;
  now?: () => Date;
  /** Header fields to put in front of a bounce (a DKIM-Signature, src/dkim/), or undefined. */
  sign?: (message: Buffer, id: string) => Buffer | undefined;
}

/**
 * The largest message returned whole when RET=FULL asks for it (RFC 3461
 * §4.3); a larger one is returned as its header section, as Postfix does
 * past bounce_size_limit (50000).
 */
export const RETURN_FULL_LIMIT = 50_000;

function returnsFullMessage(envelope: Envelope, action: DsnAction): boolean {
  return action === 'failed' && envelope.ret === 'FULL' && envelope.size <= RETURN_FULL_LIMIT;
}

export class BounceQueue implements FailureReporter {
  constructor(private readonly options: BounceQueueOptions) {}

  async report(envelope: Envelope, failed: RecipientRecord[]): Promise<void> {
    if (!shouldBounce(envelope)) {
      // Never a bounce about a bounce (RFC 5321 §4.5.5, §6.1; RFC 3464 §2).
      for (const r of failed) this.options.log('bounce', `to=<${r.address}>: undeliverable, sender is <>: no notification (${r.lastReply ?? 'no reply'})`, envelope.id);
      return;
    }
    // RFC 3461 §4.1: only the recipients whose NOTIFY asks for failures (all of them, without NOTIFY).
    const asked = failed.filter((r) => wantsNotice(r, 'FAILURE'));
    for (const r of failed.filter((f) => !asked.includes(f))) this.options.log('bounce', `to=<${r.address}>: undeliverable, NOTIFY=${r.notify?.join(',') || 'NEVER'}: no notification`, envelope.id);
    if (asked.length > 0) await this.queue(envelope, asked, 'failed');
  }

  /** RFC 3461 §4.1, §5.2.2: delivered recipients with NOTIFY=SUCCESS get a report with Action: relayed. */
  async delivered(envelope: Envelope, delivered: RecipientRecord[]): Promise<void> {
    const asked = delivered.filter((r) => wantsNotice(r, 'SUCCESS') && !r.dsnPassedOn);
    if (!shouldBounce(envelope) || asked.length === 0) return;
    await this.queue(envelope, asked, 'relayed');
  }

  /** A delay warning: the same report with Action: delayed (RFC 3464 §2.3.3). */
  async warn(envelope: Envelope, pending: RecipientRecord[], willRetryUntil: Date): Promise<void> {
    const asked = pending.filter((r) => wantsNotice(r, 'DELAY'));
    if (!shouldBounce(envelope) || asked.length === 0) return;
    await this.queue(envelope, asked, 'delayed', willRetryUntil);
  }

  private async queue(envelope: Envelope, recipients: RecipientRecord[], action: DsnAction, willRetryUntil?: Date): Promise<void> {
    const { spool, hostname, log } = this.options;
    const now = this.options.now?.() ?? new Date();
    const receipt = await spool.beginReceipt();
    let stored: Envelope;
    try {
      const bounce = buildBounce({
        hostname,
        original: envelope,
        failed: recipients,
        action,
        originalHeaders: await spool.readMessageHead(envelope.id, undefined, envelope.size),
        originalMessage: returnsFullMessage(envelope, action) ? await spool.readMessage(envelope.id) : undefined,
        now,
        messageId: `<${receipt.id}@${hostname}>`,
        willRetryUntil,
      });
      const signature = this.options.sign?.(bounce.message, receipt.id);
      receipt.write(signature ? Buffer.concat([signature, bounce.message]) : bounce.message);
      stored = await receipt.commit(newEnvelope({
        id: receipt.id,
        arrivedAt: now,
        client: { ip: '127.0.0.1', ehlo: hostname, protocol: 'local' },
        sender: '',
        recipients: [bounce.recipient],
        body: bounce.body,
        smtputf8: bounce.smtputf8,
        bounce: true,
      }));
      const what = { failed: 'non-delivery notification', delayed: 'delay warning', relayed: 'success notification' }[action];
      log('bounce', `sender ${what}: ${receipt.id} to=<${bounce.recipient}>, ${recipients.length} recipient(s)`, envelope.id);
    } catch (err) {
      await receipt.abort();
      throw err;
    }
    this.options.queued(stored);
  }
}

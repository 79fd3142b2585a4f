// The machine-readable part of a bounce: the message/delivery-status body
// (RFC 3464 §2): a per-message block, then one block per recipient, blank
// lines between. Which fields appear, and in what order, is the two tables
// below.

import { formatMailDate } from '../../protocol/shared/mail-date.js';
import { classOf, type ReplyClass } from '../../reply-codes/index.js';
import type { RecipientRecord } from '../spool/envelope.js';
import { foldField } from './line-folding.js';

/**
 * RFC 3464 §2.3.3; minimta reports these three. "relayed": delivered to a next
 * hop that was not asked to send DSNs (RFC 3461 §5.2.2), as a success
 * notice requested with NOTIFY=SUCCESS.
 */
export type DsnAction = 'failed' | 'delayed' | 'relayed';

/** What the per-message block says (RFC 3464 §2.2). */
export interface MessageFacts {
  readonly reportingMta: string;
  readonly queueId: string;
  readonly arrivedAt: Date;
  /** The sender's ENVID (RFC 3461 §4.4), reported as Original-Envelope-Id. */
  readonly envid?: string;
}

/** What one per-recipient block says (RFC 3464 §2.3). */
export interface RecipientReport {
  readonly address: string;
  /** The ORCPT given at RCPT (RFC 3461 §4.2), "type;address". */
  readonly originalRecipient?: string;
  readonly action: DsnAction;
  /** RFC 3463 class.subject.detail. */
  readonly status: string;
  /** The next hop that gave the reply, when one did. */
  readonly remoteMta?: string;
  /** The last reply, verbatim. */
  readonly diagnostic?: string;
  readonly lastAttemptAt?: Date;
  readonly willRetryUntil?: Date;
}

const REPLY = /^([0-9]{3})(?:[ -](.*))?$/s;
const ENHANCED = /^([245])\.([0-9]{1,3})\.([0-9]{1,3})(?=[ \t]|$)/;

/** A reply without an enhanced code: the class of its basic code (RFC 3463 §3.1, "x.0.0"). */
const STATUS_OF_CLASS: Readonly<Record<ReplyClass, string>> = {
  positive: '2.0.0',
  // A 3xx where a final reply was due is the peer breaking the protocol: transient, as classOf decides.
  intermediate: '4.0.0',
  transient: '4.0.0',
  permanent: '5.0.0',
};

/**
 * The RFC 3463 status of a recorded reply: "556 5.1.10 …" → "5.1.10". An
 * enhanced code whose class differs from the basic code's is not believed
 * (RFC 2034 §4: they must agree); the basic code's class is used instead, as
 * for a reply with no enhanced code. No reply, or not a reply → `fallback`.
 */
export function statusFromReply(lastReply: string | undefined, fallback: string): string {
  const reply = lastReply === undefined ? null : REPLY.exec(lastReply.trim());
  if (!reply) return fallback;
  const code = reply[1] as string;
  const enhanced = ENHANCED.exec(reply[2] ?? '');
  if (enhanced && enhanced[1] === code[0]) return enhanced[0];
  return STATUS_OF_CLASS[classOf(Number(code))];
}

/**
 * Without a reply: a recipient that failed has been given up on at expiry
 * (4.4.7, RFC 3463 §3.5); a delayed one simply has no outcome yet.
 */
const STATUS_WITHOUT_REPLY: Readonly<Record<DsnAction, string>> = {
  failed: '4.4.7',
  delayed: '4.0.0',
  relayed: '2.0.0',
};

/**
 * The report for one recipient. A failed recipient keeps its real last
 * status even when it is a 4.x.x one (RFC 3463 advises the actual code over
 * X.4.7). Will-Retry-Until belongs to delayed reports only (RFC 3464 §2.3.9).
 */
export function recipientReport(record: RecipientRecord, action: DsnAction, willRetryUntil?: Date): RecipientReport {
  return {
    address: record.address,
    originalRecipient: record.orcpt,
    action,
    status: statusFromReply(record.lastReply, STATUS_WITHOUT_REPLY[action]),
    remoteMta: record.remoteMta || undefined,
    diagnostic: record.lastReply || undefined,
    lastAttemptAt: record.lastAttemptAt ? new Date(record.lastAttemptAt) : undefined,
    willRetryUntil: action === 'delayed' ? willRetryUntil : undefined,
  };
}

const isAscii = (text: string): boolean => /^[\x00-\x7f]*$/.test(text);

/** RFC 6533 §3: a non-ASCII address is of type utf-8, not rfc822. */
const addressType = (address: string): string => (isAscii(address) ? 'rfc822' : 'utf-8');

type FieldTable<T> = ReadonlyArray<readonly [name: string, value: (facts: T) => string | undefined]>;

const MESSAGE_FIELDS: FieldTable<MessageFacts> = [
  ['Original-Envelope-Id', (m) => m.envid], // RFC 3464 §2.2.1: the ENVID, as given
  ['Reporting-MTA', (m) => `dns; ${m.reportingMta}`], // RFC 3464 §2.2.2 (required)
  ['X-Minimta-Queue-ID', (m) => m.queueId], // §2.4: an extension field, for the operator's log
  ['Arrival-Date', (m) => formatMailDate(m.arrivedAt)], // §2.2.5
];

const RECIPIENT_FIELDS: FieldTable<RecipientReport> = [
  ['Original-Recipient', (r) => r.originalRecipient && r.originalRecipient.replace(';', '; ')], // §2.3.1: the ORCPT
  ['Final-Recipient', (r) => `${addressType(r.address)}; ${r.address}`], // §2.3.2 (required)
  ['Action', (r) => r.action], // §2.3.3 (required)
  ['Status', (r) => r.status], // §2.3.4 (required)
  ['Remote-MTA', (r) => r.remoteMta && `dns; ${r.remoteMta}`], // §2.3.5: only when a host answered
  ['Diagnostic-Code', (r) => r.diagnostic && `smtp; ${r.diagnostic}`], // §2.3.6: the reply verbatim
  ['Last-Attempt-Date', (r) => r.lastAttemptAt && formatMailDate(r.lastAttemptAt)], // §2.3.7
  ['Will-Retry-Until', (r) => r.willRetryUntil && formatMailDate(r.willRetryUntil)], // §2.3.9
];

function fieldBlock<T>(table: FieldTable<T>, facts: T): string {
  return table
    .map(([name, value]) => {
      const text = value(facts);
      return text ? foldField(name, text) : '';
    })
    .join('');
}

/** The delivery-status body, CRLF line ends; it ends with the CRLF of the last field. */
export function deliveryStatusBody(message: MessageFacts, recipients: readonly RecipientReport[]): string {
  const blocks = [fieldBlock(MESSAGE_FIELDS, message), ...recipients.map((r) => fieldBlock(RECIPIENT_FIELDS, r))];
  return blocks.join('\r\n');
}

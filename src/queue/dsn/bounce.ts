// Delivery status notifications (bounces): RFC 3464 inside an RFC 6522
// multipart/report. This file only builds the bytes; the queue worker puts
// them into the spool as a new message from <> to the original sender
// (RFC 5321 §4.5.5, §6.1). One notification lists all the recipients it
// reports on, each in its own block.
//
// The report has three parts: a text for people (bounce-text.ts), the
// delivery-status fields (dsn-fields.ts) and the original header section.
// With non-ASCII addresses or text the report takes the RFC 6533 forms:
// message/global-delivery-status, and message/global-headers for the UTF-8
// header section of an SMTPUTF8 message.

import { randomBytes } from 'node:crypto';
import { formatMailDate } from '../../protocol/shared/mail-date.js';
import { notificationText } from './bounce-text.js';
import { deliveryStatusBody, recipientReport, type DsnAction } from './dsn-fields.js';
import type { Envelope, RecipientRecord } from '../spool/envelope.js';
import { foldField } from './line-folding.js';
import { CodedError } from '../../coded-error.js';

export { statusFromReply } from './dsn-fields.js';

export interface BounceInput {
  /** Reporting-MTA, and the domain of MAILER-DAEMON@hostname. */
  hostname: string;
  /** The envelope of the message the report is about. */
  original: Envelope;
  /** The recipients to report: failed ones, or for a delay warning still pending ones. */
  failed: RecipientRecord[];
  /** RFC 3464 §2.3.3. */
  action: DsnAction;
  /** The original header section (Spool.readMessageHead), our Received: line included. */
  originalHeaders: Buffer;
  /** The whole original message, returned instead of its headers (RET=FULL, RFC 3461 §4.3). */
  originalMessage?: Buffer;
  now: Date;
  /** e.g. `<${bounceQueueId}@${hostname}>`. */
  messageId: string;
  /** For 'delayed': until when delivery will be tried. */
  willRetryUntil?: Date;
}

export interface Bounce {
  /** Where it goes: the original sender. It is sent from <>. */
  recipient: string;
  /** The whole message, CRLF line ends, ready to store. */
  message: Buffer;
  /** The transaction needs SMTPUTF8 (RFC 6531): a non-ASCII address is in it. */
  smtputf8: boolean;
  body: '7BIT' | '8BITMIME';
}

export const BOUNCE_ERRORS = {
  /** The original came from <>: never bounce a bounce (RFC 5321 §4.5.5, §6.1). */
  nullSender: 'ENULLSENDER',
  /** Nothing to report: a DSN needs at least one recipient block (RFC 3464 §2.1). */
  noRecipients: 'ENORECIPIENTS',
  /** No boundary absent from the content was found (practically impossible). */
  noBoundary: 'ENOBOUNDARY',
} as const;

/** A message that must not be bounced, or a report that cannot be built (BOUNCE_ERRORS). */
export class BounceError extends CodedError<(typeof BOUNCE_ERRORS)[keyof typeof BOUNCE_ERRORS]> {}

/**
 * Whether failures of this message are reported to its sender: not when it
 * came from the null reverse-path, nor when it is one of our own bounces
 * (RFC 5321 §4.5.5, §6.1: no notification about a notification).
 */
export function shouldBounce(envelope: Envelope): boolean {
  return envelope.sender !== '' && envelope.bounce !== true;
}

const SUBJECTS: Readonly<Record<DsnAction, string>> = {
  failed: 'Undelivered Mail Returned to Sender',
  delayed: 'Delayed Mail (still being retried)',
  relayed: 'Successful Mail Delivery Report',
};

/**
 * Whether the sender asked to hear of this event for a recipient (RFC 3461
 * §4.1): NOTIFY names it; without NOTIFY, failures and delays are reported,
 * successes not. NOTIFY=NEVER ([]) asks for nothing.
 */
export function wantsNotice(record: RecipientRecord, event: 'SUCCESS' | 'FAILURE' | 'DELAY'): boolean {
  return record.notify === undefined ? event !== 'SUCCESS' : record.notify.includes(event);
}

const PREAMBLE = 'This is a MIME-encapsulated message.\r\n';
const BOUNDARY_TRIES = 8;

interface BodyPart {
  readonly description: string;
  readonly contentType: string;
  readonly body: Buffer;
}

const hasEightBit = (bytes: Buffer): boolean => bytes.some((b) => b >= 0x80);
const isAscii = (text: string): boolean => /^[\x00-\x7f]*$/.test(text);

/** Builds the notification; throws BounceError when the message must not be bounced. */
export function buildBounce(input: BounceInput): Bounce {
  const { original } = input;
  if (!shouldBounce(original)) {
    throw new BounceError(BOUNCE_ERRORS.nullSender, `bounce: ${original.id} came from <> or is a bounce: no notification`);
  }
  if (input.failed.length === 0) {
    throw new BounceError(BOUNCE_ERRORS.noRecipients, `bounce: ${original.id}: no recipient to report`);
  }
  const recipients = input.failed.map((r) => recipientReport(r, input.action, input.willRetryUntil));
  const arrivedAt = new Date(original.arrivedAt);
  const status = deliveryStatusBody({ reportingMta: input.hostname, queueId: original.id, arrivedAt, envid: original.envid }, recipients);
  const text = notificationText({
    hostname: input.hostname, action: input.action, queueId: original.id, arrivedAt, recipients,
    willRetryUntil: input.willRetryUntil,
  });
  const headers = headerSection(input.originalHeaders);
  // RFC 6533 §6: non-ASCII report fields and UTF-8 header sections take the "global" types.
  const statusType = isAscii(status) ? 'delivery-status' : 'global-delivery-status';
  const parts: BodyPart[] = [
    { description: 'Notification', contentType: 'text/plain; charset=utf-8', body: Buffer.from(text) },
    { description: 'Delivery report', contentType: `message/${statusType}`, body: Buffer.from(status) },
    input.originalMessage ? {
      description: 'Undelivered message',
      contentType: original.smtputf8 && hasEightBit(input.originalMessage) ? 'message/global' : 'message/rfc822',
      body: input.originalMessage,
    } : {
      description: input.action === 'relayed' ? 'Message headers' : 'Undelivered message headers',
      contentType: original.smtputf8 && hasEightBit(headers) ? 'message/global-headers' : 'text/rfc822-headers',
      body: headers,
    },
  ];
  const rendered = parts.map(renderPart);
  const boundary = chooseBoundary(rendered);
  const eightBit = rendered.some(hasEightBit);
  const top = topHeaders(input, statusType, boundary, eightBit);
  const message = Buffer.concat([
    Buffer.from(top + '\r\n' + PREAMBLE),
    ...rendered.flatMap((part) => [Buffer.from(`\r\n--${boundary}\r\n`), part]),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return {
    recipient: original.sender,
    message,
    smtputf8: [original.sender, ...input.failed.map((r) => r.address)].some((a) => !isAscii(a)),
    // A UTF-8 To: field alone (RFC 6532) makes the message 8-bit as well.
    body: hasEightBit(message) ? '8BITMIME' : '7BIT',
  };
}

/** The top-level header section (RFC 3464 §2, RFC 6522 §3, RFC 3834 §5). */
function topHeaders(input: BounceInput, statusType: string, boundary: string, eightBit: boolean): string {
  const id = input.messageId.startsWith('<') ? input.messageId : `<${input.messageId}>`;
  return [
    foldField('From', `Mail Delivery System <MAILER-DAEMON@${input.hostname}>`),
    foldField('To', `<${input.original.sender}>`),
    foldField('Subject', SUBJECTS[input.action]),
    foldField('Date', formatMailDate(input.now)),
    foldField('Message-ID', id),
    // RFC 3834 §5: an automatic answer, so that no one auto-answers it in turn.
    foldField('Auto-Submitted', 'auto-replied'),
    foldField('MIME-Version', '1.0'),
    // RFC 6522 §3: report-type names the subtype of the second part.
    foldField('Content-Type', `multipart/report; report-type=${statusType}; boundary="${boundary}"`),
    // RFC 2045 §6.4: a multipart with 8-bit parts is itself 8bit.
    eightBit ? foldField('Content-Transfer-Encoding', '8bit') : '',
  ].join('');
}

function renderPart(part: BodyPart): Buffer {
  const head = [
    foldField('Content-Description', part.description),
    foldField('Content-Type', part.contentType),
    hasEightBit(part.body) ? foldField('Content-Transfer-Encoding', '8bit') : '',
  ].join('');
  return Buffer.concat([Buffer.from(head + '\r\n'), part.body]);
}

const CRLF = Buffer.from('\r\n');
const EMPTY_LINE = Buffer.from('\r\n\r\n');

/**
 * The header section alone, ending with the CRLF of its last field (RFC 5322
 * §2.1), as Spool.readMessageHead gives it, which is kept byte for byte. Given
 * more (the empty line, a body), it is cut at the empty line; a head cut
 * short mid-field (readMessageHead's size limit) loses the partial line.
 */
export function headerSection(head: Buffer): Buffer {
  if (head.subarray(0, 2).equals(CRLF)) return Buffer.alloc(0);
  const emptyLine = head.indexOf(EMPTY_LINE);
  if (emptyLine >= 0) return head.subarray(0, emptyLine + 2);
  const lastLineEnd = head.lastIndexOf(CRLF);
  return head.subarray(0, lastLineEnd < 0 ? 0 : lastLineEnd + 2);
}

/**
 * A multipart boundary that occurs nowhere in the parts (RFC 2046 §5.1.1),
 * compared without regard to case. "=_" cannot occur in quoted-printable or
 * base64 text, and 96 random bits make a clash with raw text unlikely; it is
 * checked all the same.
 */
export function chooseBoundary(parts: readonly Buffer[], random: () => string = () => randomBytes(12).toString('hex')): string {
  const haystacks = parts.map((p) => p.toString('latin1').toLowerCase());
  for (let i = 0; i < BOUNDARY_TRIES; i++) {
    const boundary = `=_minimta_${random()}`;
    const needle = boundary.toLowerCase();
    if (!haystacks.some((h) => h.includes(needle))) return boundary;
  }
  throw new BounceError(BOUNCE_ERRORS.noBoundary, 'bounce: no multipart boundary absent from the content');
}

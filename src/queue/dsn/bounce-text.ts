// The first part of a bounce: a text a person can read (RFC 6522 §3: the
// report "in a human-readable form"). For each recipient: the address, the
// reply as it was received, and what it means when we know.

import { formatMailDate } from '../../protocol/shared/mail-date.js';
import type { DsnAction, RecipientReport } from './dsn-fields.js';
import { MAX_LINE_OCTETS, wrapText } from './line-folding.js';

export interface NoticeFacts {
  readonly hostname: string;
  readonly action: DsnAction;
  readonly queueId: string;
  readonly arrivedAt: Date;
  readonly recipients: readonly RecipientReport[];
  readonly willRetryUntil?: Date;
}

const INDENT = '    ';

const domainOf = (address: string): string => address.slice(address.lastIndexOf('@') + 1);

/** What a status means, in words, for the statuses a sender most needs explained. */
const EXPLANATIONS: Readonly<Record<string, (r: RecipientReport) => string>> = {
  '5.1.10': (r) =>
    `The domain ${domainOf(r.address)} publishes a null MX record (RFC 7505): it has declared that it ` +
    'accepts no email at all, so no mail server was contacted.',
  '5.3.2': (r) =>
    `The receiving server${r.remoteMta ? ` ${r.remoteMta}` : ''} does not accept any mail (RFC 7504, reply 521).`,
  '5.1.1': () => 'The recipient mailbox does not exist.',
  '5.1.2': (r) => `The domain ${domainOf(r.address)} does not exist or cannot receive mail.`,
  '5.3.4': () => 'The message is too big for the receiving system.',
  '5.4.6': () => 'The message was caught in a loop between mail servers.',
  '4.4.7': () => 'No delivery attempt succeeded before the message expired in the queue.',
};

/** A failed recipient with a temporary last status was given up on at expiry (RFC 5321 §4.5.4.1). */
const GAVE_UP =
  'Delivery kept failing temporarily until the message expired in the queue; the last error is above.';

function explanation(r: RecipientReport): string | undefined {
  const known = EXPLANATIONS[r.status];
  if (known) return known(r);
  if (r.action === 'failed' && r.status.startsWith('4.')) return GAVE_UP;
  return undefined;
}

function recipientLines(r: RecipientReport): string[] {
  const lines = [`<${r.address}>`];
  if (r.diagnostic) {
    lines.push(INDENT + (r.remoteMta ? `${r.remoteMta} answered:` : 'Reason:'));
    // The reply stays on one line, as received, unless it passes the line limit.
    lines.push(...wrapText(r.diagnostic, MAX_LINE_OCTETS, INDENT));
  }
  const meaning = explanation(r);
  if (meaning) lines.push(...wrapText(meaning, 76, INDENT));
  return lines;
}

const count = (n: number): string => (n === 1 ? '1 recipient' : `${n} recipients`);

const OPENINGS: Readonly<Record<DsnAction, (f: NoticeFacts) => string[]>> = {
  failed: (f) => [
    `Your message could not be delivered to ${count(f.recipients.length)}. Delivery will not be ` +
      'tried again. The reasons are below.',
  ],
  relayed: (f) => [
    `Your message was delivered to ${count(f.recipients.length)}, as you asked to be told ` +
      '(NOTIFY=SUCCESS). It went to a mail server that does not report delivery status itself, ' +
      'so this is the last notice you will get about it.',
  ],
  delayed: (f) => [
    `Your message has not yet been delivered to ${count(f.recipients.length)}. ` +
      (f.willRetryUntil ? `Delivery will be retried until ${formatMailDate(f.willRetryUntil)}. ` : 'Delivery will be retried. ') +
      'You do not need to send it again; you will be told if it fails for good.',
  ],
};

/** The text part, CRLF line ends, ending with a CRLF. */
export function notificationText(facts: NoticeFacts): string {
  const paragraphs: string[][] = [
    [`This is an automatic message from the mail system at ${facts.hostname}. Please do not reply to it.`],
    OPENINGS[facts.action](facts),
    [`The message arrived on ${formatMailDate(facts.arrivedAt)} and had the queue id ${facts.queueId}.`],
  ].map((paragraph) => paragraph.flatMap((text) => wrapText(text, 76)));
  paragraphs.push(...facts.recipients.map(recipientLines));
  paragraphs.push(wrapText(
    'Attached are a delivery report for programs (RFC 3464) and the header section of your message.', 76));
  return paragraphs.map((lines) => lines.map((line) => `${line}\r\n`).join('')).join('\r\n');
}

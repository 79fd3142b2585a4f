// How `queue list` and `queue show` print the queue: like Postfix's mailq,
// one block per message, oldest first; times in UTC, ISO 8601, to the second.
//
//   0MX0OWGKC01M3M  2026-11-28T17:34:12Z  1234 bytes  <me@example.com>  [held]
//     pending    <u@normal.test>  attempts=2  next=2026-11-28T17:39:12Z  last: 451 4.4.3 DNS lookup failed
//     delivered  <v@normal.test>  attempts=1  last: 250 2.0.0 Ok: queued as 4F1A
//
//   1 message, 1 recipient pending

import { countPending, type MessageView, type QueueListing } from '../queue/spool/queue-admin.js';
import { printable } from '../protocol/shared/printable.js';
import type { Envelope, RecipientRecord } from '../queue/spool/envelope.js';

export const EMPTY_QUEUE = 'Mail queue is empty';

/** "2026-11-28T17:34:12.435Z" → "2026-11-28T17:34:12Z". */
export function formatTime(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The reverse-path as written in MAIL FROM: the null sender is "<>" (RFC 5321 §4.5.5). */
export function formatSender(sender: string): string {
  return `<${sender}>`;
}

/** The marks an operator needs to see at once. */
export function flagsOf(envelope: Envelope): string[] {
  const flags: string[] = [];
  if (envelope.held) flags.push('held');
  if (envelope.capture) flags.push('capture');
  if (envelope.bounce) flags.push('bounce');
  return flags;
}

/** A recipient of a captured message is never delivered: it is "captured", not "pending". */
export function recipientState(recipient: RecipientRecord, envelope: Envelope): string {
  return recipient.state === 'pending' && envelope.capture ? 'captured' : recipient.state;
}

function recipientLine(recipient: RecipientRecord, envelope: Envelope): string {
  const parts = [recipientState(recipient, envelope).padEnd(9), `<${recipient.address}>`, `attempts=${recipient.attempts}`];
  if (recipient.state === 'pending' && !envelope.capture) parts.push(`next=${formatTime(envelope.nextAttemptAt)}`);
  if (recipient.lastReply) parts.push(`last: ${recipient.lastReply}`);
  return `  ${parts.join('  ')}`;
}

function messageBlock(envelope: Envelope): string[] {
  const flags = flagsOf(envelope);
  const head = [envelope.id, formatTime(envelope.arrivedAt), `${envelope.size} bytes`, formatSender(envelope.sender)];
  if (flags.length > 0) head.push(`[${flags.join(', ')}]`);
  return [head.join('  '), ...envelope.recipients.map((r) => recipientLine(r, envelope))];
}

/** The text of `queue list`, ending with a newline. */
export function formatListing(listing: QueueListing): string {
  const { envelopes } = listing;
  if (envelopes.length === 0) return `${EMPTY_QUEUE}\n`;
  // Replies from next hops and what clients sent go to a terminal: forTerminal.
  const blocks = envelopes.map((env) => messageBlock(env).map(forTerminal).join('\n'));
  const waiting = envelopes.filter((env) => !env.capture);
  const captured = envelopes.length - waiting.length;
  const total = `${plural(envelopes.length, 'message')}, ${plural(countPending(waiting), 'recipient')} pending${captured > 0 ? `, ${captured} captured` : ''}`;
  return `${blocks.join('\n\n')}\n\n${total}\n`;
}

/** One line per queue entry that could not be read, for stderr. */
export function formatCorrupt(listing: QueueListing): string {
  return listing.corrupt.map(({ name, problem }) => `minimta: queue: unreadable entry queue/${name}: ${problem}\n`).join('');
}

/** The text of `queue show`: the envelope, an empty line, the header section. */
export function formatMessage({ envelope, head }: MessageView): string {
  const { client } = envelope;
  const flags = flagsOf(envelope);
  const fields: Array<[string, string]> = [
    ['id', envelope.id],
    ['arrived', formatTime(envelope.arrivedAt)],
    ['size', `${envelope.size} bytes`],
    ['sender', formatSender(envelope.sender)],
    ['client', `[${client.ip}] (ehlo ${client.ehlo}) with ${client.protocol}${client.authUser ? `, user ${client.authUser}` : ''}`],
    ['body', `${envelope.body}${envelope.smtputf8 ? ', SMTPUTF8' : ''}`],
    ['flags', flags.length > 0 ? flags.join(', ') : '-'],
    ['attempts', String(envelope.attempts)],
    ['next attempt', envelope.capture ? 'never (captured)' : formatTime(envelope.nextAttemptAt)],
  ];
  const width = Math.max(...fields.map(([name]) => name.length)) + 2;
  const lines = fields.map(([name, value]) => `${`${name}:`.padEnd(width)}${value}`);
  lines.push('recipients:', ...envelope.recipients.map((r) => recipientLine(r, envelope) + remoteOf(r)));
  // The header section is CRLF on disk; a terminal wants LF. What a client
  // sent goes to the operator's terminal: no ESC sequence may reach it.
  const headLines = head.split('\r\n').map(forTerminal);
  return `${lines.map(forTerminal).join('\n')}\n\n${headLines.join('\n')}`;
}

/** A line as a terminal may show it: controls as '?' (printable.ts), but the TAB of a folded header field kept. */
function forTerminal(line: string): string {
  return line.split('\t').map(printable).join('\t');
}

function remoteOf(recipient: RecipientRecord): string {
  return recipient.remoteMta ? `  (from ${recipient.remoteMta})` : '';
}

/** What the operator learns after a change, with a word on when it takes effect. */
export function formatChange(verb: 'retry' | 'release', envelope: Envelope, live: boolean): string {
  const id = envelope.id;
  if (envelope.capture) return `${id}: captured, never delivered\n`;
  if (envelope.held) return `${id}: held; release it to deliver it\n`;
  const when = live ? 'it will be tried now' : 'it will be tried when the relay starts';
  return `${id}: ${verb === 'release' ? 'released; ' : ''}${when}\n`;
}

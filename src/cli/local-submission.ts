// A message handed to `minimta sendmail` on stdin, made ready for the spool.
// This is local submission, not SMTP: line ends are normalised, a lone "."
// is an ordinary line, and — as RFC 6409 §8 allows a submission agent, and
// as a relay must never do — Date:, Message-ID: and From: are added when
// missing. Bcc: is removed (RFC 5322 §3.6.3). Bytes are handled as latin1
// strings, so an 8-bit message passes through unchanged.

import { formatMailDate } from '../protocol/shared/mail-date.js';
import { parseAddressList } from './address-list.js';

const CRLF = '\r\n';
/** RFC 5322 §2.1.1: at most 998 octets before the CRLF. */
export const MAX_LINE_OCTETS = 998;
/** A header field's first line: a field name (printable ASCII but ':'), then ':' (RFC 5322 §2.2). */
const FIELD_START = /^[\x21-\x39\x3b-\x7e]+:/;
const CONTINUATION = /^[ \t]/;

export interface HeaderField {
  /** As written, e.g. "Cc". */
  name: string;
  /** The whole field, folded lines included, without the final CRLF. */
  text: string;
}

export interface SubmittedMessage {
  fields: HeaderField[];
  /** Everything after the header section (and its empty line), CRLF line ends. */
  body: string;
}

/** Every CRLF, bare LF and bare CR becomes CRLF, and the message ends with one. */
export function normalizeLineEnds(input: Buffer): string {
  const text = input.toString('latin1').replace(/\r\n|\r|\n/g, CRLF);
  return text === '' || text.endsWith(CRLF) ? text : text + CRLF;
}

/** The 1-based number of the first line longer than 998 octets, or 0. */
export function firstLongLine(text: string): number {
  const lines = text.split(CRLF);
  const index = lines.findIndex((line) => line.length > MAX_LINE_OCTETS);
  return index + 1;
}

/**
 * Splits a normalised message into its header fields and body. As in
 * Postfix, the header section ends at the empty line, or at the first line
 * that is not a header field: that line starts the body, and an empty line
 * will be put before it.
 */
export function splitMessage(text: string): SubmittedMessage {
  const lines = text.split(CRLF);
  lines.pop(); // the text ends with CRLF: the last piece is ''
  const fields: HeaderField[] = [];
  let i = 0;
  for (; i < lines.length; i++) {
    const line = lines[i]!;
    const last = fields.at(-1);
    if (FIELD_START.test(line)) fields.push({ name: line.slice(0, line.indexOf(':')), text: line });
    else if (last && CONTINUATION.test(line)) last.text += CRLF + line;
    else break;
  }
  if (lines[i] === '') i++;
  const body = lines.slice(i);
  return { fields, body: body.length === 0 ? '' : body.join(CRLF) + CRLF };
}

function isNamed(field: HeaderField, names: readonly string[]): boolean {
  return names.includes(field.name.toLowerCase());
}

/** The field's body, unfolded (RFC 5322 §2.2.3), decoded as UTF-8 (RFC 6532). */
function unfoldedValue(field: HeaderField): string {
  const value = field.text.slice(field.name.length + 1).replace(/\r\n(?=[ \t])/g, '');
  return Buffer.from(value, 'latin1').toString('utf8').trim();
}

/** `sendmail -t`: the addresses in To:, Cc: and Bcc:, in order. */
export function recipientsFromFields(fields: readonly HeaderField[]): string[] {
  return fields.filter((f) => isNamed(f, ['to', 'cc', 'bcc'])).flatMap((f) => parseAddressList(unfoldedValue(f)));
}

/** RFC 5322 §3.6.3: Bcc: recipients must not be shown to the others. */
export function withoutBcc(fields: readonly HeaderField[]): HeaderField[] {
  return fields.filter((f) => !isNamed(f, ['bcc']));
}

export interface SubmissionFacts {
  /** Our host name: Message-ID's right side, the Received: "by". */
  hostname: string;
  /** The From: to add when there is none: "Full Name <addr>" or "addr". */
  from: string;
  queueId: string;
  date: Date;
}

/** The fields RFC 5322 §3.6 requires that the message lacks (Date, From) and the Message-ID it should have. */
export function missingFields(fields: readonly HeaderField[], facts: SubmissionFacts): HeaderField[] {
  const wanted: HeaderField[] = [
    { name: 'Date', text: `Date: ${formatMailDate(facts.date)}` },
    { name: 'From', text: `From: ${facts.from}` },
    { name: 'Message-ID', text: `Message-ID: <${facts.queueId}@${facts.hostname}>` },
  ];
  return wanted.filter((field) => !fields.some((f) => isNamed(f, [field.name.toLowerCase()])));
}

export interface LocalTraceFacts {
  hostname: string;
  uid: number | undefined;
  queueId: string;
  recipients: readonly string[];
  date: Date;
}

/**
 * The trace line for local submission, in the RFC 5321 §4.4 form as far as
 * it applies: there was no TCP connection, so the "from" names the local
 * host and the comment says who ran sendmail, as Postfix's "(Postfix, from
 * userid N)" does; "with local" says how it came. "for" only with a single
 * recipient, so a Bcc recipient is never shown to the others (§7.6).
 */
export function localReceivedField(facts: LocalTraceFacts): string {
  const who = facts.uid === undefined ? '' : ` (uid ${facts.uid})`;
  const parts = [`Received: from localhost${who}`, `by ${facts.hostname} with local id ${facts.queueId}`];
  if (facts.recipients.length === 1) parts.push(`for <${facts.recipients[0]}>;`);
  else parts[1] += ';';
  parts.push(formatMailDate(facts.date));
  const oneLine = parts.join(' ');
  return Buffer.byteLength(oneLine) <= MAX_LINE_OCTETS ? oneLine : parts.join(`${CRLF}\t`);
}

/**
 * The message as stored: trace line, fields, added fields, empty line, body.
 * `received` and `added` are ours, made from text (UTF-8 on the wire); the
 * fields and body are the submitted bytes, as latin1 strings.
 */
export function assembleMessage(received: string, fields: readonly HeaderField[], added: readonly HeaderField[], body: string): Buffer {
  const ours = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');
  const header = [ours(received), ...fields.map((f) => f.text), ...added.map((f) => ours(f.text))].join(CRLF) + CRLF;
  return Buffer.from(`${header}${CRLF}${body}`, 'latin1');
}

/** "Full Name <addr>", quoting the name when it is not all atoms (RFC 5322 §3.4). */
export function fromValue(address: string, fullName: string | undefined): string {
  if (!fullName) return address;
  const phrase = /^[\w!#$%&'*+\-/=?^`{|}~ ]+$/.test(fullName) ? fullName : `"${fullName.replace(/["\\]/g, '\\$&')}"`;
  return `${phrase} <${address}>`;
}

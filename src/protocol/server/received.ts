// The trace line a relay prepends to every message it accepts (RFC 5321 §4.4,
// RFC 5322 §3.6.7). The TCP-info comes from the connection, never from EHLO.
//
// The EHLO name is the client's word. Readers of the field look for the date
// after the last ';' and parse the "from" clause as a domain, so only a name
// that is a Domain or an address-literal (RFC 5321 §4.1.2) goes there; any
// other name is named inside the comment, escaped so the comment stays one
// balanced comment (RFC 5322 §3.2.2), and "from" shows the client's address:
//   from mail.example.org ([192.0.2.1])
//   from [192.0.2.1] (helo=a\)\(by)

import { isDomain, isAddressLiteral } from '../shared/address.js';
import { formatMailDate } from '../shared/mail-date.js';

export interface ProtocolFacts {
  extended: boolean;  // EHLO rather than HELO
  utf8: boolean;      // SMTPUTF8 transaction (RFC 6531 §3.7.3)
  tls: boolean;       // RFC 3848 "S"
  authenticated: boolean; // RFC 3848 "A"
}

/** The "with" keyword: SMTP, ESMTP[S][A] (RFC 3848) or UTF8SMTP[S][A] (RFC 6531 §3.7.3). */
export function protocolName(facts: ProtocolFacts): string {
  if (!facts.extended) return 'SMTP';
  const base = facts.utf8 ? 'UTF8SMTP' : 'ESMTP';
  return base + (facts.tls ? 'S' : '') + (facts.authenticated ? 'A' : '');
}

export interface TraceFacts {
  heloName: string;
  clientIp: string;
  hostname: string;
  protocol: string;
  id: string;
  recipients: readonly string[];
  date: Date;
}

const PRINTABLE_ASCII = /^[\x21-\x7e]{1,255}$/;

/** RFC 5322 §2.1.1: lines of at most 998 octets; longer ones are folded. */
const MAX_LINE = 998;

export function receivedHeader(facts: TraceFacts): string {
  const parts = [
    `Received: from ${fromClause(facts.heloName, addressLiteral(facts.clientIp))}`,
    `by ${facts.hostname} with ${facts.protocol} id ${facts.id}`,
  ];
  // "for" names exactly one path; with several recipients it would leak the
  // others (RFC 5321 §4.4, §7.6).
  if (facts.recipients.length === 1) parts.push(`for <${facts.recipients[0]}>;`);
  else parts[1] += ';';
  parts.push(formatMailDate(facts.date));
  const oneLine = parts.join(' ');
  return (Buffer.byteLength(oneLine) <= MAX_LINE ? oneLine : parts.join('\r\n\t')) + '\r\n';
}

function addressLiteral(ip: string): string {
  const plain = ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
  return plain.includes(':') ? `[IPv6:${plain}]` : `[${plain}]`;
}

/** RFC 5321 §4.4 Extended-Domain: the name with the TCP-info, or the address with the name in a comment. */
function fromClause(heloName: string, literal: string): string {
  const ascii = PRINTABLE_ASCII.test(heloName);
  if (ascii && (isDomain(heloName) || isAddressLiteral(heloName))) return `${heloName} (${literal})`;
  return `${literal} (helo=${commentText(heloName)})`;
}

/**
 * ctext and quoted-pair (RFC 5322 §3.2.2): '(', ')' and a backslash are escaped,
 * so they can neither close the comment nor open another. Anything outside
 * printable ASCII becomes '?' (a header line is ASCII, RFC 5322 §2.2), and so
 * does ';': some readers take the date from after the first ';', not the last.
 */
function commentText(text: string): string {
  const ascii = text.slice(0, 255).replace(/[^\x21-\x7e]|;/g, '?') || '?';
  return ascii.replace(/[()\\]/g, (c) => `\\${c}`);
}

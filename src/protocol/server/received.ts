// The trace line a relay prepends to every message it accepts (RFC 5321 §4.4,
// RFC 5322 §3.6.7). The TCP-info comes from the connection, never from EHLO.

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

/** RFC 5322 §2.1.1: lines of at most 998 octets; longer ones are folded. */
const MAX_LINE = 998;

export function receivedHeader(facts: TraceFacts): string {
  const parts = [
    `Received: from ${printable(facts.heloName)} (${addressLiteral(facts.clientIp)})`,
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

/** The EHLO name is the client's word: keep header syntax intact whatever it sent. */
function printable(text: string): string {
  return text.replace(/[^\x21-\x7e]/g, '?').slice(0, 255) || '?';
}

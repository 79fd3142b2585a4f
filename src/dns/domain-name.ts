// The domain of an address, made ready for DNS: lower case, one trailing dot
// dropped, U-labels turned into A-labels (RFC 5890 §2.3.2.1), or recognised
// as an address literal (RFC 5321 §4.1.3), which needs no DNS at all.

import { domainToASCII } from 'node:url';
import * as net from 'node:net';

export type DestinationName =
  | { kind: 'domain'; ascii: string }
  | { kind: 'literal'; literal: string; address: string }
  | { kind: 'invalid'; detail: string };

// RFC 1035 §2.3.4: 63 octets a label, 255 a name on the wire (253 as text).
const MAX_LABEL_OCTETS = 63;
const MAX_NAME_CHARS = 253;

export function parseDestinationName(input: string): DestinationName {
  if (input.startsWith('[')) return parseAddressLiteral(input);
  const name = input.toLowerCase().replace(/\.$/, '');
  const ascii = name === '' ? '' : domainToASCII(name);
  if (ascii === '') return { kind: 'invalid', detail: `invalid domain name "${input}"` };
  // The URL host parser reads "0x7f.1" as 127.0.0.1; a bare IP is no domain.
  if (net.isIP(ascii) !== 0) return { kind: 'invalid', detail: `"${input}" is an IP address, not a domain; an address literal is written [${ascii}]` };
  const labels = ascii.split('.');
  if (ascii.length > MAX_NAME_CHARS || labels.some((l) => l.length === 0 || l.length > MAX_LABEL_OCTETS)) {
    return { kind: 'invalid', detail: `invalid domain name "${input}"` };
  }
  return { kind: 'domain', ascii };
}

/** "[192.0.2.1]" or "[IPv6:2001:db8::1]" (the tag is case-insensitive, RFC 5321 §4.1.3). */
function parseAddressLiteral(input: string): DestinationName {
  const inner = /^\[(.*)\]$/.exec(input)?.[1] ?? '';
  const v6 = /^ipv6:(.*)$/i.exec(inner)?.[1];
  if (v6 !== undefined && net.isIPv6(v6)) return { kind: 'literal', literal: input, address: v6.toLowerCase() };
  if (v6 === undefined && net.isIPv4(inner)) return { kind: 'literal', literal: input, address: inner };
  return { kind: 'invalid', detail: `unusable address literal ${input}` };
}

/** A configured host name in the form DNS answers use, for comparing with MX exchanges. */
export function canonicalHostName(name: string): string {
  const parsed = parseDestinationName(name);
  return parsed.kind === 'domain' ? parsed.ascii : name.toLowerCase().replace(/\.$/, '');
}

// A destination in words, for `minimta resolve DOMAIN` and the logs: what
// DNS said and what the relay will do about it. The codes come from the
// reply table, so this text cannot drift from what is sent.

import { REPLIES, type ReplyName } from '../reply-codes/index.js';
import type { Destination, MxHost } from './destination.js';

function codes(name: ReplyName): string {
  const { code, enhanced } = REPLIES[name] as { code: number; enhanced?: string };
  return enhanced ? `${code} ${enhanced}` : String(code);
}

/** One line per host, or one line for a verdict; each starts with "domain: " when it is given. */
export function formatDestination(destination: Destination, domain?: string): string[] {
  const prefix = domain === undefined ? '' : `${domain}: `;
  return linesFor(destination).map((line) => prefix + line);
}

function linesFor(destination: Destination): string[] {
  switch (destination.kind) {
    case 'hosts':
      return destination.implicit
        ? destination.hosts.map((host) => `no MX, implicit MX (RFC 5321 §5.1): ${host.name} ${addressList(host)}`)
        : destination.hosts.map((host) => `MX ${host.preference} ${host.name} ${addressList(host)}`);
    case 'null-mx':
      return [`null MX (RFC 7505): RCPT gets ${codes('nullMxRecipient')}, MAIL FROM gets ${codes('nullMxSender')}`];
    case 'no-such-domain':
      return [`no such domain (${destination.detail}): RCPT gets ${codes('noSuchDomain')}`];
    case 'no-usable-mx':
      return [`no usable MX (${destination.detail}): RCPT gets ${codes('noSuchDomain')}, queued mail bounces ${codes('dnsNoUsableMx')}`];
    case 'loops-to-self':
      return [`MX loops back to this host (${destination.detail}): queued mail bounces ${codes('mxLoopsToSelf')}`];
    case 'temporary':
      return [`temporary DNS failure (${destination.detail}): RCPT is accepted, delivery waits ${codes('dnsTemporary')}`];
  }
}

function addressList(host: MxHost): string {
  return `[${host.addresses.join(', ')}]`;
}

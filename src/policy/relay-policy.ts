// Who may send what through us, judged at MAIL and RCPT time.
//
// RCPT checks run in this order: syntax (already done by the session) →
// postmaster at our domains, from anyone (RFC 5321 §4.5.1) →
// relay permission (550 5.7.1, RFC 5321 §7.9) → only then DNS: a null MX
// gets 556 5.1.10 (RFC 7505 §4.1, RFC 7504 §4). An untrusted client never
// causes a DNS lookup. A temporary DNS failure accepts: the queue retries.
//
// A refusal is thrown as a ReplyError carrying its reply; the session logs it.

import { reply, ReplyError } from '../reply-codes/index.js';
import type { PolicyContext, SessionPolicy } from '../protocol/server/session.js';
import { domainOf } from '../protocol/shared/address.js';
import { matchesAny, parseCidr, type CidrBlock } from './cidr.js';

/** What the policy needs from DNS: see src/dns for the full Destination. */
export interface DestinationLookup {
  resolveDestination(domain: string): Promise<{ kind: string }>;
}

export interface RelayPolicyOptions {
  /** Clients allowed to relay to any domain (relay.networks). */
  networks: readonly string[];
  /** Domains anyone may send to (relay.domains). */
  domains: readonly string[];
  /** Our own host names: postmaster@ these is always accepted. */
  localDomains: readonly string[];
  /** DNS checks at RCPT (null MX, NXDOMAIN) and MAIL (null MX); absent = none. */
  resolver?: DestinationLookup;
  checkRecipients: boolean;
  checkSenders: boolean;
}

export class RelayPolicy implements SessionPolicy {
  private readonly networks: CidrBlock[];
  private readonly domains: Set<string>;
  private readonly localDomains: Set<string>;

  constructor(private readonly options: RelayPolicyOptions) {
    this.networks = options.networks.map(parseCidr);
    this.domains = new Set(options.domains.map((d) => d.toLowerCase()));
    this.localDomains = new Set(options.localDomains.map((d) => d.toLowerCase()));
  }

  async checkSender(address: string, _context: PolicyContext): Promise<void> {
    const domain = domainOf(address);
    if (!this.options.checkSenders || !this.options.resolver || isLiteral(domain)) return;
    // RFC 7505 §4.2: a sender domain that publishes a null MX can receive no bounces.
    const destination = await this.options.resolver.resolveDestination(domain);
    if (destination.kind === 'null-mx') throw new ReplyError(reply('nullMxSender', { address, domain }));
  }

  async checkRecipient(address: string, context: PolicyContext): Promise<void> {
    const domain = domainOf(address);
    if (this.localDomains.has(domain)) {
      // Our own name: postmaster is always accepted (RFC 5321 §4.5.1); a relay
      // has no other local mailbox, and "u%them@us" must never route (RFC 2505 §2.1).
      if (isPostmaster(address)) return;
      throw new ReplyError(reply('noLocalMailbox', { address }));
    }
    if (!this.domains.has(domain) && !this.mayRelay(context)) throw new ReplyError(reply('relayDenied', { address }));
    // A relay.domains host behind us may still route on "%", "!" or "@" in the
    // local part (RFC 2505 §2.1); only trusted clients may ask it to, as with
    // Postfix's allow_untrusted_routing = no.
    if (hasSenderRouting(address) && !this.mayRelay(context)) throw new ReplyError(reply('senderRoutingDenied', { address }));
    if (!this.options.checkRecipients || !this.options.resolver || isLiteral(domain)) return;
    const destination = await this.options.resolver.resolveDestination(domain);
    switch (destination.kind) {
      case 'null-mx': throw new ReplyError(reply('nullMxRecipient', { address, domain }));
      case 'no-such-domain':
      case 'no-usable-mx': throw new ReplyError(reply('noSuchDomain', { address, domain }));
      default: return;
    }
  }

  /** Trusted networks and authenticated users may relay (RFC 5321 §3.6.2). */
  private mayRelay(context: PolicyContext): boolean {
    return context.authUser !== undefined || matchesAny(context.clientIp, this.networks);
  }
}

function isLiteral(domain: string): boolean {
  return domain.startsWith('[');
}

/**
 * "user%host", "host!user", or a quoted local part holding '@' (or either of
 * the others) once unquoted: the forms a next hop may read as a route.
 */
function hasSenderRouting(address: string): boolean {
  const localPart = address.slice(0, address.lastIndexOf('@'));
  const unquoted = localPart.startsWith('"') ? localPart.slice(1, -1).replace(/\\(.)/g, '$1') : localPart;
  return /[@%!]/.test(unquoted);
}

/** RFC 5321 §4.5.1: "Postmaster" is case-insensitive. */
function isPostmaster(address: string): boolean {
  return address.slice(0, address.lastIndexOf('@')).toLowerCase() === 'postmaster';
}

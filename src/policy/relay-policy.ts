// Who may send what through us, judged at MAIL and RCPT time.
//
// RCPT checks run in this order (checklist §6.1): syntax (already done by
// the session) → postmaster at our domains, from anyone (RFC 5321 §4.5.1) →
// relay permission (550 5.7.1, RFC 5321 §7.9) → only then DNS: a null MX
// gets 556 5.1.10 (RFC 7505 §4.1, RFC 7504 §4). An untrusted client never
// causes a DNS lookup. A temporary DNS failure accepts: the queue retries.

import { reply, type Reply } from '../reply-codes/index.js';
import type { PolicyContext, SessionPolicy } from '../protocol/server/session.js';
import { domainOf } from '../protocol/shared/address.js';
import { matchesAny, parseCidr, type CidrBlock } from './cidr.js';
import type { Logger } from '../log.js';

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
  log: Logger;
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

  async checkSender(address: string, _context: PolicyContext): Promise<Reply | undefined> {
    const domain = domainOf(address);
    if (!this.options.checkSenders || !this.options.resolver || isLiteral(domain)) return undefined;
    // RFC 7505 §4.2: a sender domain that publishes a null MX can receive no bounces.
    const destination = await this.options.resolver.resolveDestination(domain);
    return destination.kind === 'null-mx' ? reply('nullMxSender', { address, domain }) : undefined;
  }

  async checkRecipient(address: string, context: PolicyContext): Promise<Reply | undefined> {
    const domain = domainOf(address);
    if (this.localDomains.has(domain)) {
      // Our own name: postmaster is always accepted (RFC 5321 §4.5.1); a relay
      // has no other local mailbox, and "u%them@us" must never route (RFC 2505 §2.1).
      if (isPostmaster(address)) return undefined;
      this.options.log('smtpd', `reject: RCPT from [${context.clientIp}]: no local mailbox; from=<${context.sender ?? ''}> to=<${address}>`);
      return reply('noLocalMailbox', { address });
    }
    if (!this.domains.has(domain) && !this.mayRelay(context)) {
      this.options.log('smtpd', `reject: RCPT from [${context.clientIp}]: relay access denied; from=<${context.sender ?? ''}> to=<${address}>`);
      return reply('relayDenied', { address });
    }
    // A relay.domains host behind us may still route on "%", "!" or "@" in the
    // local part (RFC 2505 §2.1); only trusted clients may ask it to, as with
    // Postfix's allow_untrusted_routing = no.
    if (hasSenderRouting(address) && !this.mayRelay(context)) {
      this.options.log('smtpd', `reject: RCPT from [${context.clientIp}]: sender-specified routing; from=<${context.sender ?? ''}> to=<${address}>`);
      return reply('senderRoutingDenied', { address });
    }
    if (!this.options.checkRecipients || !this.options.resolver || isLiteral(domain)) return undefined;
    const destination = await this.options.resolver.resolveDestination(domain);
    switch (destination.kind) {
      case 'null-mx': return reply('nullMxRecipient', { address, domain });
      case 'no-such-domain':
      case 'no-usable-mx': return reply('noSuchDomain', { address, domain });
      default: return undefined;
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

// How delivery secures the connection to a destination's MX hosts. In order:
//   1. delivery.tlsPolicies[domain]: the operator's word for that domain
//      (like Postfix's smtp_tls_policy_maps);
//   2. the domain's MTA-STS policy (RFC 8461) in enforce mode: only MX hosts
//      matching it, over TLS with a certificate verified for the MX name
//      (§4.1, §4.2); none matching → defer. In testing mode the violation is
//      logged and mail goes as without it (§5.2);
//   3. delivery.tls for everything else.
// "verify" means: STARTTLS required and the certificate checked against the
// system CAs (plus tls.caFile) and the MX host name, with no plaintext retry.

import type { MxHost } from '../dns/destination.js';
import type { Logger } from '../log.js';
import { reply, type Reply } from '../reply-codes/index.js';
import type { MtaStsPolicies } from './policy-cache.js';
import { policyAllows } from './sts-policy.js';

export type TlsLevel = 'none' | 'opportunistic' | 'required' | 'verify';

export type DestinationSecurity =
  | {
    kind: 'hosts';
    hosts: MxHost[];
    tls: 'none' | 'opportunistic' | 'required';
    /** Verify the certificate against the CAs and the MX host name. */
    verify: boolean;
  }
  | { kind: 'defer'; reply: Reply };

export interface OutboundTlsOptions {
  level: TlsLevel;
  perDomain: Readonly<Record<string, TlsLevel>>;
  /** Absent when delivery.mtaSts is false. */
  mtaSts?: MtaStsPolicies;
  log: Logger;
}

export function levelSecurity(level: TlsLevel, hosts: MxHost[]): DestinationSecurity {
  return level === 'verify'
    ? { kind: 'hosts', hosts, tls: 'required', verify: true }
    : { kind: 'hosts', hosts, tls: level, verify: false };
}

export class OutboundTls {
  constructor(private readonly options: OutboundTlsOptions) {}

  async forDestination(domain: string, hosts: MxHost[], id?: string): Promise<DestinationSecurity> {
    const { perDomain, mtaSts, level, log } = this.options;
    const own = perDomain[domain.toLowerCase()];
    if (own !== undefined) return levelSecurity(own, hosts);
    const found = mtaSts ? await mtaSts.lookUp(domain) : undefined;
    if (found?.kind !== 'policy' || found.policy.mode === 'none') return levelSecurity(level, hosts);
    const { policy } = found;
    const allowed = hosts.filter((h) => policyAllows(policy, h.name));
    const refused = hosts.filter((h) => !allowed.includes(h)).map((h) => h.name);
    if (policy.mode === 'testing') {
      if (refused.length > 0) log('mta-sts', `${domain}: policy (mode testing) would refuse MX ${refused.join(', ')}; delivering anyway`, id);
      return levelSecurity(level, hosts);
    }
    if (allowed.length === 0) {
      return { kind: 'defer', reply: reply('mtaStsNoMatchingMx', { domain, hosts: hosts.map((h) => h.name).join(', ') || '(none)' }) };
    }
    if (refused.length > 0) log('mta-sts', `${domain}: policy (mode enforce) skips MX ${refused.join(', ')}`, id);
    return { kind: 'hosts', hosts: allowed, tls: 'required', verify: true };
  }
}

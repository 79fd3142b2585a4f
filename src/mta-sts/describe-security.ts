// What `minimta resolve DOMAIN` says about TLS toward a destination: the
// operator's per-domain level, the MTA-STS policy found (RFC 8461) and what
// it means for each MX host, or delivery.tls.

import type { MxHost } from '../dns/destination.js';
import type { PolicyLookup } from './policy-cache.js';
import { describePolicy, policyAllows } from './sts-policy.js';
import type { TlsLevel } from './tls-policy.js';

const LEVEL_MEANING: Record<TlsLevel, string> = {
  none: 'no TLS',
  opportunistic: 'STARTTLS when offered, certificate not checked',
  required: 'STARTTLS required, certificate not checked',
  verify: 'STARTTLS required with a certificate verified for the MX name',
};

export interface SecurityFacts {
  domain: string;
  hosts: readonly MxHost[];
  /** delivery.tlsPolicies[domain], if any. */
  own?: TlsLevel;
  /** The MTA-STS lookup; undefined when delivery.mtaSts is off. */
  mtaSts?: PolicyLookup;
  level: TlsLevel;
}

export function describeSecurity(facts: SecurityFacts): string[] {
  const { domain, hosts, own, mtaSts, level } = facts;
  if (own !== undefined) return [`${domain}: TLS: ${LEVEL_MEANING[own]} (delivery.tlsPolicies)`];
  const fallback = `${domain}: TLS: ${LEVEL_MEANING[level]} (delivery.tls)`;
  if (mtaSts === undefined) return [`${domain}: MTA-STS: not checked (delivery.mtaSts is off)`, fallback];
  if (mtaSts.kind === 'none') return [`${domain}: MTA-STS: no policy (${mtaSts.why})`, fallback];
  const { policy } = mtaSts;
  const lines = [`${domain}: MTA-STS: policy id ${mtaSts.id}, ${describePolicy(policy)}${mtaSts.note ? ` (${mtaSts.note})` : ''}`];
  if (policy.mode === 'none') return [...lines, fallback];
  for (const host of hosts) {
    const allowed = policyAllows(policy, host.name);
    lines.push(policy.mode === 'enforce'
      ? `${domain}: MX ${host.name}: ${allowed ? `matches the policy: ${LEVEL_MEANING.verify}` : 'does not match the policy: never used'}`
      : `${domain}: MX ${host.name}: ${allowed ? 'matches the policy' : 'does not match the policy (testing: logged, delivered anyway)'}`);
  }
  if (policy.mode === 'enforce' && !hosts.some((h) => policyAllows(policy, h.name))) {
    lines.push(`${domain}: no MX host matches: mail is deferred (451 4.7.5)`);
  }
  if (policy.mode === 'testing') lines.push(fallback);
  return lines;
}

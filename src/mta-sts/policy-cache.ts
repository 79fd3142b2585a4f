// MTA-STS policy discovery (RFC 8461 §3, §5.1): the TXT record says whether a
// domain has a policy and its id; a policy is fetched when the id is new,
// and kept for its max_age. A kept policy still applies when the TXT record
// or the fetch fails: that is what stops an attacker on the path from
// switching MTA-STS off (§5.1, §10.2).

import type { TxtAnswer } from '../dns/index.js';
import type { Logger } from '../log.js';
import { stsRecordId, stsRecordName } from './sts-record.js';
import type { StsPolicy } from './sts-policy.js';

export type PolicyLookup =
  | { kind: 'none'; why: string }
  | { kind: 'policy'; policy: StsPolicy; id: string; source: 'fetched' | 'cached'; note?: string };

export interface PolicyCacheOptions {
  txt: (name: string) => Promise<TxtAnswer>;
  fetch: (domain: string) => Promise<StsPolicy>;
  now?: () => number;
  log?: Logger;
}

interface Kept {
  policy: StsPolicy;
  id: string;
  expiresAt: number;
}

export class MtaStsPolicies {
  private readonly kept = new Map<string, Kept>();
  private readonly inFlight = new Map<string, Promise<PolicyLookup>>();

  constructor(private readonly options: PolicyCacheOptions) {}

  /** The policy that applies to mail for `domain` now; never rejects. */
  lookUp(domain: string): Promise<PolicyLookup> {
    const name = domain.toLowerCase().replace(/\.$/, '');
    let pending = this.inFlight.get(name);
    if (!pending) {
      pending = this.discover(name).finally(() => this.inFlight.delete(name));
      this.inFlight.set(name, pending);
    }
    return pending;
  }

  private async discover(domain: string): Promise<PolicyLookup> {
    const now = this.options.now?.() ?? Date.now();
    const cached = this.valid(domain, now);
    const answer = await this.options.txt(stsRecordName(domain));
    const id = answer.kind === 'records' ? stsRecordId(answer.records) : undefined;
    if (id === undefined) {
      const why = answer.kind === 'temporary' ? `TXT ${stsRecordName(domain)}: ${answer.code}` : `no MTA-STS TXT record at ${stsRecordName(domain)}`;
      return cached ? this.fromCache(cached, `${why}; the cached policy still applies`) : { kind: 'none', why };
    }
    if (cached && cached.id === id) return this.fromCache(cached);
    try {
      const policy = await this.options.fetch(domain);
      this.kept.set(domain, { policy, id, expiresAt: now + policy.maxAge * 1000 });
      this.options.log?.('mta-sts', `${domain}: policy id ${id} fetched: mode ${policy.mode}, mx ${policy.mx.join(' ')}, max_age ${policy.maxAge}`);
      return { kind: 'policy', policy, id, source: 'fetched' };
    } catch (err) {
      const why = `policy fetch failed: ${(err as Error).message}`;
      this.options.log?.('mta-sts', `${domain}: ${why}${cached ? '; the cached policy still applies' : ''}`);
      // §5.1: no policy can be fetched and none is cached: deliver as without MTA-STS.
      return cached ? this.fromCache(cached, `${why}; the cached policy still applies`) : { kind: 'none', why };
    }
  }

  private valid(domain: string, now: number): Kept | undefined {
    const kept = this.kept.get(domain);
    if (kept && kept.expiresAt > now) return kept;
    this.kept.delete(domain);
    return undefined;
  }

  private fromCache(kept: Kept, note?: string): PolicyLookup {
    return { kind: 'policy', policy: kept.policy, id: kept.id, source: 'cached', ...(note ? { note } : {}) };
  }
}

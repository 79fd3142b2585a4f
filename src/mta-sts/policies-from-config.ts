// The MTA-STS policy cache as the relay and `minimta resolve` build it from
// the config: TXT and policy-host addresses through our resolver (dns.servers),
// the policy fetched over HTTPS from delivery.mtaStsPort, trusting tls.caFile
// besides the system's CAs.

import { readFileSync } from 'node:fs';
import type { Config } from '../config.js';
import type { DestinationResolver } from '../dns/index.js';
import type { Logger } from '../log.js';
import { MtaStsPolicies } from './policy-cache.js';
import { fetchStsPolicy } from './policy-fetch.js';

/** RFC 8461 §3.3 leaves the limit to the sender; a policy host that takes longer is treated as down. */
export const POLICY_FETCH_TIMEOUT_MS = 15_000;

export function mtaStsPolicies(config: Config, resolver: DestinationResolver, log?: Logger): MtaStsPolicies {
  const extraCa = config.tls?.caFile ? readFileSync(config.tls.caFile, 'utf8') : undefined;
  return new MtaStsPolicies({
    txt: (name) => resolver.resolveTxt(name),
    fetch: (domain) => fetchStsPolicy(domain, {
      addressesOf: async (host) => {
        const found = await resolver.resolveHost(host);
        return found.kind === 'hosts' ? found.hosts.flatMap((h) => h.addresses) : [];
      },
      port: config.delivery.mtaStsPort,
      timeoutMs: POLICY_FETCH_TIMEOUT_MS,
      extraCa,
    }),
    log,
  });
}

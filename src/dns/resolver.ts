// resolveDestination: where mail for a domain goes (RFC 5321 §5.1, RFC 7505).
//
//   address literal            → that address, no DNS
//   MX: one "0 ."              → null MX (RFC 7505 §3)
//   MX: exchanges              → their A/AAAA, by preference, equals shuffled,
//                                cut at our own host (loop rule)
//   MX: only root records      → no usable MX (a malformed null MX)
//   no MX (NODATA)             → implicit MX: the domain's own A/AAAA
//   NXDOMAIN                   → no such domain
//   SERVFAIL, timeout, refused → temporary
//
// Only node:dns Resolver queries (resolveMx/resolve4/resolve6) are used:
// dns.lookup goes through getaddrinfo and ignores the configured servers.

import { Resolver } from 'node:dns/promises';
import type { MxRecord } from 'node:dns';
import * as net from 'node:net';
import type { Destination, MxHost } from './destination.js';
import { canonicalHostName, parseDestinationName } from './domain-name.js';
import { beforeSelf, readMxRecords, shuffleEqualPreferences, type Exchange } from './mx-records.js';
import { addressesOf, meaningOf } from './address-lookup.js';
import { ExpiringCache } from './cache.js';
import { lookUpTxt, type TxtAnswer } from './txt-records.js';
import type { Logger } from '../log.js';
import { ZonedResolver, type DnsQueries, type StaticZones } from './static-zones.js';

export interface ResolverOptions {
  /** 'HOST:PORT' or 'HOST' (dns.servers); empty or absent = the system's resolvers. */
  servers?: string[];
  /** Per query, in ms. */
  timeoutMs?: number;
  tries?: number;
  /** Domains whose answers are kept (bounded LRU). 0 = no cache. */
  cacheSize?: number;
  /** How long an answer is kept, in ms. */
  cacheTtlMs?: number;
  /** How long a temporary failure is kept, in ms (default 0: not kept, the next lookup asks again). */
  temporaryTtlMs?: number;
  /** Our own host names, for the loop rule. */
  localNames?: string[];
  /** Our own addresses, for the loop rule. */
  localAddresses?: string[];
  /** The clock of the cache (tests move it). */
  now?: () => number;
  /** Where a malformed null MX is reported. */
  log?: Logger;
  /** Told the verdict of every destination lookup, cached or not (the metrics, src/metrics/). */
  verdict?: (kind: Destination['kind']) => void;
  /** dns.zones: records that win over DNS (static-zones.ts). */
  zones?: StaticZones;
}

const DEFAULT_CACHE_SIZE = 1000;
const DEFAULT_CACHE_TTL_MS = 60_000;

export class DestinationResolver {
  private readonly resolver: DnsQueries;
  private readonly cache: ExpiringCache<Destination>;
  private readonly localNames: Set<string>;
  private readonly localAddresses = new net.BlockList();

  constructor(private readonly options: ResolverOptions = {}) {
    const resolverOptions = {
      timeout: options.timeoutMs === undefined ? -1 : Math.max(1, Math.round(options.timeoutMs)),
      tries: options.tries ?? 4,
    };
    const dns = new Resolver(resolverOptions);
    if (options.servers?.length) dns.setServers(options.servers);
    this.resolver = options.zones ? new ZonedResolver(options.zones, dns) : dns;
    const cacheTtlMs = options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
    const temporaryTtlMs = options.temporaryTtlMs ?? 0;
    this.cache = new ExpiringCache<Destination>({
      maxEntries: options.cacheSize ?? DEFAULT_CACHE_SIZE,
      lifetimeMs: (destination) => (destination.kind === 'temporary' ? temporaryTtlMs : cacheTtlMs),
      now: options.now ?? Date.now,
    });
    this.localNames = new Set((options.localNames ?? []).map(canonicalHostName));
    for (const address of options.localAddresses ?? []) {
      this.localAddresses.addAddress(address, net.isIPv6(address) ? 'ipv6' : 'ipv4');
    }
  }

  /** The TXT records at a name, uncached (DKIM keys, MTA-STS); never rejects. */
  resolveTxt(name: string): Promise<TxtAnswer> {
    return lookUpTxt(this.resolver, name);
  }

  /** Never rejects: every failure is a Destination kind. */
  async resolveDestination(domain: string): Promise<Destination> {
    const name = parseDestinationName(domain);
    switch (name.kind) {
      case 'invalid': return { kind: 'no-such-domain', detail: name.detail };
      case 'literal': return this.literalDestination(name.literal, name.address);
      case 'domain': {
        const destination = await this.cache.get(name.ascii, () => this.lookUp(name.ascii).catch((error: unknown) => this.unexpected(name.ascii, error)));
        this.options.verdict?.(destination.kind);
        return freshCopy(destination);
      }
    }
  }

  /**
   * A named next hop that is not a mail domain (the smarthost): its own
   * A/AAAA, no MX lookup and no loop rule. An IP address or an address
   * literal is taken as is.
   */
  async resolveHost(host: string): Promise<Destination> {
    if (net.isIP(host) !== 0) return { kind: 'hosts', hosts: [{ name: host, preference: 0, addresses: [host] }], implicit: false };
    const name = parseDestinationName(host);
    switch (name.kind) {
      case 'invalid': return { kind: 'no-such-domain', detail: name.detail };
      case 'literal': return { kind: 'hosts', hosts: [{ name: name.literal, preference: 0, addresses: [name.address] }], implicit: false };
      case 'domain': {
        // A space never occurs in a domain, so these keys never meet resolveDestination's.
        const key = `host ${name.ascii}`;
        const destination = await this.cache.get(key, () => this.hostAddresses(name.ascii).catch((error: unknown) => this.unexpected(name.ascii, error)));
        return freshCopy(destination);
      }
    }
  }

  clearCache(): void {
    this.cache.clear();
  }

  /** RFC 5321 §4.1.3: an address literal names the host itself. */
  private literalDestination(literal: string, address: string): Destination {
    if (this.isLocalAddress(address)) return { kind: 'loops-to-self', detail: `${literal} is this host` };
    return { kind: 'hosts', hosts: [{ name: literal, preference: 0, addresses: [address] }], implicit: false };
  }

  private async lookUp(domain: string): Promise<Destination> {
    let records: MxRecord[];
    try {
      records = await this.resolver.resolveMx(domain);
    } catch (error) {
      return this.withoutMx(domain, error);
    }
    // An MX query answered by a CNAME to a name with no MX gives [], not ENODATA.
    if (records.length === 0) return this.implicitMx(domain);
    const verdict = readMxRecords(records);
    switch (verdict.kind) {
      case 'null-mx': return { kind: 'null-mx' };
      case 'malformed-null-mx':
        this.options.log?.('dns', `${domain}: ${verdict.detail}; treated as no usable MX (RFC 5321 §5.1)`);
        return { kind: 'no-usable-mx', detail: verdict.detail };
      case 'exchanges': return this.mxHosts(domain, verdict.exchanges);
    }
  }

  /** The MX query failed: NODATA means implicit MX, NXDOMAIN no domain, the rest "later". */
  private async withoutMx(domain: string, error: unknown): Promise<Destination> {
    const { failure, code } = meaningOf(error);
    switch (failure) {
      case 'no-records': return this.implicitMx(domain);
      case 'no-domain': return { kind: 'no-such-domain', detail: `${domain}: ${code}` };
      case 'temporary': return { kind: 'temporary', detail: `MX ${domain}: ${code}` };
    }
  }

  /**
   * RFC 5321 §5.1: with no MX, the domain is its own host, at preference 0.
   * No address either: the domain takes no mail.
   */
  private async implicitMx(domain: string): Promise<Destination> {
    if (this.localNames.has(domain)) return { kind: 'loops-to-self', detail: `${domain} has no MX and is this host` };
    const { addresses, temporaryFailure } = await addressesOf(this.resolver, domain);
    if (addresses.some((a) => this.isLocalAddress(a))) {
      return { kind: 'loops-to-self', detail: `${domain} has no MX and its address is this host` };
    }
    if (addresses.length > 0) return { kind: 'hosts', hosts: [{ name: domain, preference: 0, addresses }], implicit: true };
    if (temporaryFailure) return { kind: 'temporary', detail: temporaryFailure };
    return { kind: 'no-such-domain', detail: `${domain} has no MX and no A/AAAA records` };
  }

  /**
   * The exchanges' addresses, cut at our own host (by name before any
   * lookup, then by address). A host without addresses is skipped; if
   * nothing is left the domain has no usable MX, or, when a lookup failed
   * only for now, the answer is temporary.
   */
  private async mxHosts(domain: string, exchanges: Exchange[]): Promise<Destination> {
    const byName = beforeSelf(exchanges, (host) => this.localNames.has(host.name));
    if (byName.kept.length === 0) return loopsToSelf(domain, byName.self!);
    const looked = await Promise.all(byName.kept.map(async (host) => ({ ...host, ...(await addressesOf(this.resolver, host.name)) })));
    const byAddress = beforeSelf(looked, (host) => host.addresses.some((a) => this.isLocalAddress(a)));
    if (byAddress.kept.length === 0) return loopsToSelf(domain, byAddress.self!);
    const usable = byAddress.kept.filter((host) => host.addresses.length > 0);
    if (usable.length > 0) {
      return { kind: 'hosts', hosts: usable.map(({ name, preference, addresses }) => ({ name, preference, addresses })), implicit: false };
    }
    const failures = byAddress.kept.map((host) => host.temporaryFailure).filter((f): f is string => f !== undefined);
    if (failures.length > 0) return { kind: 'temporary', detail: failures.join('; ') };
    return { kind: 'no-usable-mx', detail: `no MX host of ${domain} has an address: ${byAddress.kept.map(describeExchange).join(', ')}` };
  }

  private async hostAddresses(host: string): Promise<Destination> {
    const { addresses, temporaryFailure } = await addressesOf(this.resolver, host);
    if (addresses.length > 0) return { kind: 'hosts', hosts: [{ name: host, preference: 0, addresses }], implicit: false };
    if (temporaryFailure) return { kind: 'temporary', detail: temporaryFailure };
    return { kind: 'no-such-domain', detail: `${host} has no A/AAAA records` };
  }

  /** A bug or an odd error must not reject (the caller would lose track of the mail): logged, then "later". */
  private unexpected(domain: string, error: unknown): Destination {
    const detail = `unexpected error resolving ${domain}: ${meaningOf(error).code}`;
    this.options.log?.('dns', detail);
    return { kind: 'temporary', detail };
  }

  private isLocalAddress(address: string): boolean {
    return this.localAddresses.check(address, net.isIPv6(address) ? 'ipv6' : 'ipv4');
  }
}

function loopsToSelf(domain: string, self: Exchange): Destination {
  return { kind: 'loops-to-self', detail: `${describeExchange(self)} is this host and ${domain} has no more preferred MX` };
}

function describeExchange(host: Exchange): string {
  return `MX ${host.preference} ${host.name}`;
}

/**
 * A copy for each caller, so no one can change the cached answer; hosts of
 * equal preference are shuffled on every call, not once per cache lifetime,
 * so the load is spread (RFC 5321 §5.1).
 */
function freshCopy(destination: Destination): Destination {
  if (destination.kind !== 'hosts') return { ...destination };
  const hosts: MxHost[] = destination.hosts.map((host) => ({ ...host, addresses: [...host.addresses] }));
  return { kind: 'hosts', hosts: shuffleEqualPreferences(hosts), implicit: destination.implicit };
}

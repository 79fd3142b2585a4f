// dns.zones: records given in the config that win over DNS, so a test world
// needs no DNS server. A listed name answers from its entry alone (a type it
// does not list is NODATA); a name below a listed one that is not listed
// itself does not exist (NXDOMAIN), as in a zone we are authoritative for;
// every other name goes to the configured DNS servers.
//
//   "example.test":    { "mx": [{ "preference": 10, "exchange": "mx.example.test" }] }
//   "mx.example.test": { "a": ["127.0.0.1"], "aaaa": ["::1"] }
//   "nomail.test":     { "mx": [{ "preference": 0, "exchange": "." }] }   (a null MX, RFC 7505)
//   "gone.test":       "NXDOMAIN"

import type { MxRecord } from 'node:dns';

export interface ZoneEntry {
  mx?: Array<{ preference: number; exchange: string }>;
  a?: string[];
  aaaa?: string[];
  txt?: string[];
}

export type StaticZones = Record<string, ZoneEntry | 'NXDOMAIN'>;

/** The errors node:dns gives, by code (src/dns/address-lookup.ts reads them). */
function dnsError(code: 'ENODATA' | 'ENOTFOUND', type: string, name: string): Error {
  return Object.assign(new Error(`query${type} ${code} ${name}`), { code, hostname: name });
}

const lower = (name: string): string => name.toLowerCase().replace(/\.$/, '');

/** The queries delivery makes (a node:dns Resolver is one). */
export interface DnsQueries {
  resolveMx(name: string): Promise<MxRecord[]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  resolveTxt(name: string): Promise<string[][]>;
}

/** The static zones first, then the DNS servers. */
export class ZonedResolver implements DnsQueries {
  private readonly zones: Map<string, ZoneEntry | 'NXDOMAIN'>;

  constructor(zones: StaticZones, private readonly dns: DnsQueries) {
    this.zones = new Map(Object.entries(zones).map(([name, entry]) => [lower(name), entry]));
  }

  resolveMx(name: string): Promise<MxRecord[]> {
    return this.answer(name, 'Mx', (entry) => entry.mx?.map((r) => ({ priority: r.preference, exchange: r.exchange === '.' ? '' : r.exchange })), () => this.dns.resolveMx(name));
  }

  resolve4(name: string): Promise<string[]> {
    return this.answer(name, 'A', (entry) => entry.a, () => this.dns.resolve4(name));
  }

  resolve6(name: string): Promise<string[]> {
    return this.answer(name, 'Aaaa', (entry) => entry.aaaa, () => this.dns.resolve6(name));
  }

  resolveTxt(name: string): Promise<string[][]> {
    return this.answer(name, 'Txt', (entry) => entry.txt?.map((text) => [text]), () => this.dns.resolveTxt(name));
  }
  private async answer<T>(name: string, type: string, pick: (entry: ZoneEntry) => T[] | undefined, ask: () => Promise<T[]>): Promise<T[]> {
    const key = lower(name);
    const entry = this.zones.get(key);
    if (entry === 'NXDOMAIN') throw dnsError('ENOTFOUND', type, name);
    if (entry) {
      const records = pick(entry);
      if (!records || records.length === 0) throw dnsError('ENODATA', type, name);
      return records;
    }
    for (const zone of this.zones.keys()) {
      if (key.endsWith(`.${zone}`)) throw dnsError('ENOTFOUND', type, name);
    }
    return ask();
  }
}

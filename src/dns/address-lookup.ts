// A host's addresses through the configured resolver (resolve4 and resolve6,
// never dns.lookup: getaddrinfo would ignore the configured servers), and what
// node:dns error codes mean for mail (RFC 5321 §5.1; tested on Node 20).

import type { DnsQueries } from './static-zones.js';

/** no-records: NODATA. no-domain: NXDOMAIN or a name DNS cannot carry. temporary: ask again later. */
export type LookupFailure = 'no-records' | 'no-domain' | 'temporary';

// Every code not listed here (ESERVFAIL, ETIMEOUT, ECONNREFUSED, EREFUSED,
// ECANCELLED, EBADRESP, …, or no code at all) is a temporary failure.
const PERMANENT_CODES: Readonly<Record<string, LookupFailure>> = {
  ENODATA: 'no-records',
  ENOTFOUND: 'no-domain',
  // c-ares refuses names it cannot encode (an empty or over-long label):
  // asking again will not make them valid.
  EBADNAME: 'no-domain',
};

export interface FailureMeaning {
  failure: LookupFailure;
  /** The error code, or the message of an error without one. */
  code: string;
}

export function meaningOf(error: unknown): FailureMeaning {
  const code = codeOf(error);
  return { failure: PERMANENT_CODES[code] ?? 'temporary', code };
}

function codeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.message : String(error);
}

export interface HostAddresses {
  /** IPv4 first, then IPv6: IPv4 reaches more hosts today, and tests run on 127/8. */
  addresses: string[];
  /** Set when a lookup failed only for now, e.g. "AAAA mx.example: ETIMEOUT". */
  temporaryFailure?: string;
}

export async function addressesOf(resolver: DnsQueries, name: string): Promise<HostAddresses> {
  const [v4, v6] = await Promise.all([
    recordsOf('A', name, () => resolver.resolve4(name)),
    recordsOf('AAAA', name, () => resolver.resolve6(name)),
  ]);
  return { addresses: [...v4.addresses, ...v6.addresses], temporaryFailure: v4.temporaryFailure ?? v6.temporaryFailure };
}

async function recordsOf(type: string, name: string, query: () => Promise<string[]>): Promise<HostAddresses> {
  try {
    return { addresses: await query() };
  } catch (error) {
    const { failure, code } = meaningOf(error);
    return failure === 'temporary' ? { addresses: [], temporaryFailure: `${type} ${name}: ${code}` } : { addresses: [] };
  }
}

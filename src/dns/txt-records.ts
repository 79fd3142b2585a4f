// TXT records (RFC 1035 §3.3.14) through the configured resolver: the DKIM
// key records (RFC 6376 §3.6.2.2) and the MTA-STS policy records (RFC 8461
// §3.1). A record made of several strings is one text, joined without
// anything between them (RFC 6376 §3.6.2.2, RFC 7208 §3.3).

import type { DnsQueries } from './static-zones.js';
import { meaningOf } from './address-lookup.js';

export type TxtAnswer =
  | { kind: 'records'; records: string[] }
  /** NODATA or NXDOMAIN: there is no such record. */
  | { kind: 'none'; code: string }
  /** SERVFAIL, a timeout…: ask again later. */
  | { kind: 'temporary'; code: string };

/** Never rejects: every failure is an answer kind. */
export async function lookUpTxt(resolver: DnsQueries, name: string): Promise<TxtAnswer> {
  try {
    const records = await resolver.resolveTxt(name);
    return { kind: 'records', records: records.map((strings) => strings.join('')) };
  } catch (error) {
    const { failure, code } = meaningOf(error);
    return failure === 'temporary' ? { kind: 'temporary', code } : { kind: 'none', code };
  }
}

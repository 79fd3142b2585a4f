// Reading an MX RRset (RFC 5321 §5.1, RFC 7505): null MX or a list of
// exchanges, the loop-to-self cut, and the random order among equals.

import type { MxRecord } from 'node:dns';

export interface Exchange {
  name: string;
  preference: number;
}

export type MxVerdict =
  | { kind: 'null-mx' }
  /** Only root exchanges, but not the one record RFC 7505 §3 defines: MX present, none usable. */
  | { kind: 'malformed-null-mx'; detail: string }
  /** Real exchanges by ascending preference, root records dropped. */
  | { kind: 'exchanges'; exchanges: Exchange[] };

/** The null MX target is the root (RFC 7505 §3): node:dns gives it as ''; accept '.' as well. */
function isRoot(record: MxRecord): boolean {
  return record.exchange === '' || record.exchange === '.';
}

/**
 * A null MX is exactly one record of preference 0 with the root as exchange
 * (RFC 7505 §3, as OpenSMTPD reads it). A root record beside others is not a
 * host (RFC 7505 §3: "." is no valid host name), so it is dropped and the
 * rest are used.
 */
export function readMxRecords(records: readonly MxRecord[]): MxVerdict {
  const [only] = records;
  if (records.length === 1 && only && isRoot(only) && only.priority === 0) return { kind: 'null-mx' };
  const exchanges = records
    .filter((record) => !isRoot(record))
    .map((record) => ({ name: record.exchange.toLowerCase().replace(/\.$/, ''), preference: record.priority }))
    .sort((a, b) => a.preference - b.preference);
  if (exchanges.length === 0) {
    const listed = records.map((r) => `MX ${r.priority} .`).join(', ');
    return { kind: 'malformed-null-mx', detail: `malformed null MX (${listed}): RFC 7505 §3 allows only a single MX 0 .` };
  }
  return { kind: 'exchanges', exchanges: withoutRepeats(exchanges) };
}

/** One host listed twice keeps its most preferred entry. */
function withoutRepeats(sorted: Exchange[]): Exchange[] {
  const seen = new Set<string>();
  return sorted.filter(({ name }) => {
    if (seen.has(name)) return false;
    seen.add(name);
    return true;
  });
}

/**
 * RFC 5321 §5.1: when we are one of the MX hosts, every record of our
 * preference or a higher number is dropped, or the mail would come back to
 * us. Hosts must be sorted by preference.
 */
export function beforeSelf<T extends Exchange>(sorted: readonly T[], isSelf: (host: T) => boolean): { kept: T[]; self?: T } {
  const self = sorted.find(isSelf);
  if (!self) return { kept: [...sorted] };
  return { kept: sorted.filter((host) => host.preference < self.preference), self };
}

/**
 * RFC 5321 §5.1: hosts of equal preference MUST be tried in random order,
 * to spread the load. Hosts must be sorted by preference; runs of equal
 * preference are shuffled (Fisher–Yates), the order between runs is kept.
 */
export function shuffleEqualPreferences<T extends { preference: number }>(sorted: readonly T[], random: () => number = Math.random): T[] {
  const result = [...sorted];
  let start = 0;
  while (start < result.length) {
    let end = start + 1;
    while (end < result.length && result[end]!.preference === result[start]!.preference) end++;
    for (let i = end - 1; i > start; i--) {
      const j = start + Math.floor(random() * (i - start + 1));
      [result[i], result[j]] = [result[j]!, result[i]!];
    }
    start = end;
  }
  return result;
}

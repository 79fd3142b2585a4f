// The MTA-STS policy file (RFC 8461 §3.2) and what it says of an MX host
// (§4.1). The file is lines of "key: value"; version, mode and max_age once,
// mx once or more (not needed for mode none).

export type StsMode = 'enforce' | 'testing' | 'none';

export interface StsPolicy {
  mode: StsMode;
  /** MX patterns: "mx.example.com" or "*.example.com" (one left-most label). */
  mx: string[];
  /** Seconds the policy may be cached (at most 31557600, about a year). */
  maxAge: number;
}

/** RFC 8461 §3.2: max_age is at most 31557600. */
export const MAX_MAX_AGE = 31557600;

export class StsPolicyError extends Error {}

/** Parses a policy file; StsPolicyError says what is wrong. */
export function parseStsPolicy(text: string): StsPolicy {
  const fields = new Map<string, string[]>();
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const colon = line.indexOf(':');
    if (colon < 0) throw new StsPolicyError(`not "key: value": ${JSON.stringify(line.slice(0, 80))}`);
    const key = line.slice(0, colon).trim();
    fields.set(key, [...(fields.get(key) ?? []), line.slice(colon + 1).trim()]);
  }
  const one = (key: string): string => {
    const values = fields.get(key) ?? [];
    if (values.length !== 1) throw new StsPolicyError(values.length === 0 ? `no ${key}` : `${key} given ${values.length} times`);
    return values[0]!;
  };
  if (one('version') !== 'STSv1') throw new StsPolicyError(`version is not STSv1: ${one('version')}`);
  const mode = one('mode');
  if (mode !== 'enforce' && mode !== 'testing' && mode !== 'none') throw new StsPolicyError(`unknown mode "${mode}"`);
  const maxAgeText = one('max_age');
  if (!/^\d{1,10}$/.test(maxAgeText)) throw new StsPolicyError(`max_age is not a number of seconds: ${maxAgeText}`);
  const mx = (fields.get('mx') ?? []).map((m) => m.toLowerCase().replace(/\.$/, ''));
  if (mode !== 'none' && mx.length === 0) throw new StsPolicyError(`mode ${mode} without any mx`);
  return { mode, mx, maxAge: Math.min(Number(maxAgeText), MAX_MAX_AGE) };
}

/**
 * RFC 8461 §4.1: an MX host matches a pattern when equal to it, or, for
 * "*.example.com", when it is one label followed by ".example.com".
 */
export function mxMatches(host: string, pattern: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (!pattern.startsWith('*.')) return name === pattern;
  const suffix = pattern.slice(1);
  return name.endsWith(suffix) && !name.slice(0, -suffix.length).includes('.') && name.length > suffix.length;
}

export function policyAllows(policy: StsPolicy, host: string): boolean {
  return policy.mx.some((pattern) => mxMatches(host, pattern));
}

/** One line for logs and `minimta resolve`. */
export function describePolicy(policy: StsPolicy): string {
  return `mode ${policy.mode}, mx ${policy.mx.join(' ') || '(none)'}, max_age ${policy.maxAge}`;
}

// How a fault rule names addresses: `user@example.com` exactly,
// `@example.com` for a whole domain, a glob with `*` and `?`, or a regular
// expression between slashes. Addresses compare case-insensitively (the
// domain always is, RFC 5321 §2.4; for a test, the local part may as well).

import { FaultRuleError } from './fault-rule-error.js';

export type AddressMatcher = (address: string) => boolean;

export function compileAddressPattern(pattern: unknown, key: string): AddressMatcher {
  if (typeof pattern !== 'string' || pattern === '') throw new FaultRuleError(key, 'must be a non-empty string');
  const regex = /^\/(.*)\/([a-z]*)$/s.exec(pattern);
  if (regex) {
    let compiled: RegExp;
    try {
      compiled = new RegExp(regex[1]!, regex[2]!.replace(/[gy]/g, ''));
    } catch (err) {
      throw new FaultRuleError(key, `not a valid regular expression: ${(err as Error).message}`);
    }
    return (address) => compiled.test(address);
  }
  const lower = pattern.toLowerCase();
  if (lower.includes('*') || lower.includes('?')) {
    const glob = new RegExp(`^${lower.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
    return (address) => glob.test(address.toLowerCase());
  }
  if (lower.startsWith('@')) return (address) => address.toLowerCase().endsWith(lower);
  return (address) => address.toLowerCase() === lower;
}

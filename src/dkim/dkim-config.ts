// The `dkim` config key: which domains sign, with which selector and key.
//
//   "dkim": { "domains": {
//     "example.org": [
//       { "selector": "rsa2026", "key": "/etc/minimta/dkim/example.org.rsa.pem" },
//       { "selector": "ed2026",  "key": "/etc/minimta/dkim/example.org.ed25519.pem", "algorithm": "ed25519-sha256" }
//     ],
//     "example.net": { "selector": "mail", "key": "/etc/minimta/dkim/example.net.pem" }
//   } }
//
// A domain takes one key or a list of them, at most one per algorithm (then
// the message is signed once with each). `algorithm` ("rsa-sha256" or
// "ed25519-sha256"; "rsa" and "ed25519" are accepted too) may be left out:
// the key tells. Every key file is read and checked when the config loads.

import { readFileSync } from 'node:fs';
import { ConfigError, type Check } from '../config-schema.js';
import { DkimKeyError, algorithmOf, parsePrivateKey, type DkimAlgorithm, type DkimKey } from './dkim-keys.js';

export interface DkimKeyConfig {
  selector: string;
  /** Path of the PEM private key. */
  key: string;
  algorithm: DkimAlgorithm;
}

export interface DkimConfig {
  /** Lower-case domain → its keys (one per algorithm at most). */
  domains: Record<string, DkimKeyConfig[]>;
}

const ALGORITHM_NAMES: Record<string, DkimAlgorithm> = {
  'rsa-sha256': 'rsa-sha256', rsa: 'rsa-sha256', 'ed25519-sha256': 'ed25519-sha256', ed25519: 'ed25519-sha256',
};
/** RFC 6376 §3.1: a selector is one or more DNS labels. */
const SELECTOR = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const DOMAIN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function keyEntry(value: unknown, key: string): DkimKeyConfig {
  if (!isObject(value)) throw new ConfigError(key, 'must be an object {selector, key, algorithm}');
  for (const name of Object.keys(value)) {
    if (!['selector', 'key', 'algorithm'].includes(name)) throw new ConfigError(`${key}.${name}`, 'unknown key');
  }
  const { selector, key: file, algorithm } = value;
  if (typeof selector !== 'string' || !SELECTOR.test(selector)) throw new ConfigError(`${key}.selector`, 'must be a DNS label such as "mail2026"');
  if (typeof file !== 'string' || file === '') throw new ConfigError(`${key}.key`, 'must be the path of a PEM private key');
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${key}.key`, `cannot read "${file}": ${(err as Error).message}`);
  }
  let actual: DkimAlgorithm;
  try {
    actual = algorithmOf(parsePrivateKey(pem));
  } catch (err) {
    if (err instanceof DkimKeyError) throw new ConfigError(`${key}.key`, `"${file}": ${err.message}`);
    throw err;
  }
  if (algorithm !== undefined) {
    const named = typeof algorithm === 'string' ? ALGORITHM_NAMES[algorithm] : undefined;
    if (!named) throw new ConfigError(`${key}.algorithm`, 'must be "rsa-sha256" or "ed25519-sha256"');
    if (named !== actual) throw new ConfigError(`${key}.algorithm`, `is ${named}, but "${file}" is a key for ${actual}`);
  }
  return { selector, key: file, algorithm: actual };
}

/** The check for the `dkim` config key (see the top of this file). */
export const dkimConfig: Check<DkimConfig> = (value, key) => {
  if (!isObject(value)) throw new ConfigError(key, 'must be an object {"domains": {...}}');
  for (const name of Object.keys(value)) {
    if (name !== 'domains') throw new ConfigError(`${key}.${name}`, 'unknown key');
  }
  const domains: Record<string, DkimKeyConfig[]> = {};
  if (value.domains === undefined) return { domains };
  if (!isObject(value.domains)) throw new ConfigError(`${key}.domains`, 'must be an object: domain → {selector, key, algorithm} or a list of them');
  for (const [domain, entry] of Object.entries(value.domains)) {
    const path = `${key}.domains.${domain}`;
    const name = domain.toLowerCase().replace(/\.$/, '');
    if (!DOMAIN.test(name)) throw new ConfigError(path, `"${domain}" is not a domain name`);
    if (domains[name]) throw new ConfigError(path, `${name} is given twice`);
    const keys = Array.isArray(entry) ? entry.map((e, i) => keyEntry(e, `${path}[${i}]`)) : [keyEntry(entry, path)];
    if (keys.length === 0) throw new ConfigError(path, 'must name at least one key');
    const algorithms = keys.map((k) => k.algorithm);
    const twice = algorithms.find((a, i) => algorithms.indexOf(a) !== i);
    if (twice) throw new ConfigError(path, `two ${twice} keys: a domain has at most one key per algorithm`);
    domains[name] = keys;
  }
  return { domains };
};

/** Reads the configured keys (checked at config load) for the signer. */
export function loadDkimKeys(config: DkimConfig | undefined): DkimKey[] {
  if (!config) return [];
  return Object.entries(config.domains).flatMap(([domain, keys]) =>
    keys.map(({ selector, key, algorithm }) => ({ domain, selector, algorithm, privateKey: parsePrivateKey(readFileSync(key, 'utf8')) })));
}

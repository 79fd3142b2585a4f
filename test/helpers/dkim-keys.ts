// DKIM keys for tests: one RSA and one Ed25519 key, made once per process
// (an RSA key takes a moment), written to PEM files for configs, with the
// DNS records that publish them.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatePrivateKey, keyRecord, keyRecordName, parsePrivateKey, algorithmOf, type DkimKey } from '../../src/dkim/dkim-keys.js';

export interface TestKeyPair {
  rsaPem: string;
  ed25519Pem: string;
}

let pair: TestKeyPair | undefined;

export function testKeyPems(): TestKeyPair {
  pair ??= { rsaPem: generatePrivateKey('rsa'), ed25519Pem: generatePrivateKey('ed25519') };
  return pair;
}

export function testKey(domain: string, selector: string, pem: string): DkimKey {
  const privateKey = parsePrivateKey(pem);
  return { domain, selector, algorithm: algorithmOf(privateKey), privateKey };
}

/** name → TXT text, for the verifier's DNS or the test DNS server. */
export function recordsOf(keys: DkimKey[]): Record<string, string> {
  return Object.fromEntries(keys.map((k) => [keyRecordName(k.domain, k.selector), keyRecord(k.privateKey)]));
}

/** Writes both keys into `dir`; returns the dkim.domains entry for `domain`. */
export function writeKeyFiles(dir: string, domain: string): Array<{ selector: string; key: string }> {
  const { rsaPem, ed25519Pem } = testKeyPems();
  const rsa = join(dir, `${domain}.rsa.pem`);
  const ed = join(dir, `${domain}.ed25519.pem`);
  writeFileSync(rsa, rsaPem, { mode: 0o600 });
  writeFileSync(ed, ed25519Pem, { mode: 0o600 });
  return [{ selector: 'rsa1', key: rsa }, { selector: 'ed1', key: ed }];
}

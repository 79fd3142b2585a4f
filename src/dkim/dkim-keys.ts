// DKIM keys: the private key a domain signs with (a PEM file), and the public
// key record published in DNS at SELECTOR._domainkey.DOMAIN (RFC 6376 §3.6.1).
// rsa-sha256 keys are RSA (2048 bits by default, at least 1024: RFC 8301 §3.2);
// ed25519-sha256 keys are Ed25519 (RFC 8463 §3).

import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

export type DkimAlgorithm = 'rsa-sha256' | 'ed25519-sha256';

/** The k= tag of the key record for each algorithm. */
export const KEY_TYPE: Record<DkimAlgorithm, 'rsa' | 'ed25519'> = { 'rsa-sha256': 'rsa', 'ed25519-sha256': 'ed25519' };

/** RFC 8301 §3.2: signers MUST use RSA keys of at least 1024 bits. */
export const MIN_RSA_BITS = 1024;
export const DEFAULT_RSA_BITS = 2048;

/** One configured signing key. */
export interface DkimKey {
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  privateKey: KeyObject;
}

/** A PEM text that is not a usable key for DKIM; the message says why. */
export class DkimKeyError extends Error {}

/** The algorithm a private key signs with, or a DkimKeyError. */
export function algorithmOf(key: KeyObject): DkimAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519-sha256';
  if (key.asymmetricKeyType === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) throw new DkimKeyError(`the RSA key has ${bits} bits; DKIM needs at least ${MIN_RSA_BITS} (RFC 8301 §3.2)`);
    return 'rsa-sha256';
  }
  throw new DkimKeyError(`a ${key.asymmetricKeyType ?? 'non-asymmetric'} key cannot sign DKIM (rsa or ed25519 only)`);
}

export function parsePrivateKey(pem: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new DkimKeyError(`not a PEM private key (${(err as Error).message})`);
  }
}

/**
 * The p= value: for RSA the SubjectPublicKeyInfo DER (RFC 6376 §3.6.1), for
 * Ed25519 the bare 32-octet public key (RFC 8463 §4.2), in base64.
 */
export function publicKeyData(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  if (publicKey.asymmetricKeyType === 'ed25519') {
    const jwk = publicKey.export({ format: 'jwk' });
    return Buffer.from(jwk.x ?? '', 'base64url').toString('base64');
  }
  return publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
}

/** The TXT record text to publish (RFC 6376 §3.6.1), e.g. "v=DKIM1; k=ed25519; p=…". */
export function keyRecord(key: KeyObject): string {
  const type = KEY_TYPE[algorithmOf(key)];
  return `v=DKIM1; k=${type}; p=${publicKeyData(key)}`;
}

/** The DNS name of a key record (RFC 6376 §3.6.2.1). */
export function keyRecordName(domain: string, selector: string): string {
  return `${selector}._domainkey.${domain}`;
}

/** A new private key in PKCS#8 PEM. */
export function generatePrivateKey(type: 'rsa' | 'ed25519'): string {
  const { privateKey } = type === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: DEFAULT_RSA_BITS })
    : generateKeyPairSync('ed25519');
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/**
 * A published key record's tags (RFC 6376 §3.6.1: tag=value pairs separated
 * by ";", whitespace around them ignored, and inside p= too).
 */
export function parseKeyRecord(text: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    tags.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).replace(/\s+/g, ''));
  }
  return tags;
}

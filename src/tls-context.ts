// The server's certificate and key, read once from the PEM files named in
// the config (tls.cert, tls.key) and checked before anything listens.

import fs from 'node:fs';
import tls from 'node:tls';
import { ConfigError } from './config-schema.js';

export interface TlsCredentials {
  cert: Buffer;
  key: Buffer;
  /** The same, ready for STARTTLS upgrades. */
  context: tls.SecureContext;
}

/** TLS 1.2 at least (RFC 8996 deprecates 1.0 and 1.1). */
export const MIN_TLS_VERSION = 'TLSv1.2';

export function loadTlsCredentials(files: { cert: string; key: string }): TlsCredentials {
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = fs.readFileSync(files.cert);
  } catch (err) {
    throw new ConfigError('tls.cert', `cannot read ${files.cert}: ${(err as Error).message}`);
  }
  try {
    key = fs.readFileSync(files.key);
  } catch (err) {
    throw new ConfigError('tls.key', `cannot read ${files.key}: ${(err as Error).message}`);
  }
  try {
    return { cert, key, context: tls.createSecureContext({ cert, key, minVersion: MIN_TLS_VERSION }) };
  } catch (err) {
    throw new ConfigError('tls', `the certificate and key do not form a usable pair: ${(err as Error).message}`);
  }
}

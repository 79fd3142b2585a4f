// How the delivery client uses TLS with a next hop, one plan per `tls`
// setting of the request. The steps themselves (STARTTLS, the handshake, the
// second EHLO) are in client.ts and client-connection.ts.

import * as net from 'node:net';
import type { TlsHandshakeOptions } from './connection.js';

/**
 * - opportunistic (default, RFC 3207 between MX hosts): STARTTLS when offered;
 *   certificates unverified; after a failed handshake, plaintext on a new connection.
 * - required: no TLS, no mail (temporary failure: the host may offer it later).
 * - none: never STARTTLS; the operator also allows credentials in plaintext.
 * - implicit: TLS from the first byte, for port 465 (RFC 8314 §3); no fallback.
 */
export type TlsPolicy = 'opportunistic' | 'required' | 'none' | 'implicit';

export interface TlsPlan {
  /** The handshake comes before the greeting (RFC 8314 §3). */
  readonly implicit: boolean;
  /** What to do after EHLO. */
  readonly starttls: 'if-offered' | 'required' | 'never';
  /** After a failed handshake, try once more in plaintext on a new connection (RFC 3207 §4.1 leaves it to the client). */
  readonly plaintextRetry: boolean;
  /** Credentials may go out without TLS: only when the operator chose tls: 'none'. */
  readonly plaintextAuth: boolean;
}

export const TLS_PLANS: Readonly<Record<TlsPolicy, TlsPlan>> = {
  opportunistic: { implicit: false, starttls: 'if-offered', plaintextRetry: true, plaintextAuth: false },
  required: { implicit: false, starttls: 'required', plaintextRetry: false, plaintextAuth: false },
  none: { implicit: false, starttls: 'never', plaintextRetry: false, plaintextAuth: true },
  implicit: { implicit: true, starttls: 'never', plaintextRetry: false, plaintextAuth: false },
};

/** The second connection after a failed opportunistic handshake: STARTTLS is never tried there. */
export const PLAINTEXT_RETRY_PLAN: TlsPlan = { implicit: false, starttls: 'never', plaintextRetry: false, plaintextAuth: false };

export interface TlsRequest {
  /** The next hop's name, e.g. 'mx.example.net' (or an IP literal). */
  readonly host: string;
  readonly tlsVerify?: boolean;
  readonly tlsCa?: string;
  readonly auth?: unknown;
}

/**
 * Whether a failed handshake may be followed by a plaintext try. Never with
 * credentials (they would go out in plaintext) nor when the certificate was
 * to be verified (a plaintext fallback would make the check pointless).
 */
export function mayRetryInPlaintext(plan: TlsPlan, req: TlsRequest): boolean {
  return plan.plaintextRetry && req.auth === undefined && req.tlsVerify !== true;
}

/** SNI carries a host name only, never an IP address (RFC 6066 §3). */
export function handshakeOptions(req: TlsRequest): TlsHandshakeOptions {
  const name = req.host.replace(/\.$/, '');
  const servername = name !== '' && net.isIP(name) === 0 ? name : undefined;
  return { name, servername, verify: req.tlsVerify === true, ...(req.tlsCa !== undefined ? { ca: req.tlsCa } : {}) };
}

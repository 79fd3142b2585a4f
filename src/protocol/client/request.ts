// What the delivery client is asked to do and what it answers: the request,
// the per-command timeouts and the result. The contract, the rules behind
// each field, is at the top of client.ts.

import type { Reply } from '../../reply-codes/index.js';
import type { Credentials } from './auth.js';
import type { NegotiatedTls } from './connection.js';
import type { RecipientResult } from './recipients.js';
import type { TlsPolicy } from './tls.js';
import type { WireRecorder } from '../../trace/recorder.js';

export interface DeliveryRequest {
  /** Tracing (src/trace/): told every line of this transaction; absent, nothing is recorded. */
  recorder?: WireRecorder;
  /** The MX host name, for logs and Remote-MTA, e.g. 'mx.normal.test'. */
  host: string;
  /** The IP address to connect to, IPv4 or IPv6; never a name (no getaddrinfo). */
  address: string;
  port: number;
  /** Our host name for EHLO/HELO. */
  heloName: string;
  /** '' for the null reverse-path <>. */
  sender: string;
  recipients: string[];
  /** Opens the stored message (CRLF line ends, not dot-stuffed); called at most once per attempt. */
  message: () => AsyncIterable<Buffer | string>;
  /** Bytes of the stored message. */
  size: number;
  /** '8BITMIME' when the message needs 8BITMIME (RFC 6152). */
  body: '7BIT' | '8BITMIME';
  /** The envelope needs SMTPUTF8 (RFC 6531). */
  smtputf8: boolean;
  timeouts?: Partial<ClientTimeouts>;
  /** Local address to bind. */
  localAddress?: string;
  /** How TLS is used; default 'opportunistic'. See the notes at the top. */
  tls?: TlsPolicy;
  /**
   * Verify the certificate against the system CAs and `host` (default false:
   * MX certificates are not checked). A failed check is a failed handshake
   * that is never retried in plaintext; pair it with tls 'required'.
   */
  tlsVerify?: boolean;
  /** Extra CA certificates (PEM) trusted besides the system's when verifying (tls.caFile). */
  tlsCa?: string;
  /**
   * The sender's DSN request (RFC 3461), passed on when the next hop offers
   * DSN (§5.2.2): RET and ENVID for MAIL, NOTIFY and ORCPT ("type;address")
   * for each recipient, in the order of `recipients`.
   */
  dsn?: {
    ret?: 'FULL' | 'HDRS';
    envid?: string;
    recipients: ReadonlyArray<{ notify?: readonly string[]; orcpt?: string }>;
  };
  /** Credentials for a smarthost (RFC 4954); sent only under TLS unless tls is 'none'. */
  auth?: Credentials;
}

export interface ClientTimeouts {
  connectMs: number;
  greetingMs: number;
  ehloMs: number;
  mailMs: number;
  rcptMs: number;
  dataInitMs: number;
  /** Longest wait for the socket to take one more block of message data. */
  dataBlockMs: number;
  dataEndMs: number;
  quitMs: number;
  /** The reply to STARTTLS, and then the whole handshake (also for implicit TLS). */
  tlsMs: number;
  /** Each reply of the AUTH exchange. */
  authMs: number;
}

const MINUTE = 60_000;

/** RFC 5321 §4.5.3.2.1–.6 minimums; connect, EHLO and QUIT are ours to choose. */
export const DEFAULT_CLIENT_TIMEOUTS: Readonly<ClientTimeouts> = {
  connectMs: 30_000,
  greetingMs: 5 * MINUTE,
  ehloMs: 5 * MINUTE,
  mailMs: 5 * MINUTE,
  rcptMs: 5 * MINUTE,
  dataInitMs: 2 * MINUTE,
  dataBlockMs: 3 * MINUTE,
  dataEndMs: 10 * MINUTE,
  quitMs: 10_000,
  // Postfix's smtp_starttls_timeout; AUTH as long as EHLO.
  tlsMs: 5 * MINUTE,
  authMs: 5 * MINUTE,
};

export type HostFailureStage = 'connect' | 'greeting' | 'ehlo' | 'helo' | 'starttls' | 'auth' | 'mail';

export interface HostFailure {
  readonly kind: 'host-failed';
  readonly host: string;
  readonly address: string;
  /** The step that failed. */
  readonly stage: HostFailureStage;
  /** Applies to every recipient; 5xx permanent, 4xx temporary. */
  readonly reply: Reply;
}

export interface SessionOutcome {
  readonly kind: 'session';
  readonly host: string;
  readonly address: string;
  /** Every requested recipient, in request order. */
  readonly recipients: RecipientResult[];
  readonly greeting: Reply;
  /** 'EHLO' when ESMTP was spoken, 'HELO' after the fallback. */
  readonly greetedWith: 'EHLO' | 'HELO';
  /** What TLS negotiated; absent when the session was plaintext. */
  readonly tls?: NegotiatedTls;
  /** The next hop offered DSN and the request's DSN parameters went with MAIL and RCPT (RFC 3461 §5.2.2). */
  readonly dsnPassedOn: boolean;
}

export type DeliveryResult = HostFailure | SessionOutcome;

/** The given timeouts over the defaults; an explicit undefined keeps the default. */
export function withDefaults(given: Partial<ClientTimeouts>): ClientTimeouts {
  const timeouts = { ...DEFAULT_CLIENT_TIMEOUTS };
  for (const key of Object.keys(timeouts) as (keyof ClientTimeouts)[]) {
    const value = given[key];
    if (value !== undefined) timeouts[key] = value;
  }
  return timeouts;
}

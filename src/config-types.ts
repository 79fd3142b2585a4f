// What a configuration holds: every key of the config file (README,
// "Configuration"), with its meaning where the name does not say it all.
// config.ts gives the defaults and validates a file against them.

import type { StaticZones } from './dns/static-zones.js';
import type { FaultRuleSpec } from './faults/fault-rule.js';
import type { DkimConfig } from './dkim/dkim-config.js';
import type { TlsLevel } from './mta-sts/tls-policy.js';

export interface ListenConfig {
  host: string;
  port: number;
  mode: 'relay' | 'refuse' | 'capture';
  refuse: 'close' | 'stay';
  tls: 'none' | 'starttls' | 'implicit';
  /**
   * "required": a submission listener (RFC 6409, RFC 8314): MAIL only after
   * AUTH, and AUTH only under TLS. "optional" (the default): AUTH is offered
   * when auth.users is set, and not needed to send to relay.domains.
   */
  auth?: 'optional' | 'required';
  /** Limits for this listener alone, over `limits` (limitsOf(config, listener)). */
  limits?: Partial<Config['limits']>;
}

export interface SmarthostConfig {
  host: string;
  port: number;
  username?: string;
  password?: string;
  tls: 'opportunistic' | 'required' | 'none' | 'implicit';
}

export interface Config {
  hostname: string;
  postmaster?: string;
  listen: ListenConfig[];
  spool: string;
  dns: { servers: string[]; timeout: number; cacheTtl: number; checkRecipients: boolean; checkSenders: boolean; zones?: StaticZones };
  delivery: {
    port: number;
    /** Next hop by recipient domain or MX host name, instead of DNS (src/queue/delivery/next-hop-routes.ts). */
    routes: Record<string, { host: string; port: number }>;
    /**
     * Deliveries at once, in all and per destination; `whenBusy`: messages
     * in flight while clients are sending to a saturated relay, and
     * `holdWhenBusy`: seconds a message due meanwhile waits before it may be
     * one of them (clients first, src/queue/delivery/saturation.ts).
     */
    concurrency: { total: number; perDestination: number; whenBusy: number; holdWhenBusy: number };
    retrySchedule: number[];
    maxQueueLifetime: number;
    bounceLifetime: number;
    /** STARTTLS toward MX hosts (RFC 3207): used when offered, demanded, demanded with a verified certificate, or never. */
    tls: TlsLevel;
    /** Follow the MTA-STS policies of destinations (RFC 8461). */
    mtaSts: boolean;
    /** The port MTA-STS policies are fetched from (443; tests use another). */
    mtaStsPort: number;
    /** Per destination domain: the TLS level, over MTA-STS and `tls` (like Postfix's smtp_tls_policy_maps). */
    tlsPolicies: Record<string, TlsLevel>;
    /** Seconds after which the sender is told a message is delayed (RFC 3464 Action: delayed); 0 = off. */
    delayWarning: number;
    pollInterval: number;
    timeouts: { connect: number; greeting: number; command: number; dataBlock: number; dataEnd: number };
  };
  relay: { networks: string[]; domains: string[] };
  smtp: {
    /** MAIL and RCPT only as "<mailbox>" (RFC 5321 §4.1.2); false accepts what Postfix accepts by default. */
    strictEnvelopes: boolean;
    /** A bare LF: refused (RFC 5321 §2.3.8), or taken as CRLF (line-reader.ts, data-reader.ts). */
    bareNewline: 'reject' | 'normalize';
  };
  smarthost?: SmarthostConfig;
  limits: {
    maxMessageSize: number;
    maxRecipients: number;
    maxConnections: number;
    maxConnectionsPerIp: number;
    maxErrors: number;
    softErrorLimit: number;
    errorDelay: number;
    maxJunkCommands: number;
    maxLineLength: number;
    maxHops: number;
    idleTimeout: number;
    minDataRate: number;
    dataGracePeriod: number;
    refuseIdleTimeout: number;
    refuseMaxCommands: number;
    tlsHandshakeTimeout: number;
    maxAuthFailures: number;
  };
  /** cert and key for the listeners (both or neither); caFile: extra CAs trusted when verifying a next hop or an MTA-STS host. */
  tls?: { cert: string; key: string; caFile?: string };
  /** Seconds a stopping relay gives to transactions and deliveries in flight. */
  shutdownTimeout: number;
  /** senders: user → the addresses and domains that user may put in MAIL FROM (src/auth/sender-binding.ts). */
  auth?: { users: Record<string, string>; requireTls: boolean; senders?: Record<string, string[]> };
  /** Started as root, become this user after binding the listeners (src/privileges.ts). */
  user?: string;
  /** With `user`: this group instead of the user's own. */
  group?: string;
  /** The shape of log lines (src/log.ts). */
  log: { timestamps: boolean; format: 'text' | 'json' };
  /** DKIM signing keys by domain (src/dkim/dkim-config.ts). */
  dkim?: DkimConfig;
  /** The HTTP API and web inbox (src/http/); off when absent. */
  http?: HttpConfig;
  /** Fault rules for tests (src/faults/fault-rule.ts); none by default. */
  faults: FaultRuleSpec[];
  /** Annotated transcripts of SMTP sessions, both directions (src/trace/). */
  trace: TraceConfig;
}

export interface HttpConfig {
  /**
   * "HOST:PORT", or a bare port on 127.0.0.1 (loopback unless told otherwise).
   * 127.0.0.1:8025 when absent, unless `metrics` is set alone.
   */
  listen?: string;
  /** When set, /api/ and /metrics requests need `Authorization: Bearer <token>`. */
  token?: string;
  /** A listener serving only /metrics (Prometheus text format), beside or instead of the HTTP API. */
  metrics?: string;
}

export interface TraceConfig {
  /** Record transcripts: stored beside each message, refused sessions kept in a ring. */
  enabled: boolean;
  /** Also print each transcript live on stdout (`--trace`). */
  live: boolean;
  /** Show message bodies in transcripts (the header section, size and line count otherwise). */
  bodies: boolean;
  /** How many transcripts of sessions that queued nothing are kept in memory. */
  sessions: number;
  /** Largest transcript, in bytes; the rest is cut with a note. */
  maxBytes: number;
}

// The server's limits, each said once. The config gives them in seconds
// (config.limits, the user's contract); limitsOf() in src/config.ts turns
// them into this one shape, in milliseconds, and every part takes the Pick<>
// of it that it needs: the session, the connection, the listener.

export interface Limits {
  /** Largest message, in octets, announced as SIZE (RFC 1870 §4). */
  maxMessageSize: number;
  /** Recipients in one transaction; the next RCPT gets 452 (RFC 5321 §4.5.3.1.8). */
  maxRecipients: number;
  /** Connections at once, and from one address (RFC 5321 §4.2.2: 421 beyond). */
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** Hard error limit: the next command after this many errors gets 421 (RFC 5321 §7.8). */
  maxErrors: number;
  /** From this many errors on, each error reply is delayed by errorDelayMs. */
  softErrorLimit: number;
  errorDelayMs: number;
  /** NOOP, RSET, VRFY, HELP and repeated HELO/EHLO commands allowed in one session. */
  maxJunkCommands: number;
  /** Longest command line, CRLF included (RFC 5321 §4.5.3.1.4); AUTH lines may be longer (RFC 4954 §4). */
  maxLineOctets: number;
  /** Hops (Received: fields) above which a message is a loop (RFC 5321 §6.3). */
  maxHops: number;
  /** Idle time before 421 4.4.2 (RFC 5321 §4.5.3.2.7). */
  idleTimeoutMs: number;
  /** Slow-client defence in DATA: after dataGraceMs, at least this many bytes per second. */
  minDataRate: number;
  dataGraceMs: number;
  /** refuse listeners: a short idle time and a cap on commands (RFC 7504 §3). */
  refuseIdleTimeoutMs: number;
  refuseMaxCommands: number;
  /** Longest a TLS handshake may take. */
  tlsHandshakeTimeoutMs: number;
  /** Failed AUTH attempts before 421 and close. */
  maxAuthFailures: number;
}

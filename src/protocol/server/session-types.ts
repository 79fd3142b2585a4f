// The seam around the session state machine: what it is configured with,
// what it asks of the world (policy, spool, credentials) and what it answers
// with (a Step). The state machine itself is in session.ts.

import type { Reply } from '../../reply-codes/index.js';
import type { Envelope } from '../../queue/spool/envelope.js';
import type { AuthOutcome } from '../../auth/credentials.js';

export type SessionState = 'greeted' | 'ready' | 'mail' | 'data' | 'refusing' | 'closed';
export type ListenerMode = 'relay' | 'refuse' | 'capture';

export interface SessionSettings {
  hostname: string;
  mode: ListenerMode;
  /** refuse mode: close right after the 521 greeting, or stay and answer 521. */
  refuse: 'close' | 'stay';
  maxMessageSize: number;
  maxRecipients: number;
  /** Hard error limit: the next command after this many errors gets 421 (RFC 5321 §7.8). */
  maxErrors: number;
  /** From this many errors on, each reply is delayed (errorDelayMs). */
  softErrorLimit: number;
  errorDelayMs: number;
  /** NOOP, RSET, VRFY, HELP and repeated HELO/EHLO commands allowed in one session. */
  maxJunkCommands: number;
  /** refuse mode: commands answered before the connection is closed. */
  refuseMaxCommands: number;
  /** Where <Postmaster> (no domain) is delivered (RFC 5321 §4.5.1). */
  postmaster: string;
  /** Hops (Received: fields) above which a message is a loop (RFC 5321 §6.3). */
  maxHops: number;
  /** STARTTLS is offered on this listener (RFC 3207). */
  starttls: boolean;
  /** AUTH is offered (users are configured), and whether only under TLS (RFC 4954 §4). */
  auth: boolean;
  authRequiresTls: boolean;
  /** Failed AUTH attempts before 421 and close. */
  maxAuthFailures: number;
  /** Longest command line, CRLF included; AUTH lines may be longer (RFC 4954 §4). */
  maxLineOctets: number;
}

export interface ClientInfo {
  ip: string;
  /** The connection is already encrypted (an implicit-TLS listener, RFC 8314). */
  tls?: boolean;
}

/** What the policy sees when it judges a sender or recipient. */
export interface PolicyContext {
  clientIp: string;
  authUser?: string;
  sender?: string;
}

/** Relay permission and DNS checks; undefined means accepted. */
export interface SessionPolicy {
  checkSender(address: string, context: PolicyContext): Promise<Reply | undefined>;
  checkRecipient(address: string, context: PolicyContext): Promise<Reply | undefined>;
}

/** A message being received into the spool. */
export interface MessageReceipt {
  readonly id: string;
  write(chunk: Buffer): boolean;
  waitForDrain(): Promise<void>;
  commit(envelope: Omit<Envelope, 'size'>): Promise<void>;
  abort(): Promise<void>;
}

export interface MessageStore {
  begin(): Promise<MessageReceipt>;
}

export interface SessionDeps {
  policy: SessionPolicy;
  store: MessageStore;
  now: () => Date;
  /** Checks credentials from an AUTH exchange against the configured users. */
  authenticate: (credentials: { user: string; password: string }) => Promise<AuthOutcome>;
}

/** One event worth a log line; `id` is the queue id when there is one. */
export interface LogEvent {
  id?: string;
  text: string;
}

/** What the server must do after a command or event. */
export interface Step {
  replies: Reply[];
  /** Close the connection once the replies are written. */
  close?: boolean;
  /** Enter the DATA phase: write `header`, then stream the body into `receipt`. */
  receive?: { receipt: MessageReceipt; header: Buffer };
  /** Wait this long before sending the replies (error tarpit, RFC 5321 §7.8). */
  delayMs?: number;
  /** Start the TLS handshake once the replies are written (RFC 3207 §4). */
  startTls?: boolean;
  log?: LogEvent[];
}

/** What the server knows about the wire when a command is run. */
export interface WireContext {
  /** Bytes already received after this command's CRLF. */
  inputPending?: boolean;
  /** Length of the line on the wire, CRLF included (default: computed from the text). */
  octets?: number;
}

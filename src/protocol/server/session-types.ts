// The seam around the session state machine: what it is configured with,
// what it asks of the world (policy, a message store, credentials), what it
// hands over (an AcceptedMessage) and what it answers with (a Step). Every
// type here speaks protocol: the queue decides how to store what the session
// accepted (src/queue/spool/message-store.ts). The state machine itself is
// in session.ts.

import type { Reply } from '../../reply-codes/index.js';
import type { AuthOutcome } from '../../auth/credentials.js';
import type { MailParameters, RcptParameters } from './commands.js';
import type { Limits } from './limits.js';

export type ListenerMode = 'relay' | 'refuse' | 'capture';

/** The session's limits (see limits.ts), and what this listener offers. */
export interface SessionSettings extends Pick<Limits,
  'maxMessageSize' | 'maxRecipients' | 'maxErrors' | 'softErrorLimit' | 'errorDelayMs' | 'maxJunkCommands'
  | 'refuseMaxCommands' | 'maxHops' | 'maxAuthFailures' | 'maxLineOctets'> {
  hostname: string;
  mode: ListenerMode;
  /** refuse mode: close right after the 521 greeting, or stay and answer 521. */
  refuse: 'close' | 'stay';
  /** Where <Postmaster> (no domain) is delivered (RFC 5321 §4.5.1). */
  postmaster: string;
  /** STARTTLS is offered on this listener (RFC 3207). */
  starttls: boolean;
  /** AUTH is offered (users are configured), and whether only under TLS (RFC 4954 §4). */
  auth: boolean;
  authRequiresTls: boolean;
  /** A submission listener (RFC 6409): MAIL only after AUTH (530 5.7.0, RFC 4954 §6). */
  authRequired?: boolean;
  /** smtp.strictEnvelopes: MAIL and RCPT paths only as "<mailbox>" (default false, as Postfix). */
  strictEnvelopes?: boolean;
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

/**
 * Relay permission and DNS checks. Each resolves when the address is
 * accepted and rejects with a ReplyError carrying the refusal.
 */
export interface SessionPolicy {
  checkSender(address: string, context: PolicyContext): Promise<void>;
  checkRecipient(address: string, context: PolicyContext): Promise<void>;
}

/** The policy of a capture listener: everyone is accepted, nothing is asked. */
export const ACCEPT_ALL: SessionPolicy = {
  checkSender: async () => undefined,
  checkRecipient: async () => undefined,
};

/**
 * One message as agreed on the wire, handed to the store once its data has
 * ended: who sent it, from where, to whom, and under which parameters.
 */
export interface AcceptedMessage {
  client: {
    ip: string;
    /** The HELO/EHLO argument (RFC 5321 §4.1.1.1). */
    helo: string;
    /** The session was encrypted (STARTTLS or implicit TLS). */
    tls: boolean;
    /** The user who authenticated (RFC 4954), if one did. */
    authUser?: string;
  };
  /** The "with" keyword of our Received: field: SMTP, ESMTPSA, UTF8SMTPS … (RFC 3848, RFC 6531 §3.7.3). */
  protocol: string;
  /** '' for the null reverse-path <> (RFC 5321 §4.5.5). */
  sender: string;
  /** In the order accepted, <Postmaster> already routed to its address. */
  recipients: readonly string[];
  /** The DSN parameters (NOTIFY, ORCPT) of each recipient, in the same order (RFC 3461). */
  recipientParams: readonly RcptParameters[];
  /** The MAIL parameters: SIZE, BODY, SMTPUTF8, AUTH, RET, ENVID. */
  params: MailParameters;
  /** When the end of data was received. */
  receivedAt: Date;
}

/**
 * A message being received. commit() makes it durable (only then may the
 * session answer 250); it rejects with a ReplyError (451, 452) when it cannot.
 * It tells the size stored: the one `size` of the log, the envelope and the
 * APIs (every byte of the stored message, our trace fields included).
 */
export interface MessageReceipt {
  readonly id: string;
  write(chunk: Buffer): boolean;
  waitForDrain(): Promise<void>;
  commit(message: AcceptedMessage): Promise<{ size: number }>;
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
  /** Sender binding (auth.senders): may this user use this MAIL FROM ('' for <>)? Absent: any. */
  senderOwned?: (user: string, sender: string) => boolean;
}

/** One event worth a log line; `id` is the queue id when there is one. */
export interface LogEvent {
  id?: string;
  text: string;
}

/** What the server must do after a command or event. */
export interface Step {
  replies: Reply[];
  /**
   * Close the connection once the replies are written. 'quit': the client
   * asked, and sends nothing more (RFC 5321 §4.1.1.10), so the connection
   * may go at once; 'hangup': we end it, and the client may still be
   * sending, so it gets a while to read our last reply.
   */
  close?: 'quit' | 'hangup';
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

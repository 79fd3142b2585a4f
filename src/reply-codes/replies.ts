// Every reply minimta sends, by name. Each entry holds the basic code, the
// enhanced code (RFC 3463), the default text, and the RFC section that says
// when the reply is used. Text may hold {placeholders} filled in by reply().
//
// Enhanced codes: minimta puts the enhanced code on every reply that has one,
// before and after EHLO, as Postfix does. The greeting and the EHLO/HELO
// replies carry none (RFC 2034 §3 exempts them); 3xx replies carry none.
// The 521 refusal is the one greeting with an enhanced code (RFC 7504 §3,
// as Postfix postscreen sends it): clients read only its first digit.

import type { Reply } from './reply.js';

export interface ReplyDefinition {
  readonly code: number;
  readonly enhanced?: string;
  readonly text: string;
  readonly rfc: string;
}

export const REPLIES = {
  // ---- Connection opening and closing -----------------------------------
  greeting: { code: 220, text: '{host} ESMTP minimta', rfc: 'RFC 5321 §4.2, §4.3.1' },
  refused: { code: 521, enhanced: '5.3.2', text: '{host} does not accept mail', rfc: 'RFC 7504 §3' },
  bye: { code: 221, enhanced: '2.0.0', text: 'Bye', rfc: 'RFC 5321 §4.1.1.10' },
  idleTimeout: { code: 421, enhanced: '4.4.2', text: '{host} Error: timeout exceeded', rfc: 'RFC 5321 §4.5.3.2.7, §3.8' },
  dataTooSlow: { code: 421, enhanced: '4.4.2', text: '{host} Error: data arriving too slowly', rfc: 'RFC 5321 §3.8; slow-client defence' },
  tooManyErrors: { code: 421, enhanced: '4.7.0', text: '{host} Error: too many errors', rfc: 'RFC 5321 §7.8' },
  tooManyConnections: { code: 421, enhanced: '4.7.0', text: '{host} Error: too many connections', rfc: 'RFC 5321 §3.8, §4.2.2' },
  tooManyConnectionsFromIp: { code: 421, enhanced: '4.7.0', text: '{host} Error: too many connections from your address', rfc: 'RFC 5321 §3.8, §4.2.2' },
  unreadReplies: { code: 421, enhanced: '4.7.0', text: '{host} Error: too many unread replies', rfc: 'RFC 2920 §3.1 (the client reads while it writes); RFC 5321 §3.8' },
  internalError: { code: 421, enhanced: '4.3.0', text: '{host} Error: internal error, closing connection', rfc: 'RFC 5321 §3.8' },
  shuttingDown: { code: 421, enhanced: '4.3.2', text: '{host} Service shutting down', rfc: 'RFC 5321 §3.8; RFC 3463 §3.4' },

  // ---- Session commands ------------------------------------------------
  ehlo: { code: 250, text: '{host}', rfc: 'RFC 5321 §4.1.1.1' },
  helo: { code: 250, text: '{host}', rfc: 'RFC 5321 §4.1.1.1' },
  ok: { code: 250, enhanced: '2.0.0', text: 'Ok', rfc: 'RFC 5321 §4.1.1.5, §4.1.1.9' },
  senderOk: { code: 250, enhanced: '2.1.0', text: 'Ok', rfc: 'RFC 5321 §4.1.1.2; RFC 3463 §3.2' },
  recipientOk: { code: 250, enhanced: '2.1.5', text: 'Ok', rfc: 'RFC 5321 §4.1.1.3; RFC 3463 §3.2' },
  startData: { code: 354, text: 'End data with <CR><LF>.<CR><LF>', rfc: 'RFC 5321 §4.1.1.4' },
  queued: { code: 250, enhanced: '2.0.0', text: 'Ok: queued as {id}', rfc: 'RFC 5321 §4.1.1.4, §6.1' },
  cannotVrfy: { code: 252, enhanced: '2.0.0', text: 'Cannot VRFY user, but will accept message and attempt delivery', rfc: 'RFC 5321 §3.5.3, §7.3' },
  help: { code: 214, enhanced: '2.0.0', text: 'See https://www.rfc-editor.org/rfc/rfc5321', rfc: 'RFC 5321 §4.1.1.8' },

  // ---- Sequence and syntax errors --------------------------------------
  needHelo: { code: 503, enhanced: '5.5.1', text: 'Error: send HELO/EHLO first', rfc: 'RFC 5321 §4.1.1.1, §4.1.4' },
  nestedMail: { code: 503, enhanced: '5.5.1', text: 'Error: nested MAIL command', rfc: 'RFC 5321 §4.1.4' },
  needMail: { code: 503, enhanced: '5.5.1', text: 'Error: need MAIL command', rfc: 'RFC 5321 §3.3, §4.1.4' },
  needRcpt: { code: 503, enhanced: '5.5.1', text: 'Error: need RCPT command', rfc: 'RFC 5321 §3.3' },
  noValidRecipients: { code: 554, enhanced: '5.5.1', text: 'Error: no valid recipients', rfc: 'RFC 5321 §3.3' },
  unknownCommand: { code: 500, enhanced: '5.5.2', text: 'Error: command not recognized', rfc: 'RFC 5321 §4.2.4, §3.8' },
  commandTooLong: { code: 500, enhanced: '5.5.2', text: 'Error: line too long', rfc: 'RFC 5321 §4.5.3.1.4, §4.5.3.1.9' },
  notImplemented: { code: 502, enhanced: '5.5.1', text: 'Error: command not implemented', rfc: 'RFC 5321 §4.2.4' },
  httpCommand: { code: 500, enhanced: '5.5.1', text: 'Error: this is an SMTP server, not a web server', rfc: 'RFC 5321 §4.2.4; cross-protocol defence' },
  syntax: { code: 501, enhanced: '5.5.4', text: 'Syntax: {usage}', rfc: 'RFC 5321 §4.1.4, §4.3.2' },
  badRecipientSyntax: { code: 501, enhanced: '5.1.3', text: 'Bad recipient address syntax', rfc: 'RFC 5321 §4.1.2, §4.5.3.1; RFC 3463 §3.2' },
  badSenderSyntax: { code: 501, enhanced: '5.1.7', text: 'Bad sender address syntax', rfc: 'RFC 5321 §4.1.2, §4.5.3.1; RFC 3463 §3.2' },
  nonAsciiAddress: { code: 553, enhanced: '5.6.7', text: 'Error: non-ASCII address requires the SMTPUTF8 parameter', rfc: 'RFC 6531 §3.4' },
  unknownParameter: { code: 555, enhanced: '5.5.4', text: 'Unsupported parameter {param}', rfc: 'RFC 5321 §4.1.1.11' },
  binaryMime: { code: 555, enhanced: '5.5.4', text: 'BODY=BINARYMIME needs CHUNKING, which is not offered', rfc: 'RFC 3030 §3; RFC 5321 §4.1.1.11' },
  badParameter: { code: 501, enhanced: '5.5.4', text: 'Bad parameter {param}', rfc: 'RFC 5321 §4.1.1.11; RFC 1870 §6' },
  tooManyRecipients: { code: 452, enhanced: '4.5.3', text: 'Error: too many recipients', rfc: 'RFC 5321 §4.5.3.1.8, §4.5.3.1.10' },
  syncError: { code: 554, enhanced: '5.5.0', text: 'Error: SMTP protocol synchronization', rfc: 'RFC 2920 §3.1; injection defence' },

  // ---- DATA outcomes ---------------------------------------------------
  sizeExceedsLimit: { code: 552, enhanced: '5.3.4', text: 'Message size exceeds fixed maximum message size', rfc: 'RFC 1870 §6.1; RFC 5321 §4.5.3.1.10' },
  insufficientStorage: { code: 452, enhanced: '4.3.1', text: 'Insufficient system storage', rfc: 'RFC 1870 §6.2; RFC 5321 §4.2.2' },
  dataLineTooLong: { code: 554, enhanced: '5.6.0', text: 'Error: message line longer than 1000 octets', rfc: 'RFC 5321 §4.5.3.1.6; RFC 5322 §2.1.1' },
  bareLf: { code: 550, enhanced: '5.5.2', text: 'Error: bare <LF> received', rfc: 'RFC 5321 §2.3.8, §4.1.1.4' },
  bareCr: { code: 550, enhanced: '5.5.2', text: 'Error: bare <CR> received', rfc: 'RFC 5321 §2.3.8, §4.1.1.4' },
  tooManyHops: { code: 554, enhanced: '5.4.6', text: 'Error: too many hops (mail loop?)', rfc: 'RFC 5321 §6.3' },
  storageError: { code: 451, enhanced: '4.3.0', text: 'Error: queue file write error', rfc: 'RFC 5321 §4.2.2, §6.1' },

  // ---- Recipient and sender policy --------------------------------------
  nullMxRecipient: { code: 556, enhanced: '5.1.10', text: '<{address}>: Recipient address rejected: domain {domain} does not accept mail (null MX)', rfc: 'RFC 7505 §4.1; RFC 7504 §4' },
  nullMxSender: { code: 550, enhanced: '5.7.27', text: '<{address}>: Sender address rejected: domain {domain} does not accept mail (null MX)', rfc: 'RFC 7505 §4.2' },
  noSuchDomain: { code: 550, enhanced: '5.1.2', text: '<{address}>: Recipient address rejected: domain {domain} not found', rfc: 'RFC 5321 §5.1; RFC 3463 §3.2' },
  relayDenied: { code: 550, enhanced: '5.7.1', text: '<{address}>: Relay access denied', rfc: 'RFC 5321 §3.6.2, §7.9; RFC 2505 §2.1' },
  noLocalMailbox: { code: 550, enhanced: '5.1.1', text: '<{address}>: Recipient address rejected: this host delivers no mail locally (only postmaster)', rfc: 'RFC 5321 §4.5.1; RFC 3463 §3.2' },

  // ---- STARTTLS (RFC 3207) --------------------------------------------------
  tlsReady: { code: 220, enhanced: '2.0.0', text: 'Ready to start TLS', rfc: 'RFC 3207 §4' },
  tlsNotAvailable: { code: 454, enhanced: '4.7.0', text: 'TLS not available due to temporary reason', rfc: 'RFC 3207 §4' },
  tlsAlreadyActive: { code: 503, enhanced: '5.5.1', text: 'Error: TLS already active', rfc: 'RFC 3207 §4; checklist §4.7 policy' },
  tlsRequired: { code: 530, enhanced: '5.7.0', text: 'Must issue a STARTTLS command first', rfc: 'RFC 3207 §4' },

  // ---- AUTH (RFC 4954) ---------------------------------------------------
  // 334 carries no enhanced code: its text is the base64 challenge (§4).
  authChallenge: { code: 334, text: '{challenge}', rfc: 'RFC 4954 §4' },
  authSucceeded: { code: 235, enhanced: '2.7.0', text: 'Authentication successful', rfc: 'RFC 4954 §4, §6' },
  authFailed: { code: 535, enhanced: '5.7.8', text: 'Authentication credentials invalid', rfc: 'RFC 4954 §6' },
  authEncryptionRequired: { code: 538, enhanced: '5.7.11', text: 'Encryption required for requested authentication mechanism', rfc: 'RFC 4954 §4, §6' },
  authRequired: { code: 530, enhanced: '5.7.0', text: 'Authentication required', rfc: 'RFC 4954 §6' },
  authLineTooLong: { code: 500, enhanced: '5.5.6', text: 'Authentication Exchange line is too long', rfc: 'RFC 4954 §4, §6' },
  authUnknownMechanism: { code: 504, enhanced: '5.5.4', text: 'Unrecognized authentication type', rfc: 'RFC 4954 §4, §6' },
  authCancelled: { code: 501, enhanced: '5.7.0', text: 'Authentication cancelled', rfc: 'RFC 4954 §4' },
  authBadBase64: { code: 501, enhanced: '5.5.2', text: 'Invalid base64 data', rfc: 'RFC 4954 §4' },
  authMalformed: { code: 501, enhanced: '5.5.2', text: 'Malformed authentication data', rfc: 'RFC 4616 §2; RFC 4954 §4' },
  authTemporaryFailure: { code: 454, enhanced: '4.7.0', text: 'Temporary authentication failure', rfc: 'RFC 4954 §6' },
  authTooManyFailures: { code: 421, enhanced: '4.7.0', text: '{host} Error: too many failed authentication attempts', rfc: 'RFC 4954 §4; RFC 5321 §3.8' },
  alreadyAuthenticated: { code: 503, enhanced: '5.5.1', text: 'Error: already authenticated', rfc: 'RFC 4954 §4' },
  authDuringTransaction: { code: 503, enhanced: '5.5.1', text: 'Error: AUTH not permitted during a mail transaction', rfc: 'RFC 4954 §4' },

  // ---- Outcomes observed as a client, recorded in the queue --------------
  // Not sent on the wire by our server: they are the "last reply" stored for
  // a recipient when the failure happened before any next hop answered.
  dnsTemporary: { code: 451, enhanced: '4.4.3', text: 'Temporary DNS failure looking up {domain}: {detail}', rfc: 'RFC 5321 §5.1; RFC 3463 §3.5' },
  dnsNoSuchDomain: { code: 550, enhanced: '5.1.2', text: 'Domain {domain} not found', rfc: 'RFC 5321 §5.1; RFC 3463 §3.2' },
  dnsNullMx: { code: 556, enhanced: '5.1.10', text: 'Domain {domain} does not accept mail (null MX)', rfc: 'RFC 7505 §4.1; RFC 7504 §4' },
  dnsNoUsableMx: { code: 550, enhanced: '5.1.2', text: 'Domain {domain} has no usable MX host', rfc: 'RFC 5321 §5.1; RFC 7505 §3' },
  mxLoopsToSelf: { code: 554, enhanced: '5.4.6', text: 'Mail for {domain} loops back to myself', rfc: 'RFC 5321 §5.1' },
  connectFailed: { code: 451, enhanced: '4.4.1', text: 'Connection to {host} failed: {detail}', rfc: 'RFC 5321 §4.5.4.1; RFC 3463 §3.5' },
  connectionLost: { code: 451, enhanced: '4.4.2', text: 'Connection to {host} lost: {detail}', rfc: 'RFC 5321 §3.8' },
  commandTimeout: { code: 451, enhanced: '4.4.2', text: 'Timeout waiting for {host} after {command}', rfc: 'RFC 5321 §4.5.3.2' },
  remoteProtocolError: { code: 451, enhanced: '4.5.0', text: 'Protocol error from {host}: {detail}', rfc: 'RFC 5321 §4.2; RFC 3463 §3.6' },
  messageTooBigForHost: { code: 552, enhanced: '5.3.4', text: 'Message size {size} exceeds the limit {limit} of {host}', rfc: 'RFC 1870 §5' },
  eightBitNotSupported: { code: 554, enhanced: '5.6.3', text: '{host} does not support 8BITMIME and conversion is not supported', rfc: 'RFC 6152 §3' },
  utf8NotSupported: { code: 553, enhanced: '5.6.7', text: '{host} does not support SMTPUTF8', rfc: 'RFC 6531 §3.2' },
  messageUnreadable: { code: 451, enhanced: '4.3.0', text: 'Cannot read the queued message: {detail}', rfc: 'RFC 5321 §4.2.2; RFC 3463 §3.4' },
  expired: { code: 451, enhanced: '4.4.7', text: 'Message expired in the queue', rfc: 'RFC 5321 §4.5.4.1; RFC 3463 §3.5' },
  // TLS and AUTH towards the next hop (a smarthost, or an MX with tls: 'required').
  // All temporary: the operator's policy or credentials may be fixed, and a
  // next hop may start offering TLS. Codes as Postfix uses them.
  tlsNotOfferedByHost: { code: 451, enhanced: '4.7.4', text: 'TLS is required, but was not offered by {host}', rfc: 'RFC 3207 §4; RFC 3463 §3.8 (X.7.4)' },
  tlsRefusedByHost: { code: 451, enhanced: '4.7.5', text: 'TLS is required, but {host} refused to start TLS: {detail}', rfc: 'RFC 3207 §4; RFC 3463 §3.8 (X.7.5)' },
  tlsHandshakeFailed: { code: 451, enhanced: '4.7.5', text: 'Cannot start TLS with {host}: {detail}', rfc: 'RFC 3207 §4; RFC 8314 §3; RFC 3463 §3.8 (X.7.5)' },
  passwordNeedsTls: { code: 451, enhanced: '4.7.10', text: 'Will not send the password to {host} in plaintext: {detail}', rfc: 'RFC 4954 §4, §9; RFC 5248 (X.7.10 encryption needed)' },
  authNotOfferedByHost: { code: 451, enhanced: '4.7.4', text: '{host} offers no authentication mechanism we can use (PLAIN, LOGIN): {detail}', rfc: 'RFC 4954 §3; RFC 3463 §3.8 (X.7.4)' },
  authRejectedByHost: { code: 451, enhanced: '4.7.0', text: 'Authentication to {host} failed: {detail}', rfc: 'RFC 4954 §6; deferred, not bounced, as Postfix smtp_sasl_auth_soft_bounce' },
} as const satisfies Record<string, ReplyDefinition>;

export type ReplyName = keyof typeof REPLIES;

/** Builds the named reply, filling {placeholders} from vars. */
export function reply(name: ReplyName, vars: Record<string, string | number> = {}): Reply {
  const def: ReplyDefinition = REPLIES[name];
  const text = def.text.replace(/\{(\w+)\}/g, (whole, key: string) =>
    key in vars ? String(vars[key]) : whole);
  return def.enhanced ? { code: def.code, enhanced: def.enhanced, lines: [text] }
                      : { code: def.code, lines: [text] };
}

/** The same reply with other lines of text (EHLO's keyword list, for one). */
export function withLines(base: Reply, lines: readonly string[]): Reply {
  return { ...base, lines };
}

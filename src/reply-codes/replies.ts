// Every reply minimta sends, by name. Each entry holds the basic code, the
// enhanced code (RFC 3463), the default text, the RFC section that says
// when the reply is used, when minimta sends it and what a client should do
// about it (for `minimta explain` and the transcripts, src/trace/). Text may
// hold {placeholders} filled in by reply().
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
  /** When minimta sends (or, for delivery outcomes, records) this reply. */
  readonly when: string;
  /** What the client (or the sender, for recorded outcomes) should do next. */
  readonly advice: string;
}

export const REPLIES = {
  // ---- Connection opening and closing -----------------------------------
  greeting: {
    code: 220, text: '{host} ESMTP minimta', rfc: 'RFC 5321 §4.2, §4.3.1',
    when: 'A client connects to a listener in relay or capture mode.',
    advice: 'Send EHLO (or HELO) with your host name.',
  },
  refused: {
    code: 521, enhanced: '5.3.2', text: '{host} does not accept mail', rfc: 'RFC 7504 §3',
    when: 'A client connects to a listener in refuse mode: this host takes no mail at all.',
    advice: 'Do not retry this host; try the next MX, or give up on this domain (RFC 7504 §3).',
  },
  bye: {
    code: 221, enhanced: '2.0.0', text: 'Bye', rfc: 'RFC 5321 §4.1.1.10',
    when: 'The client sent QUIT.',
    advice: 'Close the connection; the session is over.',
  },
  idleTimeout: {
    code: 421, enhanced: '4.4.2', text: '{host} Error: timeout exceeded', rfc: 'RFC 5321 §4.5.3.2.7, §3.8',
    when: 'The client sent nothing for limits.idleTimeout seconds.',
    advice: 'Reconnect and send commands without long pauses; nothing of an unfinished transaction was kept.',
  },
  dataTooSlow: {
    code: 421, enhanced: '4.4.2', text: '{host} Error: data arriving too slowly', rfc: 'RFC 5321 §3.8; slow-client defence',
    when: 'The message arrived slower than limits.minDataRate bytes per second after the grace period.',
    advice: 'Retry later over a faster link; the message was not accepted.',
  },
  tooManyErrors: {
    code: 421, enhanced: '4.7.0', text: '{host} Error: too many errors', rfc: 'RFC 5321 §7.8',
    when: 'The client made limits.maxErrors errors (or too many NOOP-like commands) in one session.',
    advice: 'Fix the commands that failed before, then reconnect.',
  },
  tooManyConnections: {
    code: 421, enhanced: '4.7.0', text: '{host} Error: too many connections', rfc: 'RFC 5321 §3.8, §4.2.2',
    when: 'All limits.maxConnections connection slots are taken.',
    advice: 'Retry later; the server is busy.',
  },
  faultRateExceeded: {
    code: 421, enhanced: '4.7.0', text: '{host} Error: too many messages, slow down', rfc: 'RFC 5321 §3.8, §4.2.2',
    when: 'A fault rule with a rate (config faults) saw more messages in its window than it allows.',
    advice: 'Reconnect later and send more slowly.',
  },
  faultReplyDefault: {
    code: 451, enhanced: '4.3.0', text: 'Error: refused by a test fault rule', rfc: 'RFC 5321 §4.2.2',
    when: 'A fault rule (config faults) gave a code with no text of its own.',
    advice: 'This server is a test double: the failure was asked for by the test.',
  },
  tooManyConnectionsFromIp: {
    code: 421, enhanced: '4.7.0', text: '{host} Error: too many connections from your address', rfc: 'RFC 5321 §3.8, §4.2.2',
    when: 'Your address already holds limits.maxConnectionsPerIp connections.',
    advice: 'Close idle connections or send fewer at once, then retry.',
  },
  unreadReplies: {
    code: 421, enhanced: '4.7.0', text: '{host} Error: too many unread replies', rfc: 'RFC 2920 §3.1 (the client reads while it writes); RFC 5321 §3.8',
    when: 'The client pipelined commands without reading the replies: more than 128 KiB of them waited for it.',
    advice: 'Read the replies while you send; pipeline a group of commands, then read its replies (RFC 2920 §3.1).',
  },
  internalError: {
    code: 421, enhanced: '4.3.0', text: '{host} Error: internal error, closing connection', rfc: 'RFC 5321 §3.8',
    when: 'Something broke inside minimta while it handled the session.',
    advice: 'Retry later; the operator will find the cause in the log.',
  },
  shuttingDown: {
    code: 421, enhanced: '4.3.2', text: '{host} Service shutting down', rfc: 'RFC 5321 §3.8; RFC 3463 §3.4',
    when: 'minimta is stopping (SIGTERM) or restarting.',
    advice: 'Retry later, preferably at another MX meanwhile.',
  },

  // ---- Session commands ------------------------------------------------
  ehlo: {
    code: 250, text: '{host}', rfc: 'RFC 5321 §4.1.1.1',
    when: 'The client sent EHLO with a host name; the extension keywords follow on the next lines.',
    advice: 'Read the keywords (SIZE, PIPELINING, STARTTLS, AUTH …) and use what you need; then MAIL FROM.',
  },
  helo: {
    code: 250, text: '{host}', rfc: 'RFC 5321 §4.1.1.1',
    when: 'The client sent HELO with a host name (no extensions on this path).',
    advice: 'Go on with MAIL FROM; use EHLO instead to use any extension.',
  },
  ok: {
    code: 250, enhanced: '2.0.0', text: 'Ok', rfc: 'RFC 5321 §4.1.1.5, §4.1.1.9',
    when: 'NOOP, RSET, or another command that needs no more than "done".',
    advice: 'Go on.',
  },
  senderOk: {
    code: 250, enhanced: '2.1.0', text: 'Ok', rfc: 'RFC 5321 §4.1.1.2; RFC 3463 §3.2',
    when: 'MAIL FROM was accepted: a transaction has started.',
    advice: 'Send RCPT TO for each recipient.',
  },
  recipientOk: {
    code: 250, enhanced: '2.1.5', text: 'Ok', rfc: 'RFC 5321 §4.1.1.3; RFC 3463 §3.2',
    when: 'RCPT TO was accepted: this recipient will get the message.',
    advice: 'Send more RCPT TO, or DATA.',
  },
  startData: {
    code: 354, text: 'End data with <CR><LF>.<CR><LF>', rfc: 'RFC 5321 §4.1.1.4',
    when: 'DATA was accepted after at least one recipient.',
    advice: 'Send the message, dot-stuffed, and end it with a line holding only "." (<CR><LF>.<CR><LF>).',
  },
  queued: {
    code: 250, enhanced: '2.0.0', text: 'Ok: queued as {id}', rfc: 'RFC 5321 §4.1.1.4, §6.1',
    when: 'The message is stored and fsynced in the spool: minimta now owns its delivery.',
    advice: 'Forget the message: delivery, retries and any bounce are minimta\'s job now.',
  },
  cannotVrfy: {
    code: 252, enhanced: '2.0.0', text: 'Cannot VRFY user, but will accept message and attempt delivery', rfc: 'RFC 5321 §3.5.3, §7.3',
    when: 'The client sent VRFY: minimta never tells which addresses exist.',
    advice: 'Just send the message (MAIL, RCPT, DATA).',
  },
  // The text lines come from src/protocol/server/help.ts.
  help: {
    code: 214, enhanced: '2.0.0', text: 'Commands: see HELP <command>', rfc: 'RFC 5321 §4.1.1.8',
    when: 'The client sent HELP (the list of commands) or HELP <command> (its syntax and RFC section).',
    advice: 'Read the syntax shown and send the command.',
  },
  helpUnknownTopic: {
    code: 504, enhanced: '5.5.4', text: 'HELP: no such command {topic}', rfc: 'RFC 5321 §4.1.1.8, §4.2.4',
    when: 'The client asked HELP about a word that is no SMTP command minimta knows.',
    advice: 'Send HELP alone for the list of commands.',
  },

  // ---- Sequence and syntax errors --------------------------------------
  needHelo: {
    code: 503, enhanced: '5.5.1', text: 'Error: send HELO/EHLO first', rfc: 'RFC 5321 §4.1.1.1, §4.1.4',
    when: 'MAIL, RCPT, DATA or AUTH came before EHLO/HELO (or before a new EHLO after STARTTLS).',
    advice: 'Send EHLO first.',
  },
  nestedMail: {
    code: 503, enhanced: '5.5.1', text: 'Error: nested MAIL command', rfc: 'RFC 5321 §4.1.4',
    when: 'MAIL FROM came while a transaction was open.',
    advice: 'Finish the transaction with DATA, or send RSET, then MAIL FROM again.',
  },
  needMail: {
    code: 503, enhanced: '5.5.1', text: 'Error: need MAIL command', rfc: 'RFC 5321 §3.3, §4.1.4',
    when: 'RCPT TO or DATA came without a transaction.',
    advice: 'Send MAIL FROM first.',
  },
  needRcpt: {
    code: 503, enhanced: '5.5.1', text: 'Error: need RCPT command', rfc: 'RFC 5321 §3.3',
    when: 'DATA came before any RCPT TO.',
    advice: 'Send RCPT TO for at least one recipient first.',
  },
  noValidRecipients: {
    code: 554, enhanced: '5.5.1', text: 'Error: no valid recipients', rfc: 'RFC 5321 §3.3',
    when: 'DATA came after every RCPT TO was refused.',
    advice: 'Look at each refused RCPT\'s reply; send RSET and start over with good recipients.',
  },
  unknownCommand: {
    code: 500, enhanced: '5.5.2', text: 'Error: command not recognized', rfc: 'RFC 5321 §4.2.4, §3.8',
    when: 'The command verb is not one minimta knows.',
    advice: 'Check the spelling; HELP lists the commands.',
  },
  commandTooLong: {
    code: 500, enhanced: '5.5.2', text: 'Error: line too long', rfc: 'RFC 5321 §4.5.3.1.4, §4.5.3.1.9',
    when: 'A command line was longer than limits.maxLineLength octets (at least 512).',
    advice: 'Send shorter lines; an address longer than the limit cannot be used.',
  },
  notImplemented: {
    code: 502, enhanced: '5.5.1', text: 'Error: command not implemented', rfc: 'RFC 5321 §4.2.4',
    when: 'A command SMTP defines that minimta does not do (EXPN, TURN, ETRN, BDAT …), or STARTTLS/AUTH where not configured.',
    advice: 'Do without it; EHLO lists what is offered.',
  },
  httpCommand: {
    code: 500, enhanced: '5.5.1', text: 'Error: this is an SMTP server, not a web server', rfc: 'RFC 5321 §4.2.4; cross-protocol defence',
    when: 'An HTTP request line (GET, POST …) came to the SMTP port.',
    advice: 'Point your web client at the HTTP port; this port speaks SMTP.',
  },
  syntax: {
    code: 501, enhanced: '5.5.4', text: 'Syntax: {usage}', rfc: 'RFC 5321 §4.1.4, §4.3.2',
    when: 'A command\'s arguments were missing or wrong; the text shows the expected form.',
    advice: 'Send the command again in the form shown.',
  },
  badRecipientSyntax: {
    code: 501, enhanced: '5.1.3', text: 'Bad recipient address syntax', rfc: 'RFC 5321 §4.1.2, §4.5.3.1; RFC 3463 §3.2',
    when: 'RCPT TO held an address that does not parse, or a null path <>.',
    advice: 'Send a valid address: RCPT TO:<local@domain>.',
  },
  badSenderSyntax: {
    code: 501, enhanced: '5.1.7', text: 'Bad sender address syntax', rfc: 'RFC 5321 §4.1.2, §4.5.3.1; RFC 3463 §3.2',
    when: 'MAIL FROM held an address that does not parse.',
    advice: 'Send a valid address, or <> for a bounce: MAIL FROM:<local@domain>.',
  },
  nonAsciiAddress: {
    code: 553, enhanced: '5.6.7', text: 'Error: non-ASCII address requires the SMTPUTF8 parameter', rfc: 'RFC 6531 §3.4',
    when: 'A UTF-8 address came without the SMTPUTF8 parameter on MAIL FROM.',
    advice: 'Add SMTPUTF8 to MAIL FROM (RFC 6531), or use an ASCII address.',
  },
  unknownParameter: {
    code: 555, enhanced: '5.5.4', text: 'Unsupported parameter {param}', rfc: 'RFC 5321 §4.1.1.11',
    when: 'MAIL FROM or RCPT TO carried an ESMTP parameter minimta does not know.',
    advice: 'Drop the parameter; EHLO lists the extensions offered.',
  },
  binaryMime: {
    code: 555, enhanced: '5.5.4', text: 'BODY=BINARYMIME needs CHUNKING, which is not offered', rfc: 'RFC 3030 §3; RFC 5321 §4.1.1.11',
    when: 'MAIL FROM asked for BODY=BINARYMIME, which needs CHUNKING.',
    advice: 'Send the body as 8BITMIME or 7BIT.',
  },
  badParameter: {
    code: 501, enhanced: '5.5.4', text: 'Bad parameter {param}', rfc: 'RFC 5321 §4.1.1.11; RFC 1870 §6',
    when: 'An ESMTP parameter had a bad value (SIZE=abc, BODY=x …).',
    advice: 'Fix the parameter\'s value.',
  },
  tooManyRecipients: {
    code: 452, enhanced: '4.5.3', text: 'Error: too many recipients', rfc: 'RFC 5321 §4.5.3.1.8, §4.5.3.1.10',
    when: 'A transaction reached limits.maxRecipients recipients.',
    advice: 'Send the message now, then the remaining recipients in a new transaction.',
  },
  syncError: {
    code: 554, enhanced: '5.5.0', text: 'Error: SMTP protocol synchronization', rfc: 'RFC 2920 §3.1; injection defence',
    when: 'The client sent data before minimta\'s 354 reply to DATA (a pipelining violation or an injection attempt).',
    advice: 'Wait for 354 before sending the message (RFC 2920 §3.1).',
  },

  // ---- DATA outcomes ---------------------------------------------------
  sizeExceedsLimit: {
    code: 552, enhanced: '5.3.4', text: 'Message size exceeds fixed maximum message size', rfc: 'RFC 1870 §6.1; RFC 5321 §4.5.3.1.10',
    when: 'The message (or its SIZE= declaration) is larger than limits.maxMessageSize.',
    advice: 'Send a smaller message; the EHLO SIZE keyword shows the limit.',
  },
  insufficientStorage: {
    code: 452, enhanced: '4.3.1', text: 'Insufficient system storage', rfc: 'RFC 1870 §6.2; RFC 5321 §4.2.2',
    when: 'The spool\'s disk is full.',
    advice: 'Retry later.',
  },
  dataLineTooLong: {
    code: 554, enhanced: '5.6.0', text: 'Error: message line longer than 1000 octets', rfc: 'RFC 5321 §4.5.3.1.6; RFC 5322 §2.1.1',
    when: 'A line of the message was longer than 1000 octets with its CRLF.',
    advice: 'Encode the body (quoted-printable or base64) so that lines stay short.',
  },
  bareLf: {
    code: 550, enhanced: '5.5.2', text: 'Error: bare <LF> received', rfc: 'RFC 5321 §2.3.8, §4.1.1.4',
    when: 'A line ended in a bare <LF> instead of <CR><LF> (smtp.bareNewline "reject").',
    advice: 'End every line with <CR><LF>; with nc use "nc -C", or ask the operator for smtp.bareNewline "normalize".',
  },
  bareCr: {
    code: 550, enhanced: '5.5.2', text: 'Error: bare <CR> received', rfc: 'RFC 5321 §2.3.8, §4.1.1.4',
    when: 'A bare <CR> without <LF> came in a command or in the message.',
    advice: 'End every line with <CR><LF> and send no lone <CR>.',
  },
  tooManyHops: {
    code: 554, enhanced: '5.4.6', text: 'Error: too many hops (mail loop?)', rfc: 'RFC 5321 §6.3',
    when: 'The message carries more than limits.maxHops Received: lines: it is probably looping.',
    advice: 'Fix the forwarding loop between the mail servers.',
  },
  storageError: {
    code: 451, enhanced: '4.3.0', text: 'Error: queue file write error', rfc: 'RFC 5321 §4.2.2, §6.1',
    when: 'Writing the message into the spool failed.',
    advice: 'Retry later; nothing was accepted.',
  },

  // ---- Recipient and sender policy --------------------------------------
  nullMxRecipient: {
    code: 556, enhanced: '5.1.10', text: '<{address}>: Recipient address rejected: domain {domain} does not accept mail (null MX)', rfc: 'RFC 7505 §4.1; RFC 7504 §4',
    when: 'RCPT TO names a domain whose DNS publishes a null MX (MX 0 "."): that domain takes no mail.',
    advice: 'Do not retry; tell the sender the address cannot receive mail.',
  },
  nullMxSender: {
    code: 550, enhanced: '5.7.27', text: '<{address}>: Sender address rejected: domain {domain} does not accept mail (null MX)', rfc: 'RFC 7505 §4.2',
    when: 'MAIL FROM names a domain with a null MX: no reply or bounce could ever reach it.',
    advice: 'Use a sender address in a domain that receives mail.',
  },
  noSuchDomain: {
    code: 550, enhanced: '5.1.2', text: '<{address}>: Recipient address rejected: domain {domain} not found', rfc: 'RFC 5321 §5.1; RFC 3463 §3.2',
    when: 'RCPT TO names a domain that does not exist in DNS (NXDOMAIN).',
    advice: 'Check the spelling of the domain.',
  },
  relayDenied: {
    code: 550, enhanced: '5.7.1', text: '<{address}>: Relay access denied', rfc: 'RFC 5321 §3.6.2, §7.9; RFC 2505 §2.1',
    when: 'RCPT TO names another domain and the client may not relay: its address is not in relay.networks and it has not authenticated.',
    advice: 'Authenticate (AUTH), or send from an allowed network, or send to the domain\'s own MX.',
  },
  // Postfix allow_untrusted_routing = no: u%them@ours, them!u@ours, "u@them"@ours.
  senderRoutingDenied: {
    code: 550, enhanced: '5.7.1', text: '<{address}>: Relay access denied: sender-specified routing', rfc: 'RFC 2505 §2.1; RFC 5321 §3.6.1, §7.9',
    when: 'RCPT TO names a relay.domains domain with "%" or "!" in the local part, or a quoted local part holding "@", "%" or "!", and the client is neither in relay.networks nor authenticated.',
    advice: 'Send to the final address itself (user@final-domain), or authenticate (AUTH).',
  },
  noLocalMailbox: {
    code: 550, enhanced: '5.1.1', text: '<{address}>: Recipient address rejected: this host delivers no mail locally (only postmaster)', rfc: 'RFC 5321 §4.5.1; RFC 3463 §3.2',
    when: 'RCPT TO names a mailbox at minimta\'s own host name other than postmaster: minimta has no local mailboxes.',
    advice: 'Send to an address in another domain; only postmaster works here.',
  },

  // ---- STARTTLS (RFC 3207) --------------------------------------------------
  tlsReady: {
    code: 220, enhanced: '2.0.0', text: 'Ready to start TLS', rfc: 'RFC 3207 §4',
    when: 'The client sent STARTTLS and TLS is available.',
    advice: 'Start the TLS handshake now; after it, send EHLO again.',
  },
  tlsNotAvailable: {
    code: 454, enhanced: '4.7.0', text: 'TLS not available due to temporary reason', rfc: 'RFC 3207 §4',
    when: 'STARTTLS was asked but the TLS setup is not usable just now.',
    advice: 'Go on without TLS, or retry later if TLS is required.',
  },
  // A handshake would wipe the transaction (RFC 3207 §4.2), so it is refused, as Postfix does.
  tlsDuringTransaction: {
    code: 503, enhanced: '5.5.1', text: 'Error: MAIL transaction in progress', rfc: 'RFC 3207 §4.2; RFC 5321 §4.1.4',
    when: 'STARTTLS came between MAIL FROM and the end of DATA.',
    advice: 'Finish the transaction or send RSET, then STARTTLS.',
  },
  tlsAlreadyActive: {
    code: 503, enhanced: '5.5.1', text: 'Error: TLS already active', rfc: 'RFC 3207 §4 (no code is given there; 503 as Postfix)',
    when: 'STARTTLS came inside a TLS session.',
    advice: 'Go on: the session is already encrypted.',
  },
  tlsRequired: {
    code: 530, enhanced: '5.7.0', text: 'Must issue a STARTTLS command first', rfc: 'RFC 3207 §4',
    when: 'A command came that needs TLS first.',
    advice: 'Send STARTTLS, then EHLO again.',
  },

  // ---- AUTH (RFC 4954) ---------------------------------------------------
  // 334 carries no enhanced code: its text is the base64 challenge (§4).
  authChallenge: {
    code: 334, text: '{challenge}', rfc: 'RFC 4954 §4',
    when: 'An AUTH exchange needs the next piece (the text is a base64 challenge).',
    advice: 'Answer with one base64 line, or "*" to cancel.',
  },
  authSucceeded: {
    code: 235, enhanced: '2.7.0', text: 'Authentication successful', rfc: 'RFC 4954 §4, §6',
    when: 'AUTH succeeded: the client may relay as this user.',
    advice: 'Go on with MAIL FROM.',
  },
  authFailed: {
    code: 535, enhanced: '5.7.8', text: 'Authentication credentials invalid', rfc: 'RFC 4954 §6',
    when: 'AUTH came with a wrong user name or password.',
    advice: 'Check the credentials; after limits.maxAuthFailures failures the connection closes.',
  },
  authEncryptionRequired: {
    code: 538, enhanced: '5.7.11', text: 'Encryption required for requested authentication mechanism', rfc: 'RFC 4954 §4, §6',
    when: 'AUTH was tried without TLS while auth.requireTls is on.',
    advice: 'Send STARTTLS first, then EHLO and AUTH.',
  },
  senderNotOwned: {
    code: 553, enhanced: '5.7.1', text: '<{address}>: Sender address not owned by user {user}', rfc: 'RFC 6409 §6.1; RFC 5321 §4.2.3; RFC 3463 §3.8',
    when: 'auth.senders is set and the authenticated user may not use this MAIL FROM address (or the null sender <>).',
    advice: 'Send from one of your own addresses, or ask the postmaster to add this one to auth.senders.',
  },
  authRequired: {
    code: 530, enhanced: '5.7.0', text: 'Authentication required', rfc: 'RFC 4954 §6',
    when: 'MAIL FROM on a submission listener (listen[].auth "required") before a successful AUTH.',
    advice: 'On port 587 send STARTTLS, EHLO, then AUTH; on port 465 (implicit TLS) EHLO, then AUTH.',
  },
  authLineTooLong: {
    code: 500, enhanced: '5.5.6', text: 'Authentication Exchange line is too long', rfc: 'RFC 4954 §4, §6',
    when: 'A line of an AUTH exchange was longer than 12288 octets.',
    advice: 'Send a shorter response.',
  },
  authUnknownMechanism: {
    code: 504, enhanced: '5.5.4', text: 'Unrecognized authentication type', rfc: 'RFC 4954 §4, §6',
    when: 'AUTH named a mechanism minimta does not offer.',
    advice: 'Use one of the mechanisms listed after AUTH in the EHLO reply.',
  },
  authCancelled: {
    code: 501, enhanced: '5.7.0', text: 'Authentication cancelled', rfc: 'RFC 4954 §4',
    when: 'The client answered "*" to an AUTH challenge.',
    advice: 'Start AUTH again when ready.',
  },
  authBadBase64: {
    code: 501, enhanced: '5.5.2', text: 'Invalid base64 data', rfc: 'RFC 4954 §4',
    when: 'An AUTH response was not valid base64.',
    advice: 'Encode the response in base64.',
  },
  authMalformed: {
    code: 501, enhanced: '5.5.2', text: 'Malformed authentication data', rfc: 'RFC 4616 §2; RFC 4954 §4',
    when: 'An AUTH response decoded to something that is not a valid PLAIN/LOGIN message.',
    advice: 'Encode "\\0user\\0password" (PLAIN) correctly.',
  },
  authTemporaryFailure: {
    code: 454, enhanced: '4.7.0', text: 'Temporary authentication failure', rfc: 'RFC 4954 §6',
    when: 'The credentials could not be checked just now.',
    advice: 'Retry later.',
  },
  authTooManyFailures: {
    code: 421, enhanced: '4.7.0', text: '{host} Error: too many failed authentication attempts', rfc: 'RFC 4954 §4; RFC 5321 §3.8',
    when: 'limits.maxAuthFailures AUTH attempts failed in one session.',
    advice: 'Fix the credentials, then reconnect.',
  },
  alreadyAuthenticated: {
    code: 503, enhanced: '5.5.1', text: 'Error: already authenticated', rfc: 'RFC 4954 §4',
    when: 'A second AUTH came after a successful one.',
    advice: 'Go on with MAIL FROM; one AUTH per session.',
  },
  authDuringTransaction: {
    code: 503, enhanced: '5.5.1', text: 'Error: AUTH not permitted during a mail transaction', rfc: 'RFC 4954 §4',
    when: 'AUTH came between MAIL FROM and the end of DATA.',
    advice: 'Authenticate before MAIL FROM.',
  },

  // ---- Outcomes observed as a client, recorded in the queue --------------
  // Not sent on the wire by our server: they are the "last reply" stored for
  // a recipient when the failure happened before any next hop answered.
  dnsTemporary: {
    code: 451, enhanced: '4.4.3', text: 'Temporary DNS failure looking up {domain}: {detail}', rfc: 'RFC 5321 §5.1; RFC 3463 §3.5',
    when: 'Recorded when a DNS lookup for the recipient\'s domain timed out or failed (SERVFAIL); not sent on the wire.',
    advice: 'Nothing: minimta retries on its schedule.',
  },
  dnsNoSuchDomain: {
    code: 550, enhanced: '5.1.2', text: 'Domain {domain} not found', rfc: 'RFC 5321 §5.1; RFC 3463 §3.2',
    when: 'Recorded when, at delivery, the recipient\'s domain does not exist; the sender gets a bounce.',
    advice: 'Check the recipient\'s domain.',
  },
  dnsNullMx: {
    code: 556, enhanced: '5.1.10', text: 'Domain {domain} does not accept mail (null MX)', rfc: 'RFC 7505 §4.1; RFC 7504 §4',
    when: 'Recorded when, at delivery, the recipient\'s domain publishes a null MX; the sender gets a bounce.',
    advice: 'Do not retry: the domain takes no mail.',
  },
  dnsNoUsableMx: {
    code: 550, enhanced: '5.1.2', text: 'Domain {domain} has no usable MX host', rfc: 'RFC 5321 §5.1; RFC 7505 §3',
    when: 'Recorded when the domain\'s MX hosts have no addresses.',
    advice: 'Tell the domain\'s owner; the mail bounced.',
  },
  mxLoopsToSelf: {
    code: 554, enhanced: '5.4.6', text: 'Mail for {domain} loops back to myself', rfc: 'RFC 5321 §5.1',
    when: 'Recorded when the domain\'s best MX is minimta itself: delivering would loop.',
    advice: 'Fix the MX records or relay.domains so that the mail has somewhere to go.',
  },
  connectFailed: {
    code: 451, enhanced: '4.4.1', text: 'Connection to {host} failed: {detail}', rfc: 'RFC 5321 §4.5.4.1; RFC 3463 §3.5',
    when: 'Recorded when no connection to a next hop could be opened (refused, unreachable, timeout).',
    advice: 'Nothing: minimta tries the next MX, then retries on its schedule.',
  },
  connectionLost: {
    code: 451, enhanced: '4.4.2', text: 'Connection to {host} lost: {detail}', rfc: 'RFC 5321 §3.8',
    when: 'Recorded when the next hop closed the connection in the middle of the dialogue.',
    advice: 'Nothing: minimta retries.',
  },
  commandTimeout: {
    code: 451, enhanced: '4.4.2', text: 'Timeout waiting for {host} after {command}', rfc: 'RFC 5321 §4.5.3.2',
    when: 'Recorded when the next hop did not answer a command within the timeout.',
    advice: 'Nothing: minimta retries.',
  },
  remoteProtocolError: {
    code: 451, enhanced: '4.5.0', text: 'Protocol error from {host}: {detail}', rfc: 'RFC 5321 §4.2; RFC 3463 §3.6',
    when: 'Recorded when the next hop\'s reply was not valid SMTP.',
    advice: 'Nothing: minimta retries; the next hop\'s operator may need to know.',
  },
  messageTooBigForHost: {
    code: 552, enhanced: '5.3.4', text: 'Message size {size} exceeds the limit {limit} of {host}', rfc: 'RFC 1870 §5',
    when: 'Recorded when the next hop\'s SIZE limit is below the message size; the sender gets a bounce.',
    advice: 'Send a smaller message.',
  },
  eightBitNotSupported: {
    code: 554, enhanced: '5.6.3', text: '{host} does not support 8BITMIME and conversion is not supported', rfc: 'RFC 6152 §3',
    when: 'Recorded when the next hop lacks 8BITMIME for an 8-bit message.',
    advice: 'Send the message with 7-bit encoding (base64, quoted-printable).',
  },
  utf8NotSupported: {
    code: 553, enhanced: '5.6.7', text: '{host} does not support SMTPUTF8', rfc: 'RFC 6531 §3.2',
    when: 'Recorded when the next hop lacks SMTPUTF8 for a UTF-8 address.',
    advice: 'Use an ASCII address for that recipient.',
  },
  messageUnreadable: {
    code: 451, enhanced: '4.3.0', text: 'Cannot read the queued message: {detail}', rfc: 'RFC 5321 §4.2.2; RFC 3463 §3.4',
    when: 'Recorded when the queued message file could not be read.',
    advice: 'Nothing: minimta retries; the operator should check the spool.',
  },
  expired: {
    code: 451, enhanced: '4.4.7', text: 'Message expired in the queue', rfc: 'RFC 5321 §4.5.4.1; RFC 3463 §3.5',
    when: 'Recorded when a message stayed in the queue longer than delivery.maxQueueLifetime; the sender gets a bounce.',
    advice: 'The message was not delivered; send it again once the destination works.',
  },
  // TLS and AUTH towards the next hop (a smarthost, or an MX with tls: 'required').
  // All temporary: the operator's policy or credentials may be fixed, and a
  // next hop may start offering TLS. Codes as Postfix uses them.
  tlsNotOfferedByHost: {
    code: 451, enhanced: '4.7.4', text: 'TLS is required, but was not offered by {host}', rfc: 'RFC 3207 §4; RFC 3463 §3.8 (X.7.4)',
    when: 'Recorded when TLS is required toward the next hop and it did not offer STARTTLS.',
    advice: 'Nothing: minimta retries; the operator may relax delivery.tls.',
  },
  tlsRefusedByHost: {
    code: 451, enhanced: '4.7.5', text: 'TLS is required, but {host} refused to start TLS: {detail}', rfc: 'RFC 3207 §4; RFC 3463 §3.8 (X.7.5)',
    when: 'Recorded when the next hop answered STARTTLS with an error while TLS is required.',
    advice: 'Nothing: minimta retries.',
  },
  tlsHandshakeFailed: {
    code: 451, enhanced: '4.7.5', text: 'Cannot start TLS with {host}: {detail}', rfc: 'RFC 3207 §4; RFC 8314 §3; RFC 3463 §3.8 (X.7.5)',
    when: 'Recorded when the TLS handshake with the next hop failed.',
    advice: 'Nothing: minimta retries; check certificates and TLS versions.',
  },
  mtaStsNoMatchingMx: {
    code: 451, enhanced: '4.7.5', text: 'MTA-STS policy of {domain} (mode enforce) allows none of its MX hosts: {hosts}', rfc: 'RFC 8461 §4.1, §5',
    when: 'Recorded when the destination publishes an MTA-STS policy in enforce mode and no MX host matches its mx patterns.',
    advice: 'Nothing: minimta retries; the destination must fix its MX records or its policy.',
  },
  passwordNeedsTls: {
    code: 451, enhanced: '4.7.10', text: 'Will not send the password to {host} in plaintext: {detail}', rfc: 'RFC 4954 §4, §9; RFC 5248 (X.7.10 encryption needed)',
    when: 'Recorded when the smarthost password would go over an unencrypted connection.',
    advice: 'Use TLS toward the smarthost (smarthost.tls).',
  },
  authNotOfferedByHost: {
    code: 451, enhanced: '4.7.4', text: '{host} offers no authentication mechanism we can use (PLAIN, LOGIN): {detail}', rfc: 'RFC 4954 §3; RFC 3463 §3.8 (X.7.4)',
    when: 'Recorded when the smarthost offers no AUTH mechanism minimta can use.',
    advice: 'Check the smarthost\'s AUTH settings.',
  },
  authRejectedByHost: {
    code: 451, enhanced: '4.7.0', text: 'Authentication to {host} failed: {detail}', rfc: 'RFC 4954 §6; deferred, not bounced, as Postfix smtp_sasl_auth_soft_bounce',
    when: 'Recorded when the smarthost refused minimta\'s credentials.',
    advice: 'Fix smarthost.username/password; minimta retries meanwhile.',
  },
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

/**
 * A reply written in a fault rule (config `faults`): checked as a real one
 * would be (RFC 5321 §4.2: three digits, first 2-5, second 0-5; RFC 3463:
 * the enhanced class matches the first digit; one printable line).
 * Returns the reply, or throws a RangeError saying what is wrong.
 */
export function configuredReply(spec: { code: number; enhanced?: string; text?: string }): Reply {
  const { code, enhanced, text } = spec;
  if (!Number.isInteger(code) || code < 200 || code > 559 || Math.floor(code / 10) % 10 > 5) {
    throw new RangeError(`${code} is not an SMTP reply code (RFC 5321 §4.2: 2xx-5xx, second digit 0-5)`);
  }
  if (enhanced !== undefined) {
    const m = /^([245])\.(\d{1,3})\.(\d{1,3})$/.exec(enhanced);
    if (!m) throw new RangeError(`"${enhanced}" is not an enhanced status code (RFC 3463: class.subject.detail)`);
    if (Number(m[1]) !== Math.floor(code / 100)) throw new RangeError(`enhanced code ${enhanced} does not fit reply code ${code} (RFC 3463 §2: same class)`);
  }
  const line = text ?? REPLIES.faultReplyDefault.text;
  if (!/^[\x20-\x7e]*$/.test(line) || line.length > 400) throw new RangeError('text must be one line of printable ASCII, at most 400 characters');
  return enhanced !== undefined ? { code, enhanced, lines: [line] } : { code, lines: [line] };
}

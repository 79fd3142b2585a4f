// The SMTP client used for delivery: one message to one host, one try (two
// connections when an opportunistic TLS handshake fails: see below). The
// session (client-session.ts) may be one kept open from an earlier message
// to the same host (session-cache.ts): RSET, then MAIL.
//
// Contract with the caller (the delivery worker):
//
// deliverToHost() never rejects for anything the network, the peer or the
// stored message does (only a bug in this code would make it reject); it
// resolves to one of two kinds of result.
//
// - { kind: 'host-failed', stage, reply }: the host failed as a whole before
//   any recipient got an answer of its own: connect error or timeout (stage
//   'connect', also a failed implicit-TLS handshake), a 4xx/5xx or missing
//   greeting, EHLO/HELO refused, STARTTLS trouble (stage 'starttls'), AUTH
//   trouble (stage 'auth'), MAIL FROM refused, a timeout, drop, 421 or
//   protocol error up to and including the reply to MAIL. `reply` applies to
//   every recipient. Its first digit says how (RFC 5321 §4.2.1): 5xx permanent
//   (e.g. a `521 5.3.2` greeting, RFC 7504 §3, given verbatim), 4xx temporary.
//   Replies we synthesize (connect failed, lost, timed out, protocol error,
//   every TLS and AUTH failure) are all 451. The caller decides whether to
//   try the next address or MX host.
//
// - { kind: 'session', recipients }: a transaction was started (or refused
//   before MAIL for the message itself: a needed 8BITMIME or SMTPUTF8 is not
//   offered, or SIZE is over the host's limit; then every recipient carries
//   that permanent reply and nothing was sent). `recipients` lists every
//   requested recipient, in request order, each with the reply that decides
//   it: its RCPT reply when that was negative (a 552 is read as 452, RFC 5321
//   §4.5.3.1.10), else the reply after the final dot; a failure after MAIL was
//   accepted (timeout, drop, 421, protocol error, DATA refused, our stored
//   copy unreadable: 451 4.3.0, final dot never sent) decides every recipient
//   not yet decided. 2xx delivered, 4xx temporary, 5xx permanent.
//
// A 2xx after the final dot is final: QUIT is sent after it, but a missing 221
// changes nothing. Timeouts are per command (RFC 5321 §4.5.3.2); the STARTTLS
// reply and the handshake share tlsMs, each AUTH step waits authMs.
//
// TLS (`tls`, default 'opportunistic'; the plans are in client-tls.ts):
// - opportunistic: STARTTLS when offered, certificate not verified (as between
//   MX hosts), then EHLO again with the first EHLO's list forgotten (RFC 3207
//   §4.2). A refused STARTTLS (454…) goes on in plaintext on the same,
//   still-in-step connection. A failed handshake is retried once in plaintext
//   on a NEW connection that never tries STARTTLS (RFC 3207 §4.1); the caller
//   sees only the second try's result. No retry with credentials or tlsVerify.
// - required: not offered, refused or a failed handshake → host-failed 451
//   (4.7.4 / 4.7.5), nothing sent in plaintext after EHLO.
// - none: never STARTTLS. implicit: TLS from the first byte (RFC 8314 §3).
// - Text from the server after its 220 to STARTTLS and before the handshake
//   (response injection) → host-failed 451 4.5.0, no retry.
// A session outcome says what TLS negotiated (`tls`), if any.
//
// AUTH (`auth`, for a smarthost; RFC 4954): after the (second) EHLO, PLAIN if
// offered, else LOGIN. Credentials only ever go out under TLS, unless the
// operator set tls: 'none'; otherwise → host-failed 451 4.7.10 and the
// password is not sent. AUTH not offered → 451 4.7.4. A 4xx refusal is given
// verbatim; a 5xx (535 bad credentials…) is DEFERRED, not bounced: 451 with
// the class-4 form of its enhanced code and the server's reply in the text,
// because the operator can fix the credentials and the mail should wait for
// that (Postfix's smtp_sasl_auth_soft_bounce does the same). The password
// never appears in any reply or error produced here.

import { ReplyError, type Reply } from '../../reply-codes/index.js';
import { ClientSession, type PlaintextRetry } from './client-session.js';
import { ClientConnection } from './connection.js';
import { withDefaults, type ClientTimeouts, type DeliveryRequest, type DeliveryResult } from './request.js';
import type { SessionCache } from './session-cache.js';
import { handshakeOptions, PLAINTEXT_RETRY_PLAN, TLS_PLANS, type TlsPlan } from './tls.js';

export type { RecipientResult } from './recipients.js';
export { SessionCache, DEFAULT_REUSE_LIMITS, type ReuseLimits } from './session-cache.js';
export type { Credentials } from './auth.js';
export type { NegotiatedTls } from './connection.js';
export type { TlsPolicy } from './tls.js';
export {
  DEFAULT_CLIENT_TIMEOUTS,
  type ClientTimeouts, type DeliveryRequest, type DeliveryResult, type HostFailure, type HostFailureStage, type SessionOutcome,
} from './request.js';

/**
 * Delivers one message to one host (see the contract at the top): on an idle
 * session from `sessions` when one is open to that host, else on a new one.
 * Afterwards the session goes back to `sessions` if it is still in step, or
 * is ended with QUIT. Without `sessions`, one connection per message.
 */
export async function deliverToHost(req: DeliveryRequest, sessions?: SessionCache): Promise<DeliveryResult> {
  const timeouts = withDefaults(req.timeouts ?? {});
  for (let cached = sessions?.take(req); cached; cached = sessions?.take(req)) {
    const result = await cached.deliverNext(req);
    if (result) return settle(req, cached, result, sessions);
    // The idle session had died: try the next one, or a new connection.
    await cached.end();
  }
  const first = await openSession(req, TLS_PLANS[req.tls ?? 'opportunistic'], timeouts);
  if (first.kind !== 'plaintext-retry') return settle(req, first.session, first.result, sessions);
  // Plaintext after a failed handshake only on a new connection (RFC 3207 §4.1 leaves the choice to us).
  const second = await openSession(req, PLAINTEXT_RETRY_PLAN, timeouts);
  if (second.kind === 'plaintext-retry') throw new Error('a connection without STARTTLS asked for a plaintext retry');
  // A plaintext fallback session is not kept: the next message tries TLS again.
  return settle(req, second.session, second.result);
}

/** After a transaction: keep the session for the next message, or end it. */
async function settle(req: DeliveryRequest, session: ClientSession | undefined, result: DeliveryResult, sessions?: SessionCache): Promise<DeliveryResult> {
  if (!session) return result;
  if (sessions && result.kind === 'session') sessions.keep(req, session);
  else await session.end();
  return result;
}

/** A new connection and session, and the first transaction on it. */
async function openSession(req: DeliveryRequest, plan: TlsPlan, timeouts: ClientTimeouts): Promise<
  { kind: 'done'; session?: ClientSession; result: DeliveryResult } | PlaintextRetry
> {
  let connection: ClientConnection;
  try {
    connection = await connect(req, plan, timeouts);
  } catch (err) {
    return { kind: 'done', result: { kind: 'host-failed', host: req.host, address: req.address, stage: 'connect', reply: replyOf(err) } };
  }
  const session = new ClientSession(connection, req, plan, timeouts);
  try {
    const result = await session.deliverFirst();
    if (result.kind === 'plaintext-retry') {
      connection.close();
      return result;
    }
    return { kind: 'done', session, result };
  } catch (err) {
    connection.close();
    throw err;
  }
}

/** TCP, and for implicit TLS the handshake before any SMTP (RFC 8314 §3). */
async function connect(req: DeliveryRequest, plan: TlsPlan, timeouts: ClientTimeouts): Promise<ClientConnection> {
  const connection = await ClientConnection.open(
    { address: req.address, port: req.port, localAddress: req.localAddress, peer: `${req.host}[${req.address}]` },
    timeouts.connectMs);
  // Told before an implicit-TLS handshake, so the transcript shows it.
  connection.recorder = req.recorder;
  if (plan.implicit) await connection.startTls(handshakeOptions(req), timeouts.tlsMs); // closes itself on failure
  return connection;
}

function replyOf(err: unknown): Reply {
  if (err instanceof ReplyError) return err.reply;
  throw err;
}

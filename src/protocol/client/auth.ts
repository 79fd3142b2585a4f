// The client side of SMTP AUTH (RFC 4954 §4) with PLAIN (RFC 4616) or LOGIN,
// for a smarthost that wants our credentials. Only the exchange lives here:
// whether credentials may be sent at all (never over plaintext unless the
// operator chose tls: 'none') is decided in client.ts.
//
// The password is only ever written to the socket, base64-encoded. It never
// goes into a command name used for a timeout, an error or a reply we
// produce, and replies from the server are scrubbed of it before anyone else
// sees them (a hostile server could echo it back).

import { ReplyError, reply, replyToString, type Reply } from '../../reply-codes/index.js';
import { type ServerExtensions } from './extensions.js';

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** Sends one line and reads one reply, each wait bounded by the caller. */
export interface AuthChannel {
  send(line: string): void;
  /** `step` names what is awaited in a timeout reply; it never holds a secret. */
  read(step: string): Promise<Reply>;
}

/** One client line of the exchange and the name its reply is awaited under. */
interface AuthLine {
  readonly text: string;
  readonly step: string;
}

export type AuthMechanism = 'PLAIN' | 'LOGIN';

interface Mechanism {
  readonly name: AuthMechanism;
  /** The AUTH command, then one response for each 334 the server sends. */
  readonly lines: (credentials: Credentials) => readonly AuthLine[];
}

/**
 * RFC 4954 §4: the AUTH command is still bound by the SMTP line limit of 512
 * octets with CRLF (RFC 5321 §4.5.3.1.4); a longer initial response waits for
 * the server's empty 334 instead.
 */
const MAX_COMMAND_OCTETS = 510;

/** In order of preference: PLAIN answers on the AUTH line itself (RFC 4616 §2), LOGIN takes two round trips. */
const MECHANISMS: readonly Mechanism[] = [
  {
    name: 'PLAIN',
    lines: (c) => {
      // RFC 4616 §2: [authzid] NUL authcid NUL passwd, UTF-8; no authzid.
      const response = base64(`\0${c.username}\0${c.password}`);
      const command = `AUTH PLAIN ${response}`;
      return Buffer.byteLength(command) <= MAX_COMMAND_OCTETS
        ? [{ text: command, step: 'AUTH PLAIN' }]
        : [{ text: 'AUTH PLAIN', step: 'AUTH PLAIN' }, { text: response, step: 'AUTH PLAIN response' }];
    },
  },
  {
    // draft-murchison-sasl-login: "Username:", then "Password:"; never an initial response.
    name: 'LOGIN',
    lines: (c) => [
      { text: 'AUTH LOGIN', step: 'AUTH LOGIN' },
      { text: base64(c.username), step: 'AUTH LOGIN user name' },
      { text: base64(c.password), step: 'AUTH LOGIN password' },
    ],
  },
];

/** The mechanism we would use with this server, or undefined when it offers none we speak (RFC 4954 §3). */
export function chooseMechanism(extensions: ServerExtensions): AuthMechanism | undefined {
  const offered = new Set((extensions.keywords.get('AUTH') ?? []).map((m) => m.toUpperCase()));
  return MECHANISMS.find((m) => offered.has(m.name))?.name;
}

/** What the server advertised after AUTH, for a reply that says why we could not authenticate. */
export function offeredMechanisms(extensions: ServerExtensions): string {
  const params = extensions.keywords.get('AUTH');
  if (params === undefined) return 'AUTH not offered';
  return params.length > 0 ? `offered AUTH ${params.join(' ')}` : 'AUTH offered with no mechanism';
}

/**
 * Runs the exchange and returns the server's last reply, scrubbed of the
 * password: 235 when authenticated, else the refusal (the session is still in
 * step). Throws a ReplyError carrying `remoteProtocolError` when the server
 * asks for more than the mechanism has to say, and whatever the channel
 * throws (lost, timed out).
 */
export async function authenticate(channel: AuthChannel, mechanismName: AuthMechanism, credentials: Credentials, peer: string): Promise<Reply> {
  const mechanism = MECHANISMS.find((m) => m.name === mechanismName);
  if (!mechanism) throw new Error(`unknown mechanism ${mechanismName}`);
  const lines = mechanism.lines(credentials);
  for (const [i, line] of lines.entries()) {
    channel.send(line.text);
    const answer = scrubbed(await channel.read(line.step), credentials);
    // RFC 4954 §4: 334 asks for the next response; anything else ends the exchange.
    if (answer.code !== 334) return answer;
    if (i === lines.length - 1) {
      throw new ReplyError(reply('remoteProtocolError', { host: peer, detail: `334 after the last ${mechanism.name} response` }));
    }
  }
  throw new Error('unreachable: the last line returns or throws');
}

/**
 * RFC 4954 §6: 535 and other 5xx end in a permanent refusal from the server's
 * point of view; we defer instead (as Postfix's smtp_sasl_auth_soft_bounce),
 * because the operator can fix the credentials and the mail should wait for
 * that, not bounce. The server's reply is kept in the text; its enhanced code,
 * moved to class 4, is kept when it has one.
 */
export function deferredAuthFailure(refusal: Reply, peer: string): Reply {
  const deferred = reply('authRejectedByHost', { host: peer, detail: replyToString(refusal) });
  const enhanced = refusal.enhanced?.replace(/^5/, '4');
  return enhanced ? { ...deferred, enhanced } : deferred;
}

/** The reply with every form of the password we sent replaced. */
function scrubbed(answer: Reply, credentials: Credentials): Reply {
  if (credentials.password === '') return answer;
  const secrets = [
    credentials.password,
    base64(credentials.password),
    base64(`\0${credentials.username}\0${credentials.password}`),
  ];
  const lines = answer.lines.map((line) => secrets.reduce((text, secret) => text.split(secret).join('********'), line));
  return { ...answer, lines };
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

// The server side of one SMTP AUTH exchange (RFC 4954 §4) for the PLAIN
// (RFC 4616) and LOGIN mechanisms, as a pure state machine: it is fed the
// AUTH argument and then one client line at a time, and says what to send.
// It never checks a password itself: it hands the credentials back, so the
// (slow, async) check and the 235/535 answer live with the caller.
//
// Nothing here puts a user name or password into a reply or an error.

import { reply, type Reply } from '../reply-codes/index.js';

export type SaslStep =
  /** Send this 334 and read one more client line. */
  | { kind: 'challenge'; reply: Reply }
  /** Check these (async, outside), then answer 235 or 535. */
  | { kind: 'credentials'; user: string; password: string }
  /** The exchange ended with this reply. */
  | { kind: 'error'; reply: Reply };

/**
 * Longest line a client may send during the exchange, CRLF excluded: RFC 4954
 * §4 raises the SMTP 512-octet limit to 12288 for AUTH lines. Longer → the
 * caller answers authLineTooLong (500 5.5.6).
 */
export const AUTH_LINE_LIMIT = 12288;

interface Mechanism {
  /**
   * The challenges, in order, each answered by one client response (already
   * base64). An initial response on the AUTH line answers the first.
   */
  readonly challenges: readonly string[];
  /** Turns the decoded responses into credentials or an error. */
  readonly finish: (responses: readonly Buffer[]) => SaslStep;
}

const MECHANISMS: Readonly<Record<string, Mechanism>> = {
  // RFC 4616 §2: the server's only challenge is empty.
  PLAIN: { challenges: [''], finish: plainCredentials },
  // LOGIN (draft-murchison-sasl-login): "Username:", then "Password:".
  LOGIN: { challenges: ['VXNlcm5hbWU6', 'UGFzc3dvcmQ6'], finish: loginCredentials },
};

/** Mechanisms to list after AUTH in the EHLO reply (RFC 4954 §3). */
export const SASL_MECHANISMS: readonly string[] = Object.keys(MECHANISMS);

const AUTH_USAGE = 'AUTH mechanism [initial-response]';

/**
 * Starts an exchange from what follows "AUTH " on the command line, e.g.
 * "PLAIN dGVzdA==", "LOGIN" or "PLAIN =". When `exchange` is present, feed it
 * each client line that answers a challenge.
 */
export function startAuth(arg: string): { mechanism: string; step: SaslStep; exchange?: SaslExchange } {
  // RFC 4954 §4: "AUTH" SP sasl-mech [SP initial-response]
  const parts = arg.split(' ');
  const mechanism = asciiUpperCase(parts[0] ?? '');
  if (mechanism === '' || parts.length > 2) {
    return { mechanism, step: { kind: 'error', reply: reply('syntax', { usage: AUTH_USAGE }) } };
  }
  const definition = Object.hasOwn(MECHANISMS, mechanism) ? MECHANISMS[mechanism] : undefined;
  if (definition === undefined) {
    return { mechanism, step: { kind: 'error', reply: reply('authUnknownMechanism') } };
  }
  const exchange = new SaslExchange(definition);
  const initial = parts[1];
  // "=" is an initial response of zero length (RFC 4954 §4). It carries
  // nothing either mechanism could use, so it is taken as "no initial
  // response" and the first challenge is sent.
  const step = initial === undefined || initial === '='
    ? challenge(definition.challenges[0]!)
    : exchange.respond(initial);
  return step.kind === 'challenge' ? { mechanism, step, exchange } : { mechanism, step };
}

export class SaslExchange {
  private readonly responses: Buffer[] = [];
  private finished = false;

  /** @internal Made by startAuth. */
  constructor(private readonly mechanism: Mechanism) {}

  /** Takes one client line (without CRLF) that answers the last challenge. */
  respond(line: string): SaslStep {
    if (this.finished) throw new Error('SaslExchange.respond called after the exchange ended');
    // RFC 4954 §4: "*" cancels, and the server MUST reject the AUTH with 501.
    if (line === '*') return this.end({ kind: 'error', reply: reply('authCancelled') });
    const decoded = decodeBase64(line);
    if (decoded === undefined) return this.end({ kind: 'error', reply: reply('authBadBase64') });
    this.responses.push(decoded);
    return this.next();
  }

  /** The next challenge, or the result once every challenge is answered. */
  private next(): SaslStep {
    const { challenges, finish } = this.mechanism;
    const unanswered = challenges[this.responses.length];
    return unanswered !== undefined ? challenge(unanswered) : this.end(finish(this.responses));
  }

  private end(step: SaslStep): SaslStep {
    this.finished = true;
    return step;
  }
}

function challenge(text: string): SaslStep {
  return { kind: 'challenge', reply: reply('authChallenge', { challenge: text }) };
}

/** Mechanism names are ASCII (RFC 4422 §3.1): "plaın" with a dotless i is not PLAIN. */
function asciiUpperCase(text: string): string {
  return text.replace(/[a-z]+/g, (letters) => letters.toUpperCase());
}

/**
 * Strict base64 (RFC 4954 §4 refers to RFC 4648 §4): the alphabet, padding
 * only at the end, length a multiple of 4, no stray bits. Node's decoder
 * skips what it does not understand, so a response is accepted only when it
 * re-encodes to exactly itself.
 */
function decodeBase64(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/** RFC 4616 §2: message = [authzid] NUL authcid NUL passwd. */
function plainCredentials([message]: readonly Buffer[]): SaslStep {
  const fields = splitOnNul(message!);
  if (fields.length !== 3) return malformed();
  const [authzid, authcid, passwd] = fields.map(decodeUtf8) as [string?, string?, string?];
  if (authzid === undefined || authcid === undefined || passwd === undefined) return malformed();
  // We cannot act for another identity: an authzid must name the user itself.
  if (authzid !== '' && authzid !== authcid) return { kind: 'error', reply: reply('authFailed') };
  return credentials(authcid, passwd);
}

function loginCredentials([user, password]: readonly Buffer[]): SaslStep {
  const fields = [user!, password!].map((bytes) => bytes.includes(0) ? undefined : decodeUtf8(bytes));
  const [name, secret] = fields as [string?, string?];
  if (name === undefined || secret === undefined) return malformed();
  return credentials(name, secret);
}

/** RFC 4616 §2: authcid = 1*SAFE, passwd = 1*SAFE. */
function credentials(user: string, password: string): SaslStep {
  if (user === '' || password === '') return malformed();
  return { kind: 'credentials', user, password };
}

function malformed(): SaslStep {
  return { kind: 'error', reply: reply('authMalformed') };
}

function splitOnNul(bytes: Buffer): Buffer[] {
  const fields: Buffer[] = [];
  let start = 0;
  for (let nul = bytes.indexOf(0); nul !== -1; nul = bytes.indexOf(0, start)) {
    fields.push(bytes.subarray(start, nul));
    start = nul + 1;
  }
  fields.push(bytes.subarray(start));
  return fields;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** RFC 4616 §2: the fields are UTF-8; bytes that are not → undefined. */
function decodeUtf8(bytes: Buffer): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch (error) {
    if (error instanceof TypeError) return undefined; // what a fatal TextDecoder throws
    throw error;
  }
}

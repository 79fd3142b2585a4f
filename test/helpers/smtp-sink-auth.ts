// The test sink's side of SMTP AUTH (RFC 4954 §4) with PLAIN (RFC 4616) and
// LOGIN. Written apart from src/auth on purpose: the delivery client is
// checked against an independent server, not against code it might share a
// mistake with.

export type SinkMechanism = 'PLAIN' | 'LOGIN';

export interface SinkAuth {
  /** User name → password, in plaintext: for tests only. */
  users: Record<string, string>;
  /** Answer 530 5.7.0 to MAIL until a client has authenticated. */
  required?: boolean;
  /** Mechanisms to advertise and accept; default PLAIN and LOGIN. */
  mechanisms?: readonly SinkMechanism[];
  /** Offer and accept AUTH outside TLS as well (default: only under TLS). */
  withoutTls?: boolean;
}

/** What to answer; `user` is set once authenticated, `done` once no more client lines belong to the exchange. */
export interface SinkAuthStep {
  readonly reply: string;
  readonly done: boolean;
  readonly user?: string;
}

/** Each mechanism's 334 challenges, and the credentials read from the client's responses. */
const MECHANISMS: Readonly<Record<SinkMechanism, {
  readonly challenges: readonly string[];
  readonly credentials: (responses: readonly string[]) => { user: string; password: string } | undefined;
}>> = {
  // RFC 4616 §2: [authzid] NUL authcid NUL passwd.
  PLAIN: {
    challenges: ['334 '],
    credentials: ([response = '']) => {
      const parts = fromBase64(response).split('\0');
      return parts.length === 3 ? { user: parts[1] ?? '', password: parts[2] ?? '' } : undefined;
    },
  },
  LOGIN: {
    challenges: ['334 VXNlcm5hbWU6', '334 UGFzc3dvcmQ6'],
    credentials: ([user = '', password = '']) => ({ user: fromBase64(user), password: fromBase64(password) }),
  },
};

export class SinkAuthExchange {
  private readonly responses: string[] = [];

  private constructor(private readonly auth: SinkAuth, private readonly mechanism: SinkMechanism) {}

  static mechanisms(auth: SinkAuth): readonly SinkMechanism[] {
    return auth.mechanisms ?? ['PLAIN', 'LOGIN'];
  }

  /** Starts from what follows "AUTH "; `exchange` is returned while it wants more lines. */
  static begin(auth: SinkAuth, arg: string): { step: SinkAuthStep; exchange?: SinkAuthExchange } {
    const [name = '', initial] = arg.split(' ');
    const mechanism = SinkAuthExchange.mechanisms(auth).find((m) => m === name.toUpperCase());
    if (!mechanism) return { step: { reply: '504 5.5.4 Unrecognized authentication type', done: true } };
    const exchange = new SinkAuthExchange(auth, mechanism);
    // "=" is an empty initial response (RFC 4954 §4); neither mechanism can use one.
    const step = initial !== undefined && initial !== '='
      ? exchange.respond(initial)
      : { reply: MECHANISMS[mechanism].challenges[0] ?? '334 ', done: false };
    return step.done ? { step } : { step, exchange };
  }

  /** One client line answering a 334. */
  respond(line: string): SinkAuthStep {
    if (line === '*') return { reply: '501 5.7.0 Authentication cancelled', done: true };
    this.responses.push(line);
    const mechanism = MECHANISMS[this.mechanism];
    const next = mechanism.challenges[this.responses.length];
    if (next !== undefined) return { reply: next, done: false };
    const given = mechanism.credentials(this.responses);
    const users = this.auth.users;
    if (given && Object.hasOwn(users, given.user) && users[given.user] === given.password) {
      return { reply: '235 2.7.0 Authentication successful', done: true, user: given.user };
    }
    return { reply: '535 5.7.8 Authentication credentials invalid', done: true };
  }
}

/** True when the line carries one of the users' passwords, raw or in base64 (alone or inside a PLAIN response). */
export function carriesPassword(line: string, auth: SinkAuth | undefined): boolean {
  const passwords = Object.values(auth?.users ?? {}).filter((p) => p !== '');
  const decoded = line.split(' ').map(fromBase64);
  return passwords.some((p) => line.includes(p) || decoded.some((d) => d.includes(p)));
}

function fromBase64(text: string): string {
  return Buffer.from(text, 'base64').toString('utf8');
}

// The SMTP server state machine (RFC 5321 §3, §4.1, §4.3). Pure: no sockets,
// no timers, no disk. The server feeds it command lines and wire events; it
// answers with a Step — the replies to send and what to do next. Everything
// outside the protocol (relay policy, the message store, credentials) is
// asked through the small interfaces in SessionDeps.
//
// The state is one value, and each state holds what exists in it: `ready`
// the HELO name (and the AUTH user), `mail` the transaction too, `data` the
// receipt too, `auth` the SASL exchange.
//
//                            ┌─ RSET, HELO/EHLO, 451/452 to DATA ───┐
//                            ▼                                      │
//   greeted ──HELO/EHLO──▶ ready ────────────────────────────────▶ mail ⟲ RCPT
//    ▲   ▲                 │ ▲ ▲                                    │
//    │   │            AUTH │ │ │                                    │ DATA, 354
//    │   │                 ▼ │ │                                    ▼
//    │   │     334 ⟲     auth┘ └────────────────────────────────── data
//    │   │   235, 535, 501        end of data: 250 queued, or refused
//    │   └── STARTTLS done, from ready  (RFC 3207 §4.2: all is forgotten)
//    └────── STARTTLS done, from greeted
//
//   AUTH with the whole response on its line goes from ready to ready (RFC 4954 §4).
//   On a submission listener MAIL needs the AUTH user in `ready` (RFC 6409 §4.3).
//
//   A `refuse` listener: open ──▶ refusing ⟲ 521 to all but QUIT (RFC 7504 §3)
//   Every state ──▶ closed on QUIT, a 421 (errors, timeout, shutdown), 554 for
//   data sent before the 354, 550 for a bare CR or LF, or a hang-up.
//
// Refusals follow one rule, as in go-smtp: whatever refuses throws a
// ReplyError that carries its reply — the parsers, the state checks below,
// the policy and the store. command() and endData() turn it into an error
// reply, counted toward the error limit (RFC 5321 §7.8) and logged.

import { reply, withLines, type Reply, ReplyError, replyToString } from '../../reply-codes/index.js';
import { parseMailArguments, parseRcptArguments, splitCommand, type MailParameters, type RcptParameters } from './commands.js';
import type { DataOutcome } from './data-reader.js';
import { protocolName, receivedHeader } from './received.js';
import { helpReply } from './help.js';
import { SASL_MECHANISMS, startAuth, type SaslExchange, type SaslStep } from '../../auth/sasl.js';
import type {
  SessionSettings, ClientInfo, PolicyContext, MessageReceipt, SessionDeps, Step, WireContext, AcceptedMessage,
} from './session-types.js';

export type {
  ListenerMode, SessionSettings, ClientInfo, PolicyContext, SessionPolicy, AcceptedMessage,
  MessageReceipt, MessageStore, SessionDeps, LogEvent, Step, WireContext,
} from './session-types.js';
export { ACCEPT_ALL } from './session-types.js';

// ---- The states -----------------------------------------------------------

/** What the client said in HELO/EHLO, and who it proved to be with AUTH. */
interface Hello {
  readonly verb: 'HELO' | 'EHLO';
  readonly name: string;
  readonly authUser?: string;
}

/** A mail transaction (RFC 5321 §3.3): from MAIL to the end of DATA. */
interface Transaction {
  readonly sender: string;
  readonly params: MailParameters;
  readonly recipients: string[];
  /** The DSN parameters of each accepted recipient, in the same order (RFC 3461 §4.1, §4.2). */
  readonly recipientParams: RcptParameters[];
  /** RCPT commands tried: if some were and none accepted, DATA is 554, not 503. */
  rcptCommands: number;
}

type Greeted = { readonly name: 'greeted' };
type Ready = { readonly name: 'ready'; readonly hello: Hello };
type Mail = { readonly name: 'mail'; readonly hello: Hello; readonly transaction: Transaction };
type Data = { readonly name: 'data'; readonly hello: Hello; readonly transaction: Transaction; readonly receipt: MessageReceipt };
type Auth = { readonly name: 'auth'; readonly hello: Hello; readonly exchange: SaslExchange };
type Refusing = { readonly name: 'refusing'; readonly commands: number };
type Closed = { readonly name: 'closed' };

export type SessionState = Greeted | Ready | Mail | Data | Auth | Refusing | Closed;

// ---- The command table ------------------------------------------------------

/** One entry of the command table; the table is shared by all sessions, so each call is told its session. */
interface CommandDefinition {
  /** The check (is the command legal now? it throws the refusal), then the action. */
  run: (session: Session, arg: string, wire: WireContext) => Step | Promise<Step>;
  /** NOOP-like commands that move nothing forward, limited per session. */
  junk?: boolean;
  /** What a refusal's log line says of the command; by default "VERB argument". */
  logAs?: (session: Session, arg: string) => string;
}

/** A command whose check returns the state it acts on, or throws the refusal. */
function command<S>(
  check: (session: Session, arg: string) => S,
  proceed: (session: Session, state: S, arg: string, wire: WireContext) => Step | Promise<Step>,
  options: Omit<CommandDefinition, 'run'> = {},
): CommandDefinition {
  return { run: (session, arg, wire) => proceed(session, check(session, arg), arg, wire), ...options };
}

/** RFC 5321 §4.2.4: commands we know of and do not implement. */
const NOT_IMPLEMENTED = ['EXPN', 'TURN', 'ETRN', 'ATRN', 'SEND', 'SOML', 'SAML', 'BDAT'];
/** RFC 4954 §4: the longest line of an AUTH exchange. */
const AUTH_LINE_OCTETS = 12288;
/** Cross-protocol attacks: an HTTP request line is answered and closed. */
const HTTP_VERBS = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'CONNECT', 'PATCH'];

const anyState = (): void => undefined;
const notImplemented = (): never => { throw new ReplyError(reply('notImplemented')); };
const refusal = (r: Reply): ReplyError => new ReplyError(r);

export class Session {
  private state: SessionState = { name: 'greeted' };
  /** Error replies so far (RFC 5321 §7.8). */
  private errors = 0;
  private junkCommands = 0;
  private authFailures = 0;
  /** Encrypted: from the first byte (RFC 8314) or since STARTTLS (RFC 3207). */
  private tls: boolean;

  constructor(
    private readonly settings: SessionSettings,
    private readonly client: ClientInfo,
    private readonly deps: SessionDeps,
  ) {
    this.tls = client.tls ?? false;
  }

  /** Every command, its check and its action: the whole dialogue in one table. */
  private static readonly commands: Record<string, CommandDefinition> = {
    HELO: command(anyState, (s, _, arg) => s.hello('HELO', arg)),
    EHLO: command(anyState, (s, _, arg) => s.hello('EHLO', arg)),
    MAIL: command((s) => s.authorizedToSend(s.outsideTransaction()), (s, ready, arg) => s.mail(ready, arg)),
    RCPT: command((s) => s.inTransaction(), (s, mail, arg) => s.rcpt(mail, arg), { logAs: (s, arg) => s.rcptLog(arg) }),
    // RFC 5321 §4.3.2: DATA takes no argument; that is checked before the state.
    DATA: command((s, arg) => s.withRecipients(arg), (s, mail, _arg, wire) => s.data(mail, wire)),
    RSET: command(anyState, (s, _, arg) => s.rset(arg), { junk: true }),
    NOOP: command(anyState, () => answer(reply('ok')), { junk: true }),
    VRFY: command(anyState, (s, _, arg) => s.vrfy(arg), { junk: true }),
    HELP: command(anyState, (_s, _, arg) => answer(helpReply(arg)), { junk: true }),
    STARTTLS: command((s, arg) => s.checkStartTls(arg), () => ({ replies: [reply('tlsReady')], startTls: true })),
    // Only the verb is logged: an AUTH line carries credentials.
    AUTH: command((s) => s.checkAuth(), (s, ready, arg) => s.auth(ready, arg), { logAs: () => 'AUTH' }),
    QUIT: command(anyState, (s, _, arg) => s.quit(arg)),
    ...Object.fromEntries(NOT_IMPLEMENTED.map((verb) => [verb, command(anyState, notImplemented)])),
    ...Object.fromEntries(HTTP_VERBS.map((verb) => [verb, command(anyState, (s) => s.close(reply('httpCommand')))])),
  };

  // ---- Wire events ------------------------------------------------------

  /** The greeting (RFC 5321 §4.3.1), or the 521 refusal (RFC 7504 §3). */
  open(): Step {
    if (this.settings.mode !== 'refuse') return answer(reply('greeting', { host: this.settings.hostname }));
    const refused = reply('refused', { host: this.settings.hostname });
    if (this.settings.refuse === 'close') return this.close(refused);
    this.state = { name: 'refusing', commands: 0 };
    return answer(refused);
  }

  async command(line: string, wire: WireContext = {}): Promise<Step> {
    const state = this.state;
    switch (state.name) {
      case 'refusing': return this.refusing(state, line);
      // Nothing more is said on a closed session.
      case 'closed': return { replies: [], close: 'hangup' };
      case 'data': throw new Error('a command line in the DATA phase: the body goes to the DataReader');
      default: break;
    }
    if (this.errors >= this.settings.maxErrors) return this.close(reply('tooManyErrors', { host: this.settings.hostname }));
    if (state.name === 'auth') return this.authResponse(state, line, wire);
    const { verb, arg } = splitCommand(line);
    // RFC 5321 §4.5.3.1.4; only AUTH may be longer (RFC 4954 §4).
    const limit = verb === 'AUTH' ? AUTH_LINE_OCTETS : this.settings.maxLineOctets;
    if (octetsOf(line, wire) > limit) return this.errorReply(reply(verb === 'AUTH' ? 'authLineTooLong' : 'commandTooLong'));
    const definition = Session.commands[verb];
    if (!definition) return this.errorReply(reply('unknownCommand'), `unknown command ${JSON.stringify(verb.slice(0, 32))}`);
    if ((definition.junk || this.repeatedHello(verb)) && ++this.junkCommands > this.settings.maxJunkCommands) {
      return this.close(reply('tooManyErrors', { host: this.settings.hostname }));
    }
    const what = definition.logAs?.(this, arg) ?? `${verb} ${arg}`;
    try {
      return this.countErrors(await definition.run(this, arg, wire));
    } catch (err) {
      if (err instanceof ReplyError) return this.errorReply(err.reply, what);
      throw err;
    }
  }

  /** A command line over the limit, already thrown away (RFC 5321 §4.5.3.1.4). */
  lineTooLong(): Step {
    const state = this.state;
    if (state.name === 'refusing') return this.refusing(state, '');
    if (state.name === 'auth') {
      this.state = { name: 'ready', hello: state.hello };
      return this.errorReply(reply('authLineTooLong'));
    }
    return this.errorReply(reply('commandTooLong'));
  }

  /** The longest line the line reader must let through to the session. */
  static longestLine(settings: SessionSettings): number {
    return settings.auth ? Math.max(settings.maxLineOctets, AUTH_LINE_OCTETS) : settings.maxLineOctets;
  }

  /** A bare CR or LF: refused and closed, nothing queued (RFC 5321 §2.3.8). */
  async bareLineEnd(kind: 'bare-lf' | 'bare-cr'): Promise<Step> {
    await this.dropTransaction();
    return this.close(reply(kind === 'bare-lf' ? 'bareLf' : 'bareCr'), `${kind} from [${this.client.ip}]`);
  }

  /** The client was idle too long (RFC 5321 §4.5.3.2.7). */
  async timeout(): Promise<Step> {
    await this.dropTransaction();
    return this.close(reply('idleTimeout', { host: this.settings.hostname }), `timeout from [${this.client.ip}]`);
  }

  /** The client sent DATA too slowly (a slowloris defence; RFC 5321 §4.5.3.2.6 lets a server time out DATA). */
  async tooSlow(): Promise<Step> {
    await this.dropTransaction();
    return this.close(reply('dataTooSlow', { host: this.settings.hostname }), `data too slow from [${this.client.ip}]`);
  }

  /** The client pipelines without reading the replies (RFC 2920 §3.1): too many wait for it. */
  async unreadReplies(): Promise<Step> {
    await this.dropTransaction();
    return this.close(reply('unreadReplies', { host: this.settings.hostname }), `too many unread replies for [${this.client.ip}]`);
  }

  /** Something broke inside this session; the process goes on. */
  async crashed(): Promise<Step> {
    await this.dropTransaction();
    return this.close(reply('internalError', { host: this.settings.hostname }));
  }

  /** The server is stopping: RFC 5321 §3.8 asks for a 421 before the close. */
  async shutdown(): Promise<Step> {
    await this.dropTransaction();
    return this.close(reply('shuttingDown', { host: this.settings.hostname }), `shutdown: closing the session with [${this.client.ip}]`);
  }

  /** A transaction (or an AUTH exchange) is under way: a stopping server lets it finish. */
  get busy(): boolean {
    return this.state.name === 'mail' || this.state.name === 'data' || this.state.name === 'auth';
  }

  /** The connection is gone: whatever was being received is dropped (RFC 5321 §3.8). */
  async disconnected(): Promise<void> {
    await this.dropTransaction();
    this.state = { name: 'closed' };
  }

  /** A HELO/EHLO after the first one moves nothing forward: it is junk, like RSET (issue 8: EHLO floods). */
  private repeatedHello(verb: string): boolean {
    return (verb === 'HELO' || verb === 'EHLO') && this.state.name !== 'greeted';
  }

  // ---- HELO, EHLO, RSET ----------------------------------------------------

  private hello(verb: 'HELO' | 'EHLO', arg: string): Step {
    const name = arg.trim().split(/\s+/)[0] ?? '';
    // A rejected EHLO leaves the state as it was (RFC 5321 §4.1.4).
    if (!name) throw refusal(reply('syntax', { usage: `${verb} hostname` }));
    // An accepted EHLO resets like RSET (RFC 5321 §4.1.4); an authentication stays.
    const authUser = this.authUser();
    this.state = { name: 'ready', hello: authUser === undefined ? { verb, name } : { verb, name, authUser } };
    if (verb === 'HELO') return answer(reply('helo', { host: this.settings.hostname }));
    const first = `${this.settings.hostname} Hello ${name} [${this.client.ip}]`;
    return answer(withLines(reply('ehlo', { host: this.settings.hostname }), [first, ...this.ehloKeywords()]));
  }

  /** RFC 5321 §4.1.1.1; each keyword's RFC: 1870, 2920, 6152, 2034, 6531, 3207. */
  private ehloKeywords(): string[] {
    const keywords = [`SIZE ${this.settings.maxMessageSize}`, 'PIPELINING', '8BITMIME', 'ENHANCEDSTATUSCODES', 'SMTPUTF8', 'DSN'];
    // RFC 3207 §4.2: STARTTLS is not offered again once TLS is on.
    if (this.settings.starttls && !this.tls) keywords.push('STARTTLS');
    if (this.authOffered()) keywords.push(`AUTH ${SASL_MECHANISMS.join(' ')}`);
    return keywords;
  }

  private rset(arg: string): Step {
    if (arg) throw refusal(reply('syntax', { usage: 'RSET' }));
    this.endTransaction();
    return answer(reply('ok'));
  }

  /** RFC 5321 §3.5.3, §7.3: we do not verify addresses, and say so with 252 rather than 250. */
  private vrfy(arg: string): Step {
    if (!arg) throw refusal(reply('syntax', { usage: 'VRFY address' }));
    return answer(reply('cannotVrfy'));
  }

  private quit(arg: string): Step {
    if (arg) throw refusal(reply('syntax', { usage: 'QUIT' }));
    return this.close(reply('bye'), undefined, 'quit');
  }

  // ---- AUTH (RFC 4954) ----------------------------------------------------

  /** AUTH is advertised only under TLS unless configured otherwise (RFC 4954 §4, §14). */
  private authOffered(): boolean {
    return this.settings.auth && (this.tls || !this.settings.authRequiresTls);
  }

  private checkAuth(): Ready {
    if (!this.settings.auth) throw refusal(reply('notImplemented'));
    const state = this.state;
    if (state.name === 'greeted') throw refusal(reply('needHelo'));
    if (this.authUser() !== undefined) throw refusal(reply('alreadyAuthenticated'));
    if (state.name !== 'ready') throw refusal(reply('authDuringTransaction'));
    // A plaintext password mechanism without TLS is refused (RFC 4954 §4).
    if (!this.authOffered()) throw refusal(reply('authEncryptionRequired'));
    return state;
  }

  private async auth(ready: Ready, arg: string): Promise<Step> {
    const { step, exchange } = startAuth(arg);
    if (exchange) this.state = { name: 'auth', hello: ready.hello, exchange };
    return this.authStep(ready.hello, step);
  }

  /** A client line inside an AUTH exchange: a response, not a command. */
  private async authResponse(state: Auth, line: string, wire: WireContext): Promise<Step> {
    if (octetsOf(line, wire) > AUTH_LINE_OCTETS) {
      this.state = { name: 'ready', hello: state.hello };
      return this.errorReply(reply('authLineTooLong'));
    }
    return this.authStep(state.hello, state.exchange.respond(line));
  }

  private async authStep(hello: Hello, step: SaslStep): Promise<Step> {
    if (step.kind === 'challenge') return answer(step.reply);
    this.state = { name: 'ready', hello };
    if (step.kind === 'error') return this.errorReply(step.reply);
    const outcome = await this.deps.authenticate(step);
    if (outcome.ok) {
      this.state = { name: 'ready', hello: { ...hello, authUser: outcome.user } };
      return { replies: [outcome.reply], log: [{ text: `[${this.client.ip}]: authenticated as ${outcome.user}` }] };
    }
    // Secrets never reach the log: the user name only.
    const why = outcome.error ? ` (${outcome.error.message})` : '';
    const log = `[${this.client.ip}]: authentication failed for user ${JSON.stringify(step.user)}${why}`;
    if (++this.authFailures >= this.settings.maxAuthFailures) {
      return this.close(reply('authTooManyFailures', { host: this.settings.hostname }), log);
    }
    const failed = this.errorReply(outcome.reply);
    return { ...failed, log: [{ text: log }], delayMs: Math.max(failed.delayMs ?? 0, this.settings.errorDelayMs) };
  }

  // ---- STARTTLS (RFC 3207) --------------------------------------------------

  /** RFC 3207 §4: no argument; not twice; not where it is not offered; not in a transaction. */
  private checkStartTls(arg: string): void {
    if (!this.settings.starttls && !this.tls) throw refusal(reply('notImplemented'));
    if (arg) throw refusal(reply('syntax', { usage: 'STARTTLS' }));
    if (this.tls) throw refusal(reply('tlsAlreadyActive'));
    if (this.state.name === 'mail') throw refusal(reply('tlsDuringTransaction'));
  }

  /**
   * The handshake is done. RFC 3207 §4.2: the server MUST discard any
   * knowledge obtained from the client before TLS (EHLO name, transaction,
   * authentication), so the session is back at "just greeted".
   */
  tlsStarted(): void {
    this.tls = true;
    this.state = { name: 'greeted' };
  }

  // ---- The mail transaction: MAIL, RCPT, DATA ---------------------------------

  private async mail(ready: Ready, arg: string): Promise<Step> {
    const { path, params } = parseMailArguments(arg, { extended: ready.hello.verb === 'EHLO', authAdvertised: this.authOffered(), strictEnvelopes: this.settings.strictEnvelopes ?? false });
    // RFC 1870 §6.1: a declared size above the fixed maximum is refused at once.
    if (params.size !== undefined && params.size > this.settings.maxMessageSize) throw refusal(reply('sizeExceedsLimit'));
    const sender = path.kind === 'mailbox' ? path.address : '';
    this.checkSenderBinding(ready.hello, sender);
    // The null reverse-path is never refused (RFC 5321 §4.5.5, RFC 2505 §2.6.1).
    if (sender) await this.deps.policy.checkSender(sender, this.policyContext(ready.hello));
    this.state = { name: 'mail', hello: ready.hello, transaction: { sender, params, recipients: [], recipientParams: [], rcptCommands: 0 } };
    return answer(reply('senderOk'));
  }

  private async rcpt(mail: Mail, arg: string): Promise<Step> {
    const { hello, transaction } = mail;
    transaction.rcptCommands++;
    const { path, params } = parseRcptArguments(arg, { extended: hello.verb === 'EHLO', authAdvertised: this.authOffered(), utf8: transaction.params.smtputf8, strictEnvelopes: this.settings.strictEnvelopes ?? false });
    // RFC 5321 §4.5.3.1.10: an implementation limit on recipients is a 452.
    if (transaction.recipients.length >= this.settings.maxRecipients) throw refusal(reply('tooManyRecipients'));
    if (path.kind === 'null') throw refusal(reply('badRecipientSyntax'));
    const address = path.kind === 'postmaster' ? this.settings.postmaster : path.address;
    if (path.kind === 'mailbox') await this.deps.policy.checkRecipient(address, { ...this.policyContext(hello), sender: transaction.sender });
    transaction.recipients.push(address);
    transaction.recipientParams.push(params);
    return answer(reply('recipientOk'));
  }

  /** The command, and the envelope as Postfix logs it: "from=<sender> to=<recipient>". */
  private rcptLog(arg: string): string {
    const sender = this.state.name === 'mail' ? this.state.transaction.sender : '';
    const recipient = arg.replace(/^TO: ?/i, '').split(' ')[0] ?? '';
    return `RCPT ${arg} (from=<${sender}> to=${recipient})`;
  }

  private async data(mail: Mail, wire: WireContext): Promise<Step> {
    // Data sent before our 354 is an injection attempt (RFC 2920 §3.1 policy).
    if (wire.inputPending) {
      this.endTransaction();
      return this.close(reply('syncError'), `synchronization error from [${this.client.ip}]`);
    }
    let receipt: MessageReceipt;
    try {
      receipt = await this.deps.store.begin();
    } catch (err) {
      this.endTransaction();
      throw storeRefusal(err);
    }
    this.state = { ...mail, name: 'data', receipt };
    const header = receivedHeader({
      heloName: mail.hello.name,
      clientIp: this.client.ip,
      hostname: this.settings.hostname,
      protocol: this.protocol(mail),
      id: receipt.id,
      recipients: mail.transaction.recipients,
      date: this.deps.now(),
    });
    return { replies: [reply('startData')], receive: { receipt, header: Buffer.from(header) } };
  }

  /** The end of the DATA phase: commit the message, or refuse it (RFC 5321 §4.1.1.4). */
  async endData(outcome: DataOutcome): Promise<Step> {
    const state = this.state;
    if (state.name !== 'data') throw new Error(`endData() in the ${state.name} state`);
    if (outcome.kind !== 'complete') return this.bareLineEnd(outcome.kind);
    const { receipt, transaction } = state;
    this.endTransaction();
    let stored: { size: number };
    try {
      if (outcome.tooBig) throw refusal(reply('sizeExceedsLimit'));
      if (outcome.lineTooLong) throw refusal(reply('dataLineTooLong'));
      if (outcome.hops > this.settings.maxHops) throw refusal(reply('tooManyHops'));
      stored = await receipt.commit(this.accepted(state)).catch((err: unknown) => { throw storeRefusal(err); });
    } catch (err) {
      await receipt.abort();
      if (!(err instanceof ReplyError)) throw err;
      // A store's error says what failed on disk; a refusal's says no more than its reply.
      const detail = err.message === replyToString(err.reply) ? '' : ` (${err.message})`;
      return this.errorReply(err.reply, `DATA (from=<${transaction.sender}>)${detail}`);
    }
    // A client that delivers mail is no idler: its junk count starts over (as Postfix's does).
    this.junkCommands = 0;
    return {
      replies: [reply('queued', { id: receipt.id })],
      log: [{ id: receipt.id, text: `from=<${transaction.sender}>, size=${stored.size}, nrcpt=${transaction.recipients.length}, client=[${this.client.ip}]` }],
    };
  }

  /** What the store gets: the message as agreed on the wire. */
  private accepted(state: Data): AcceptedMessage {
    const { hello, transaction } = state;
    return {
      client: {
        ip: this.client.ip,
        helo: hello.name,
        tls: this.tls,
        ...(hello.authUser !== undefined ? { authUser: hello.authUser } : {}),
      },
      protocol: this.protocol(state),
      sender: transaction.sender,
      recipients: [...transaction.recipients],
      recipientParams: [...transaction.recipientParams],
      params: transaction.params,
      receivedAt: this.deps.now(),
    };
  }

  // ---- Refusing (RFC 7504 §3) ---------------------------------------------------

  /** After a 521 greeting, 521 to every command but QUIT. */
  private refusing(state: Refusing, line: string): Step {
    if (splitCommand(line).verb === 'QUIT') return this.close(reply('bye'));
    const refused = reply('refused', { host: this.settings.hostname });
    const commands = state.commands + 1;
    if (commands >= this.settings.refuseMaxCommands) return this.close(refused);
    this.state = { name: 'refusing', commands };
    return answer(refused);
  }

  // ---- State checks: the state a command acts on, or the refusal --------------

  /** MAIL: after HELO/EHLO, with no transaction open (RFC 5321 §4.1.4). */
  private outsideTransaction(): Ready {
    const state = this.state;
    if (state.name === 'ready') return state;
    throw refusal(reply(state.name === 'greeted' ? 'needHelo' : 'nestedMail'));
  }

  /**
   * MAIL on a submission listener: only once AUTH succeeded (RFC 6409 §4.3,
   * RFC 4954 §6: 530 5.7.0 to a command that needs authentication).
   */
  private authorizedToSend(ready: Ready): Ready {
    if (this.settings.authRequired && ready.hello.authUser === undefined) throw refusal(reply('authRequired'));
    return ready;
  }

  /**
   * Sender binding (auth.senders, src/auth/sender-binding.ts): an
   * authenticated user may use only their own addresses in MAIL FROM
   * (RFC 6409 §6.1); 553 5.7.1 otherwise, as Postfix's reject_sender_login_mismatch.
   */
  private checkSenderBinding(hello: Hello, sender: string): void {
    const user = hello.authUser;
    if (user === undefined || !this.deps.senderOwned || this.deps.senderOwned(user, sender)) return;
    throw refusal(reply('senderNotOwned', { address: sender, user }));
  }

  /** RCPT: inside a transaction (RFC 5321 §3.3). */
  private inTransaction(): Mail {
    const state = this.state;
    if (state.name === 'mail') return state;
    throw refusal(reply(state.name === 'greeted' ? 'needHelo' : 'needMail'));
  }

  /** DATA: no argument, and at least one recipient accepted (RFC 5321 §3.3, §4.3.2). */
  private withRecipients(arg: string): Mail {
    if (arg) throw refusal(reply('syntax', { usage: 'DATA' }));
    const mail = this.inTransaction();
    const { recipients, rcptCommands } = mail.transaction;
    if (recipients.length === 0) throw refusal(reply(rcptCommands > 0 ? 'noValidRecipients' : 'needRcpt'));
    return mail;
  }

  // ---- Helpers ------------------------------------------------------------

  private authUser(): string | undefined {
    return 'hello' in this.state ? this.state.hello.authUser : undefined;
  }

  private policyContext(hello: Hello): PolicyContext {
    return hello.authUser === undefined ? { clientIp: this.client.ip } : { clientIp: this.client.ip, authUser: hello.authUser };
  }

  private protocol({ hello, transaction }: Mail | Data): string {
    return protocolName({
      extended: hello.verb === 'EHLO',
      utf8: transaction.params.smtputf8,
      tls: this.tls,
      authenticated: hello.authUser !== undefined,
    });
  }

  /** RSET, EHLO, the end of DATA: back to ready, the transaction forgotten. */
  private endTransaction(): void {
    const state = this.state;
    if (state.name === 'mail' || state.name === 'data') this.state = { name: 'ready', hello: state.hello };
  }

  /** The session is ending: a message being received is thrown away. */
  private async dropTransaction(): Promise<void> {
    const state = this.state;
    this.endTransaction();
    if (state.name === 'data') await state.receipt.abort();
  }

  private close(r: Reply, logText?: string, how: 'quit' | 'hangup' = 'hangup'): Step {
    this.state = { name: 'closed' };
    return { replies: [r], close: how, log: logText ? [{ text: `${logText}: ${replyToString(r)}` }] : undefined };
  }

  /** An error reply, counted; logged when `what` names the refused command. */
  private errorReply(r: Reply, what?: string): Step {
    return this.countErrors({
      replies: [r],
      log: what ? [{ text: `reject: ${what.trim()} from [${this.client.ip}]: ${replyToString(r)}` }] : undefined,
    });
  }

  /**
   * Counts the error replies in a step toward the error limit, and past the
   * soft limit delays them (RFC 5321 §7.8: slowing down a misbehaving client).
   */
  private countErrors(step: Step): Step {
    if (step.close || !step.replies.some((r) => r.code >= 400)) return step;
    this.errors++;
    if (this.errors >= this.settings.softErrorLimit && this.settings.errorDelayMs > 0) {
      return { ...step, delayMs: this.settings.errorDelayMs };
    }
    return step;
  }
}

function answer(r: Reply): Step {
  return { replies: [r] };
}

function octetsOf(line: string, wire: WireContext): number {
  return wire.octets ?? Buffer.byteLength(line) + 2;
}

/**
 * The store refuses with its own reply (the spool: 452 4.3.1 when the disk
 * is full); any other failure of the store is 451 4.3.0 (RFC 5321 §4.2.2).
 */
function storeRefusal(err: unknown): ReplyError {
  if (err instanceof ReplyError) return err;
  const error = refusal(reply('storageError'));
  error.message += `: ${err instanceof Error ? err.message : String(err)}`;
  return error;
}

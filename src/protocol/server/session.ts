// The SMTP server state machine (RFC 5321 §3, §4.1, §4.3). Pure: no sockets,
// no timers, no disk. The server feeds it command lines and wire events; it
// answers with a Step — the replies to send and what to do next. Everything
// outside the protocol (relay policy, DNS, the spool) is asked through the
// small interfaces in SessionDeps.
//
//   greeted ──HELO/EHLO──▶ ready ──MAIL──▶ mail ──RCPT…──▶ mail ──DATA──▶ data
//      ▲                     ▲ ◀──RSET / EHLO────┘                     │
//      │                     └──────────── end of data (250/5xx) ◀─────┘
//   refusing: a `refuse` listener; 521 to everything but QUIT (RFC 7504 §3)

import { reply, withLines, type Reply, ReplyError, replyToString } from '../../reply-codes/index.js';
import { parseMailArguments, parseRcptArguments, splitCommand, type MailParameters } from './commands.js';
import type { Path } from '../shared/address.js';
import type { DataOutcome } from './data-reader.js';
import { protocolName, receivedHeader } from './received.js';
import { newEnvelope, type Envelope } from '../../queue/spool/envelope.js';
import { SASL_MECHANISMS, startAuth, type SaslExchange, type SaslStep } from '../../auth/sasl.js';

export type {
  SessionState, ListenerMode, SessionSettings, ClientInfo, PolicyContext, SessionPolicy,
  MessageReceipt, MessageStore, SessionDeps, LogEvent, Step, WireContext,
} from './session-types.js';
import type {
  SessionState, SessionSettings, ClientInfo, PolicyContext, MessageReceipt, SessionDeps, Step, WireContext,
} from './session-types.js';

interface Transaction {
  sender: string;
  params: MailParameters;
  recipients: string[];
  rejected: number;
}

interface CommandDefinition {
  /** Is the command allowed now, with this argument? A reply when it is not. */
  check?: (arg: string) => Reply | undefined;
  proceed: (arg: string, wire: WireContext) => Step | Promise<Step>;
  /** NOOP-like commands that move nothing forward, limited per session. */
  junk?: boolean;
}

/** RFC 5321 §4.2.4: commands we know of and do not implement. */
const NOT_IMPLEMENTED = ['EXPN', 'TURN', 'ETRN', 'ATRN', 'SEND', 'SOML', 'SAML', 'BDAT'];
/** RFC 4954 §4: the longest line of an AUTH exchange. */
const AUTH_LINE_OCTETS = 12288;
/** Cross-protocol attacks: an HTTP request line is answered and closed. */
const HTTP_VERBS = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'CONNECT', 'PATCH'];

export class Session {
  state: SessionState = 'greeted';
  private heloVerb?: 'HELO' | 'EHLO';
  private heloName = '';
  private transaction?: Transaction;
  private receipt?: MessageReceipt;
  private errors = 0;
  private junkCommands = 0;
  private refusedCommands = 0;
  private tls: boolean;
  private authUser?: string;
  private authExchange?: SaslExchange;
  private authFailures = 0;

  constructor(
    private readonly settings: SessionSettings,
    private readonly client: ClientInfo,
    private readonly deps: SessionDeps,
  ) {
    this.tls = client.tls ?? false;
  }

  // ---- The command table: each verb with its check and its action --------

  private readonly commands: Record<string, CommandDefinition> = {
    HELO: { proceed: (arg) => this.hello('HELO', arg) },
    EHLO: { proceed: (arg) => this.hello('EHLO', arg) },
    MAIL: { check: () => this.requireGreeting() ?? this.requireNoTransaction(), proceed: (arg) => this.mail(arg) },
    RCPT: { check: () => this.requireGreeting() ?? this.requireTransaction(), proceed: (arg) => this.rcpt(arg) },
    DATA: {
      // RFC 5321 §4.3.2: DATA takes no argument; that is checked before the state.
      check: (arg) => (arg ? reply('syntax', { usage: 'DATA' }) : this.requireGreeting() ?? this.requireTransaction() ?? this.requireRecipients()),
      proceed: (_arg, wire) => this.data(wire),
    },
    RSET: { proceed: (arg) => this.rset(arg), junk: true },
    NOOP: { proceed: () => this.answer(reply('ok')), junk: true },
    VRFY: { proceed: (arg) => this.answer(arg ? reply('cannotVrfy') : reply('syntax', { usage: 'VRFY address' })), junk: true },
    HELP: { proceed: () => this.answer(reply('help')), junk: true },
    STARTTLS: { check: (arg) => this.checkStartTls(arg), proceed: () => this.startTls() },
    AUTH: { check: () => this.checkAuth(), proceed: (arg) => this.auth(arg) },
    QUIT: { proceed: (arg) => (arg ? this.answer(reply('syntax', { usage: 'QUIT' })) : this.close(reply('bye'))) },
    ...Object.fromEntries(NOT_IMPLEMENTED.map((verb) => [verb, { proceed: () => this.answer(reply('notImplemented')) }])),
    ...Object.fromEntries(HTTP_VERBS.map((verb) => [verb, { proceed: () => this.close(reply('httpCommand')) }])),
  };

  // ---- Wire events ------------------------------------------------------

  /** The greeting (RFC 5321 §4.3.1), or the 521 refusal (RFC 7504 §3). */
  open(): Step {
    if (this.settings.mode !== 'refuse') return this.answer(reply('greeting', { host: this.settings.hostname }));
    const refusal = reply('refused', { host: this.settings.hostname });
    if (this.settings.refuse === 'close') return this.close(refusal);
    this.state = 'refusing';
    return this.answer(refusal);
  }

  async command(line: string, wire: WireContext = {}): Promise<Step> {
    if (this.state === 'refusing') return this.refusing(line);
    if (this.errors >= this.settings.maxErrors) return this.close(reply('tooManyErrors', { host: this.settings.hostname }));
    if (this.authExchange) return this.authResponse(line, wire);
    const { verb, arg } = splitCommand(line);
    // RFC 5321 §4.5.3.1.4; only AUTH may be longer (RFC 4954 §4).
    const limit = verb === 'AUTH' ? AUTH_LINE_OCTETS : this.settings.maxLineOctets;
    if (octetsOf(line, wire) > limit) return this.counted(reply(verb === 'AUTH' ? 'authLineTooLong' : 'commandTooLong'));
    const definition = this.commands[verb];
    if (!definition) return this.counted(reply('unknownCommand'), `unknown command ${JSON.stringify(verb.slice(0, 32))}`);
    if ((definition.junk || this.repeatedHello(verb)) && ++this.junkCommands > this.settings.maxJunkCommands) {
      return this.close(reply('tooManyErrors', { host: this.settings.hostname }));
    }
    const refusal = definition.check?.(arg);
    // Only the verb is logged here: an AUTH line carries credentials.
    if (refusal) return this.counted(refusal, verb);
    try {
      return this.counting(await definition.proceed(arg, wire));
    } catch (err) {
      if (err instanceof ReplyError) return this.counted(err.reply, `${verb} ${arg}`);
      throw err;
    }
  }

  /** A command line over the limit, already thrown away (RFC 5321 §4.5.3.1.4). */
  lineTooLong(): Step {
    if (this.state === 'refusing') return this.refusing('');
    if (this.authExchange) {
      this.authExchange = undefined;
      return this.counted(reply('authLineTooLong'));
    }
    return this.counted(reply('commandTooLong'));
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

  /** The client sent DATA too slowly (slowloris defence, checklist §6.3). */
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
    return this.state === 'mail' || this.state === 'data' || this.authExchange !== undefined;
  }

  /** The connection is gone: whatever was being received is dropped (§4.1.1.10). */
  async disconnected(): Promise<void> {
    await this.dropTransaction();
    this.state = 'closed';
  }

  /** A HELO/EHLO after the first one moves nothing forward: it is junk, like RSET (issue 8: EHLO floods). */
  private repeatedHello(verb: string): boolean {
    return (verb === 'HELO' || verb === 'EHLO') && this.state !== 'greeted';
  }

  // ---- Commands -----------------------------------------------------------

  private hello(verb: 'HELO' | 'EHLO', arg: string): Step {
    const name = arg.trim().split(/\s+/)[0] ?? '';
    // A rejected EHLO leaves the state as it was (RFC 5321 §4.1.4).
    if (!name) return this.answer(reply('syntax', { usage: `${verb} hostname` }));
    // An accepted EHLO resets like RSET (RFC 5321 §4.1.4).
    this.resetTransaction();
    this.heloVerb = verb;
    this.heloName = name;
    this.state = 'ready';
    if (verb === 'HELO') return this.answer(reply('helo', { host: this.settings.hostname }));
    const first = `${this.settings.hostname} Hello ${name} [${this.client.ip}]`;
    return this.answer(withLines(reply('ehlo', { host: this.settings.hostname }), [first, ...this.ehloKeywords()]));
  }

  /** RFC 5321 §4.1.1.1; each keyword's RFC: 1870, 2920, 6152, 2034, 6531, 3207. */
  private ehloKeywords(): string[] {
    const keywords = [`SIZE ${this.settings.maxMessageSize}`, 'PIPELINING', '8BITMIME', 'ENHANCEDSTATUSCODES', 'SMTPUTF8'];
    // RFC 3207 §4.2: STARTTLS is not offered again once TLS is on.
    if (this.settings.starttls && !this.tls) keywords.push('STARTTLS');
    if (this.authOffered()) keywords.push(`AUTH ${SASL_MECHANISMS.join(' ')}`);
    return keywords;
  }

  /** AUTH is advertised only under TLS unless configured otherwise (RFC 4954 §4, §14). */
  private authOffered(): boolean {
    return this.settings.auth && (this.tls || !this.settings.authRequiresTls);
  }

  // ---- AUTH (RFC 4954) ----------------------------------------------------

  private checkAuth(): Reply | undefined {
    if (!this.settings.auth) return reply('notImplemented');
    if (this.state === 'greeted') return reply('needHelo');
    if (this.authUser !== undefined) return reply('alreadyAuthenticated');
    if (this.transaction) return reply('authDuringTransaction');
    // A plaintext password mechanism without TLS is refused (RFC 4954 §4).
    if (!this.authOffered()) return reply('authEncryptionRequired');
    return undefined;
  }

  private async auth(arg: string): Promise<Step> {
    const { step, exchange } = startAuth(arg);
    this.authExchange = exchange;
    return this.authStep(step);
  }

  /** A client line inside an AUTH exchange: a response, not a command. */
  private async authResponse(line: string, wire: WireContext): Promise<Step> {
    const exchange = this.authExchange!;
    if (octetsOf(line, wire) > AUTH_LINE_OCTETS) {
      this.authExchange = undefined;
      return this.counted(reply('authLineTooLong'));
    }
    return this.authStep(exchange.respond(line));
  }

  private async authStep(step: SaslStep): Promise<Step> {
    if (step.kind === 'challenge') return this.answer(step.reply);
    this.authExchange = undefined;
    if (step.kind === 'error') return this.counted(step.reply);
    const outcome = await this.deps.authenticate(step);
    if (outcome.ok) {
      this.authUser = outcome.user;
      return { replies: [outcome.reply], log: [{ text: `[${this.client.ip}]: authenticated as ${outcome.user}` }] };
    }
    // Secrets never reach the log: the user name only.
    const why = outcome.error ? ` (${outcome.error.message})` : '';
    const log = `[${this.client.ip}]: authentication failed for user ${JSON.stringify(step.user)}${why}`;
    if (++this.authFailures >= this.settings.maxAuthFailures) {
      return this.close(reply('authTooManyFailures', { host: this.settings.hostname }), log);
    }
    const counted = this.counted(outcome.reply);
    return { ...counted, log: [{ text: log }], delayMs: Math.max(counted.delayMs ?? 0, this.settings.errorDelayMs) };
  }

  /** RFC 3207 §4: no argument; not twice; not where it is not offered. */
  private checkStartTls(arg: string): Reply | undefined {
    if (!this.settings.starttls && !this.tls) return reply('notImplemented');
    if (arg) return reply('syntax', { usage: 'STARTTLS' });
    if (this.tls) return reply('tlsAlreadyActive');
    return this.requireNoTransaction();
  }

  private startTls(): Step {
    return { replies: [reply('tlsReady')], startTls: true };
  }

  /**
   * The handshake is done. RFC 3207 §4.2: the server MUST discard any
   * knowledge obtained from the client before TLS (EHLO name, transaction,
   * authentication), so the session is back at "just greeted".
   */
  tlsStarted(): void {
    this.tls = true;
    this.authUser = undefined;
    this.authExchange = undefined;
    this.resetTransaction();
    this.heloVerb = undefined;
    this.heloName = '';
    this.state = 'greeted';
  }

  private async mail(arg: string): Promise<Step> {
    const { path, params } = parseMailArguments(arg, { extended: this.heloVerb === 'EHLO', authAdvertised: this.authOffered() });
    // RFC 1870 §6.1: a declared size above the fixed maximum is refused at once.
    if (params.size !== undefined && params.size > this.settings.maxMessageSize) {
      return this.counted(reply('sizeExceedsLimit'), `MAIL ${arg}`);
    }
    const sender = path.kind === 'mailbox' ? path.address : '';
    // The null reverse-path is never refused (RFC 5321 §4.5.5, RFC 2505 §2.6.1).
    if (sender && this.settings.mode !== 'capture') {
      const refusal = await this.deps.policy.checkSender(sender, this.policyContext());
      if (refusal) return this.counted(refusal, `MAIL ${arg}`);
    }
    this.transaction = { sender, params, recipients: [], rejected: 0 };
    this.state = 'mail';
    return this.answer(reply('senderOk'));
  }

  private async rcpt(arg: string): Promise<Step> {
    const transaction = this.transaction!;
    let path: Path;
    try {
      ({ path } = parseRcptArguments(arg, { extended: this.heloVerb === 'EHLO', authAdvertised: this.authOffered(), utf8: transaction.params.smtputf8 }));
    } catch (err) {
      if (err instanceof ReplyError) transaction.rejected++;
      throw err;
    }
    // RFC 5321 §4.5.3.1.10: an implementation limit on recipients is a 452.
    if (transaction.recipients.length >= this.settings.maxRecipients) {
      return this.refuseRecipient(reply('tooManyRecipients'), arg);
    }
    if (path.kind === 'postmaster') return this.acceptRecipient(this.settings.postmaster);
    if (path.kind !== 'mailbox') return this.refuseRecipient(reply('badRecipientSyntax'), arg);
    if (this.settings.mode !== 'capture') {
      const refusal = await this.deps.policy.checkRecipient(path.address, { ...this.policyContext(), sender: transaction.sender });
      if (refusal) return this.refuseRecipient(refusal, arg);
    }
    return this.acceptRecipient(path.address);
  }

  private acceptRecipient(address: string): Step {
    this.transaction!.recipients.push(address);
    return this.answer(reply('recipientOk'));
  }

  private refuseRecipient(refusal: Reply, arg: string): Step {
    const transaction = this.transaction!;
    transaction.rejected++;
    return this.counted(refusal, `RCPT ${arg} (from=<${transaction.sender}>)`);
  }

  private async data(wire: WireContext): Promise<Step> {
    // Data sent before our 354 is an injection attempt (RFC 2920 §3.1 policy).
    if (wire.inputPending) {
      this.resetTransaction();
      return this.close(reply('syncError'), `synchronization error from [${this.client.ip}]`);
    }
    let receipt: MessageReceipt;
    try {
      receipt = await this.deps.store.begin();
    } catch (err) {
      this.resetTransaction();
      return this.answer(storageReply(err));
    }
    this.receipt = receipt;
    this.state = 'data';
    const transaction = this.transaction!;
    const header = receivedHeader({
      heloName: this.heloName,
      clientIp: this.client.ip,
      hostname: this.settings.hostname,
      protocol: this.protocol(),
      id: receipt.id,
      recipients: transaction.recipients,
      date: this.deps.now(),
    });
    return { replies: [reply('startData')], receive: { receipt, header: Buffer.from(header) } };
  }

  /** The end of the DATA phase: commit the message, or refuse it (RFC 5321 §4.1.1.4). */
  async endData(outcome: DataOutcome): Promise<Step> {
    if (outcome.kind !== 'complete') return this.bareLineEnd(outcome.kind);
    const receipt = this.receipt!;
    const transaction = this.transaction!;
    this.receipt = undefined;
    this.resetTransaction();
    const refusal = outcome.tooBig ? reply('sizeExceedsLimit')
      : outcome.lineTooLong ? reply('dataLineTooLong')
      : outcome.hops > this.settings.maxHops ? reply('tooManyHops')
      : undefined;
    if (refusal) {
      await receipt.abort();
      return this.counted(refusal, `DATA from <${transaction.sender}>`);
    }
    try {
      await receipt.commit(this.envelope(receipt.id, transaction));
    } catch (err) {
      await receipt.abort();
      return this.counted(storageReply(err), `DATA: ${(err as Error).message}`);
    }
    return {
      replies: [reply('queued', { id: receipt.id })],
      log: [{ id: receipt.id, text: `from=<${transaction.sender}>, size=${outcome.size}, nrcpt=${transaction.recipients.length}, client=[${this.client.ip}]` }],
    };
  }

  private rset(arg: string): Step {
    if (arg) return this.answer(reply('syntax', { usage: 'RSET' }));
    this.resetTransaction();
    return this.answer(reply('ok'));
  }

  /** RFC 7504 §3: after a 521 greeting, 521 to every command but QUIT. */
  private refusing(line: string): Step {
    if (splitCommand(line).verb === 'QUIT') return this.close(reply('bye'));
    const refusal = reply('refused', { host: this.settings.hostname });
    return ++this.refusedCommands >= this.settings.refuseMaxCommands ? this.close(refusal) : this.answer(refusal);
  }

  // ---- State checks (the "check" half of the command table) ---------------

  private requireGreeting(): Reply | undefined {
    return this.state === 'greeted' ? reply('needHelo') : undefined;
  }

  private requireNoTransaction(): Reply | undefined {
    return this.transaction ? reply('nestedMail') : undefined;
  }

  private requireTransaction(): Reply | undefined {
    return this.transaction ? undefined : reply('needMail');
  }

  private requireRecipients(): Reply | undefined {
    const transaction = this.transaction!;
    if (transaction.recipients.length > 0) return undefined;
    return transaction.rejected > 0 ? reply('noValidRecipients') : reply('needRcpt');
  }

  // ---- Helpers ------------------------------------------------------------

  private policyContext(): PolicyContext {
    return this.authUser === undefined ? { clientIp: this.client.ip } : { clientIp: this.client.ip, authUser: this.authUser };
  }

  private protocol(): string {
    return protocolName({
      extended: this.heloVerb === 'EHLO',
      utf8: this.transaction?.params.smtputf8 ?? false,
      tls: this.tls,
      authenticated: this.authUser !== undefined,
    });
  }

  private envelope(id: string, transaction: Transaction): Omit<Envelope, 'size'> {
    return newEnvelope({
      id,
      arrivedAt: this.deps.now(),
      client: {
        ip: this.client.ip,
        ehlo: this.heloName,
        protocol: this.protocol(),
        ...(this.authUser !== undefined ? { authUser: this.authUser } : {}),
      },
      sender: transaction.sender,
      recipients: transaction.recipients,
      body: transaction.params.body ?? '7BIT',
      smtputf8: transaction.params.smtputf8,
      capture: this.settings.mode === 'capture',
    });
  }

  private resetTransaction(): void {
    this.transaction = undefined;
    if (this.state === 'mail' || this.state === 'data') this.state = 'ready';
  }

  private async dropTransaction(): Promise<void> {
    const receipt = this.receipt;
    this.receipt = undefined;
    this.resetTransaction();
    if (receipt) await receipt.abort();
  }

  private answer(r: Reply): Step {
    return { replies: [r] };
  }

  private close(r: Reply, logText?: string): Step {
    this.state = 'closed';
    return { replies: [r], close: true, log: logText ? [{ text: `${logText}: ${replyToString(r)}` }] : undefined };
  }

  /** A reply to a command, counted when it is an error (RFC 5321 §7.8). */
  private counted(r: Reply, what?: string): Step {
    return this.counting({
      replies: [r],
      log: what && r.code >= 400 ? [{ text: `reject: ${what.trim()} from [${this.client.ip}]: ${replyToString(r)}` }] : undefined,
    });
  }

  private counting(step: Step): Step {
    if (step.close || !step.replies.some((r) => r.code >= 400)) return step;
    this.errors++;
    if (this.errors >= this.settings.softErrorLimit && this.settings.errorDelayMs > 0) {
      return { ...step, delayMs: this.settings.errorDelayMs };
    }
    return step;
  }
}

function octetsOf(line: string, wire: WireContext): number {
  return wire.octets ?? Buffer.byteLength(line) + 2;
}

/** RFC 5321 §4.2.2: full storage is 452 4.3.1, any other failure 451 4.3.0. */
function storageReply(err: unknown): Reply {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' ? reply('insufficientStorage') : reply('storageError');
}


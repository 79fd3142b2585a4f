// One SMTP session with a next hop, as the delivery client runs it: the
// greeting, EHLO (or HELO), STARTTLS, AUTH, and then one transaction per
// message (MAIL, RCPT…, DATA). A session that ended its transaction in step
// may carry the next message to the same host: RSET, then MAIL again
// (RFC 5321 §4.1.1.5); deliverToHost (smtp-client.ts) decides. The rules
// each step follows are in the contract at the top of smtp-client.ts.

import { encodeXtext } from '../shared/xtext.js';
import { classOf, isPermanent, isPositive, ReplyError, reply, replyToString, type Reply, type ReplyName } from '../../reply-codes/index.js';
import { authenticate, chooseMechanism, deferredAuthFailure, offeredMechanisms, type AuthChannel } from './auth.js';
import { TlsHandshakeError, type ClientConnection } from './connection.js';
import { AFTER_HELO, announcedSizeLimit, offers, parseEhloReply, type ServerExtensions } from './extensions.js';
import { RecipientLedger } from './recipients.js';
import type { ClientTimeouts, DeliveryRequest, DeliveryResult, HostFailureStage, SessionOutcome } from './request.js';
import { handshakeOptions, mayRetryInPlaintext, type TlsPlan } from './tls.js';
import { DotStuffer } from '../shared/dot-stuffing.js';

/** An opportunistic handshake failed; try again in plaintext on a new connection. */
export interface PlaintextRetry {
  readonly kind: 'plaintext-retry';
}

/**
 * The peer refused the whole request with a reply of its own, and the session
 * is still in step, so QUIT is the polite way out.
 */
class Refusal extends ReplyError {}

/** A kept session failed at RSET, before any transaction: not an attempt; a new session takes over. */
class StaleSession extends Error {}

/** RFC 5321 §3.2 (SHOULD): these replies to EHLO mean "not recognized", so HELO is tried. */
const EHLO_NOT_RECOGNIZED: ReadonlySet<number> = new Set([500, 501, 502, 504]);

/** What the envelope may need from the next hop; never sent unless advertised (RFC 5321 §4.1.1.3). */
const ENVELOPE_NEEDS: ReadonlyArray<{
  readonly keyword: string;
  readonly needed: (req: DeliveryRequest) => boolean;
  readonly mailParameter: string;
  /** Without the extension we can't send it (RFC 6152 §3; RFC 6531 §3.2): no downgrade here. */
  readonly refusal: ReplyName;
}> = [
  { keyword: '8BITMIME', needed: (r) => r.body === '8BITMIME', mailParameter: 'BODY=8BITMIME', refusal: 'eightBitNotSupported' },
  { keyword: 'SMTPUTF8', needed: (r) => r.smtputf8, mailParameter: 'SMTPUTF8', refusal: 'utf8NotSupported' },
];

export class ClientSession {
  private readonly peer: string;
  /** The message of the transaction under way, and its recipients' replies. */
  private req: DeliveryRequest;
  private ledger: RecipientLedger;
  private stage: HostFailureStage = 'greeting';
  private greeting: Reply | undefined;
  private extensions: ServerExtensions = AFTER_HELO;
  /** Why the session is still plaintext, for the reply that refuses to send the password. */
  private plaintextReason = 'STARTTLS not offered';
  /**
   * Every exchange so far ended as the protocol says: no timeout, drop,
   * 421, protocol error or refusal of the session. Only such a session is
   * reused for another message.
   */
  private inStep = true;
  /** Transactions started on this session. */
  private count = 0;
  private quitSent = false;

  constructor(
    private readonly conn: ClientConnection,
    first: DeliveryRequest,
    private readonly plan: TlsPlan,
    private readonly timeouts: ClientTimeouts,
  ) {
    this.peer = conn.peer;
    this.req = first;
    conn.recorder = first.recorder;
    this.ledger = new RecipientLedger(first.recipients);
  }

  /** The session may carry another message: in step, and the connection still open. */
  get reusable(): boolean {
    return this.inStep && !this.quitSent && this.conn.open;
  }

  /** Messages this session has carried. */
  get transactions(): number {
    return this.count;
  }

  /** Greeting, EHLO, STARTTLS, AUTH, then the transaction for `first` (the constructor's request). */
  async deliverFirst(): Promise<DeliveryResult | PlaintextRetry> {
    try {
      await this.greet();
      await this.identify();
      await this.secure();
      await this.authenticate();
    } catch (err) {
      if (!(err instanceof ReplyError)) throw err;
      this.inStep = false;
      if (err instanceof TlsHandshakeError && mayRetryInPlaintext(this.plan, this.req)) return { kind: 'plaintext-retry' };
      if (err instanceof Refusal) await this.quit();
      return this.failure(err.reply);
    }
    return this.deliver();
  }

  /**
   * Another message on this session: RSET, then the transaction (RFC 5321
   * §4.1.1.5). With PIPELINING, RSET goes in the same group as MAIL, RCPT
   * and DATA (RFC 2920 §3.1: RSET may appear anywhere in a group), so a
   * kept session costs no extra round trip. Undefined when the session turns
   * out not to be usable before the transaction starts (the peer closed it
   * while idle, or refused RSET): the caller opens a new one, and nothing
   * counts as an attempt.
   */
  async deliverNext(req: DeliveryRequest): Promise<DeliveryResult | undefined> {
    this.req = req;
    this.conn.recorder = req.recorder;
    this.ledger = new RecipientLedger(req.recipients);
    this.stage = 'mail';
    // A message this host can't take is refused before MAIL: then RSET goes alone, as without PIPELINING.
    const pipelined = offers(this.extensions, 'PIPELINING') && this.envelopeRefusal() === undefined;
    try {
      if (!pipelined) {
        this.conn.send(['RSET']);
        await this.readRset();
      }
      return await this.deliver(pipelined);
    } catch (err) {
      if (!(err instanceof StaleSession)) throw err;
      this.inStep = false;
      // Pipelined, MAIL, RCPT and DATA are still owed replies, and a 354 may
      // come: the connection is dropped, never given a final dot, so nothing
      // is delivered.
      if (pipelined) this.conn.close();
      return undefined;
    }
  }

  /** QUIT; a missing 221 changes nothing (RFC 5321 §4.1.1.10). Then the connection is closed. */
  async end(): Promise<void> {
    if (this.conn.open) await this.quit();
    this.conn.close();
  }

  /** The transaction for `this.req` (after RSET, in its group, when `withRset`), or its refusal before MAIL. */
  private async deliver(withRset = false): Promise<DeliveryResult> {
    this.count++;
    try {
      const refusal = this.envelopeRefusal();
      if (refusal) this.ledger.decideRest(refusal);
      else await this.transact(withRset);
      return this.outcome();
    } catch (err) {
      if (!(err instanceof ReplyError)) throw err;
      this.inStep = false;
      if (err instanceof Refusal) await this.quit();
      return this.failure(err.reply);
    }
  }

  /** RFC 5321 §3.1, §4.3.1: 220, or a refusal (521, 554, 421…). */
  private async greet(): Promise<void> {
    this.greeting = await this.read(this.timeouts.greetingMs, 'greeting');
    if (this.greeting.code === 220) return;
    throw this.greeting.code < 400 ? this.protocolError(`unexpected greeting ${this.greeting.code}`) : new Refusal(this.greeting);
  }

  /** EHLO, falling back to HELO on the same connection (RFC 5321 §3.2). */
  private async identify(): Promise<void> {
    this.stage = 'ehlo';
    this.conn.send([`EHLO ${this.req.heloName}`]);
    const ehlo = await this.read(this.timeouts.ehloMs, 'EHLO');
    if (isPositive(ehlo)) {
      this.extensions = parseEhloReply(ehlo);
      return;
    }
    if (!EHLO_NOT_RECOGNIZED.has(ehlo.code)) throw new Refusal(ehlo);
    this.stage = 'helo';
    this.conn.send([`HELO ${this.req.heloName}`]);
    const helo = await this.read(this.timeouts.ehloMs, 'HELO');
    if (!isPositive(helo)) throw new Refusal(helo);
    this.extensions = AFTER_HELO;
  }

  /** STARTTLS as the plan says (RFC 3207 §4); after the handshake, EHLO again. */
  private async secure(): Promise<void> {
    if (this.conn.tls || this.plan.starttls === 'never') return;
    this.stage = 'starttls';
    if (!offers(this.extensions, 'STARTTLS')) {
      if (this.plan.starttls === 'required') throw new Refusal(reply('tlsNotOfferedByHost', { host: this.peer }));
      return;
    }
    this.conn.send(['STARTTLS']);
    const answer = await this.read(this.timeouts.tlsMs, 'STARTTLS');
    if (answer.code !== 220) {
      if (answer.code < 400) throw this.protocolError(`${answer.code} to STARTTLS`);
      if (this.plan.starttls === 'required') {
        throw new Refusal(reply('tlsRefusedByHost', { host: this.peer, detail: replyToString(answer) }));
      }
      // RFC 3207 §4: after a refusal the client decides; this session is still in step, so it goes on in plaintext.
      this.plaintextReason = `STARTTLS refused: ${replyToString(answer)}`;
      return;
    }
    await this.conn.startTls(handshakeOptions(this.req), this.timeouts.tlsMs);
    // RFC 3207 §4.2: forget what the server said before TLS and ask again.
    this.extensions = AFTER_HELO;
    await this.identify();
  }

  /** AUTH with the request's credentials (RFC 4954 §4): under TLS, or in plaintext only with tls 'none'. */
  private async authenticate(): Promise<void> {
    const credentials = this.req.auth;
    if (!credentials) return;
    this.stage = 'auth';
    if (!this.conn.tls && !this.plan.plaintextAuth) {
      throw new Refusal(reply('passwordNeedsTls', { host: this.peer, detail: this.plaintextReason }));
    }
    const mechanism = chooseMechanism(this.extensions);
    if (!mechanism) throw new Refusal(reply('authNotOfferedByHost', { host: this.peer, detail: offeredMechanisms(this.extensions) }));
    const channel: AuthChannel = {
      send: (line) => this.conn.send([line]),
      read: (step) => this.conn.readReply(this.timeouts.authMs, step),
    };
    const answer = await authenticate(channel, mechanism, credentials, this.peer);
    if (isPositive(answer)) return;
    if (answer.code === 421) throw new ReplyError(answer); // RFC 5321 §3.8: the server is closing
    if (answer.code < 400) throw this.protocolError(`${answer.code} to AUTH`);
    throw new Refusal(isPermanent(answer) ? deferredAuthFailure(answer, this.peer) : answer);
  }

  /** A reason this host can't take the message at all, found before MAIL. */
  private envelopeRefusal(): Reply | undefined {
    for (const need of ENVELOPE_NEEDS) {
      if (need.needed(this.req) && !offers(this.extensions, need.keyword)) return reply(need.refusal, { host: this.peer });
    }
    // RFC 1870 §4: a message over the announced fixed maximum would be refused; don't send it.
    const limit = announcedSizeLimit(this.extensions);
    if (limit !== undefined && this.req.size > limit) {
      return reply('messageTooBigForHost', { host: this.peer, size: this.req.size, limit });
    }
    return undefined;
  }

  /**
   * MAIL, RCPT…, DATA, the message, and the reply that decides it; with
   * PIPELINING one group, led by RSET on a kept session (`withRset`).
   */
  private async transact(withRset: boolean): Promise<void> {
    this.stage = 'mail';
    const rcpts = this.req.recipients.map((address, i) => [`RCPT TO:<${address}>`, ...this.rcptDsnParameters(i)].join(' '));
    // RFC 2920 §3.1: RSET, MAIL and RCPT anywhere in a group, DATA only last.
    const pipelining = offers(this.extensions, 'PIPELINING');
    const envelope = pipelining ? [this.mailCommand(), ...rcpts, 'DATA'] : [this.mailCommand()];
    this.conn.send(withRset ? ['RSET', ...envelope] : envelope);
    if (withRset) await this.readRset();
    const mail = await this.read(this.timeouts.mailMs, 'MAIL FROM');
    if (!isPositive(mail)) {
      if (pipelining) await this.skipPipelinedReplies(rcpts.length);
      throw new Refusal(mail);
    }
    this.ledger.startTransaction();
    for (const [i, rcpt] of rcpts.entries()) {
      if (!pipelining) this.conn.send([rcpt]);
      this.ledger.recordRcpt(i, await this.read(this.timeouts.rcptMs, 'RCPT TO'));
    }
    if (!pipelining && !this.ledger.anyAccepted) return; // QUIT follows; no DATA without a recipient
    if (!pipelining) this.conn.send(['DATA']);
    const data = await this.read(this.timeouts.dataInitMs, 'DATA');
    if (!this.ledger.anyAccepted) {
      if (data.code === 354) await this.endEmptyData();
      return;
    }
    if (data.code !== 354) throw data.code < 400 ? this.protocolError(`${data.code} to DATA`) : new Refusal(data);
    await this.sendMessage();
    const final = await this.read(this.timeouts.dataEndMs, 'end of data');
    if (classOf(final.code) === 'intermediate') throw this.protocolError(`${final.code} after the end of data`);
    this.ledger.decideRest(final);
  }

  private mailCommand(): string {
    const params: string[] = [];
    if (offers(this.extensions, 'SIZE')) params.push(`SIZE=${this.req.size}`);
    for (const need of ENVELOPE_NEEDS) {
      if (need.needed(this.req)) params.push(need.mailParameter); // offered: envelopeRefusal() checked
    }
    const dsn = this.passesDsn ? this.req.dsn : undefined;
    // RFC 3461 §5.2.2: a DSN-capable next hop gets the sender's request, unchanged.
    if (dsn?.ret) params.push(`RET=${dsn.ret}`);
    if (dsn?.envid !== undefined) params.push(`ENVID=${encodeXtext(dsn.envid)}`);
    return [`MAIL FROM:<${this.req.sender}>`, ...params].join(' ');
  }

  /** The request has DSN parameters and the next hop offers DSN (RFC 3461 §4). */
  private get passesDsn(): boolean {
    return this.req.dsn !== undefined && offers(this.extensions, 'DSN');
  }

  private rcptDsnParameters(i: number): string[] {
    const dsn = this.passesDsn ? this.req.dsn?.recipients[i] : undefined;
    if (!dsn) return [];
    const params: string[] = [];
    if (dsn.notify) params.push(`NOTIFY=${dsn.notify.length === 0 ? 'NEVER' : dsn.notify.join(',')}`);
    if (dsn.orcpt) {
      const semicolon = dsn.orcpt.indexOf(';');
      params.push(`ORCPT=${dsn.orcpt.slice(0, semicolon)};${encodeXtext(dsn.orcpt.slice(semicolon + 1))}`);
    }
    return params;
  }

  /**
   * MAIL was refused inside a pipelined group: read the RCPT and DATA replies
   * still owed (RFC 2920 §3.1: check every status), ending the data if a
   * server answered DATA with 354 anyway. MAIL's reply stays the outcome.
   */
  private async skipPipelinedReplies(rcptCount: number): Promise<void> {
    try {
      for (let i = 0; i < rcptCount; i++) await this.conn.readReply(this.timeouts.rcptMs, 'RCPT TO');
      const data = await this.conn.readReply(this.timeouts.dataInitMs, 'DATA');
      if (data.code === 354) await this.endEmptyData();
    } catch (err) {
      if (!(err instanceof ReplyError)) throw err;
    }
  }

  /**
   * RFC 2920 §3.1: every RCPT failed but DATA got 354: send a lone "." and
   * ignore its reply, so waiting for it long is pointless.
   */
  private async endEmptyData(): Promise<void> {
    await this.conn.writeData([new DotStuffer().end()], this.timeouts.dataBlockMs, 'end of data');
    await this.conn.readReply(this.timeouts.quitMs, 'end of data');
  }

  /**
   * Streams the stored message, dot-stuffed with CRLF line ends (RFC 5321
   * §4.5.2, §2.3.8). The last block goes out with the final dot in one write:
   * a small message is one write, not two.
   */
  private async sendMessage(): Promise<void> {
    const stuffer = new DotStuffer();
    let held: Buffer | undefined;
    try {
      for await (const chunk of this.req.message()) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        this.conn.recorder?.body(bytes);
        if (held) await this.conn.writeData([held], this.timeouts.dataBlockMs, 'message data');
        held = stuffer.push(bytes);
      }
    } catch (err) {
      if (err instanceof ReplyError) throw this.arrivedRefusal() ?? err;
      // Our own copy failed: never send the final dot after a partial message.
      this.conn.close();
      throw new ReplyError(reply('messageUnreadable', { detail: err instanceof Error ? err.message : String(err) }));
    }
    try {
      await this.conn.writeData(held ? [held, stuffer.end()] : [stuffer.end()], this.timeouts.dataBlockMs, 'end of data');
    } catch (err) {
      if (err instanceof ReplyError) throw this.arrivedRefusal() ?? err;
      throw err;
    }
  }

  /** A negative reply the server sent before hanging up in the middle of the data. */
  private arrivedRefusal(): ReplyError | undefined {
    const early = this.conn.takeArrivedReply();
    return early && early.code >= 400 ? new ReplyError(early) : undefined;
  }

  /** QUIT; a missing 221 changes nothing (RFC 5321 §4.1.1.10). */
  private async quit(): Promise<void> {
    if (this.quitSent) return;
    this.quitSent = true;
    this.conn.send(['QUIT']);
    try {
      await this.conn.readReply(this.timeouts.quitMs, 'QUIT');
    } catch (err) {
      if (!(err instanceof ReplyError)) throw err;
    }
  }

  /**
   * The reply to RSET on a kept session. Anything but 2xx (a drop, a
   * timeout, a 421, a refusal) means the session can't carry the message:
   * StaleSession, and the caller opens a new one.
   */
  private async readRset(): Promise<void> {
    let answer: Reply;
    try {
      answer = await this.read(this.timeouts.mailMs, 'RSET');
    } catch (err) {
      if (err instanceof ReplyError) throw new StaleSession();
      throw err;
    }
    if (!isPositive(answer)) throw new StaleSession();
  }

  /** The next reply; a 421 ends the session at once (RFC 5321 §3.8). */
  private async read(timeoutMs: number, command: string): Promise<Reply> {
    const next = await this.conn.readReply(timeoutMs, command);
    if (next.code === 421) throw new ReplyError(next);
    return next;
  }

  private protocolError(detail: string): ReplyError {
    this.conn.close();
    return new ReplyError(reply('remoteProtocolError', { host: this.peer, detail }));
  }

  private failure(cause: Reply): DeliveryResult {
    if (!this.ledger.transactionStarted) {
      return { kind: 'host-failed', host: this.req.host, address: this.req.address, stage: this.stage, reply: cause };
    }
    this.ledger.decideRest(cause);
    return this.outcome();
  }

  private outcome(): SessionOutcome {
    if (!this.greeting) throw new Error('outcome() before the greeting');
    return {
      kind: 'session',
      host: this.req.host,
      address: this.req.address,
      recipients: this.ledger.results(),
      greeting: this.greeting,
      greetedWith: this.extensions.greetedWith,
      tls: this.conn.tls,
      dsnPassedOn: this.passesDsn,
    };
  }
}


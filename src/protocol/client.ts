// The SMTP client used for delivery: one message, one connection, one try.
//
// Contract with the caller (the delivery worker):
//
// deliverMessage() never rejects for anything the network, the peer or the
// stored message does (only a bug in this code would make it reject); it
// resolves to one of two kinds of result.
//
// - { kind: 'host-failed', stage, reply }: the host failed as a whole before
//   any recipient got an answer of its own: connect error or timeout, a 4xx/5xx
//   or missing greeting, EHLO/HELO refused, MAIL FROM refused, a timeout, drop,
//   421 or protocol error up to and including the reply to MAIL. `reply`
//   applies to every recipient. Its first digit says how (RFC 5321 §4.2.1):
//   5xx permanent (e.g. a `521 5.3.2` greeting, RFC 7504 §3, given verbatim),
//   4xx temporary. Replies we synthesize (connect failed, lost, timed out,
//   protocol error) are all 451. The caller decides whether to try the next
//   address or MX host.
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
// changes nothing. Timeouts are per command (RFC 5321 §4.5.3.2).

import type { Readable } from 'node:stream';
import { classOf, isPositive, ReplyError, reply, type Reply, type ReplyName } from '../reply-codes/index.js';
import { ClientConnection } from './client-connection.js';
import { AFTER_HELO, announcedSizeLimit, offers, parseEhloReply, type ServerExtensions } from './client-extensions.js';
import { RecipientLedger, type RecipientResult } from './client-recipients.js';
import { DotStuffer } from './dot-stuffing.js';

export type { RecipientResult } from './client-recipients.js';

export interface DeliveryRequest {
  /** The MX host name, for logs and Remote-MTA, e.g. 'mx.normal.test'. */
  host: string;
  /** The IP address to connect to, IPv4 or IPv6; never a name (no getaddrinfo). */
  address: string;
  port: number;
  /** Our host name for EHLO/HELO. */
  heloName: string;
  /** '' for the null reverse-path <>. */
  sender: string;
  recipients: string[];
  /** Opens the stored message (CRLF line ends, not dot-stuffed); called at most once per attempt. */
  message: () => NodeJS.ReadableStream | Readable;
  /** Bytes of the stored message. */
  size: number;
  /** '8BITMIME' when the message needs 8BITMIME (RFC 6152). */
  body: '7BIT' | '8BITMIME';
  /** The envelope needs SMTPUTF8 (RFC 6531). */
  smtputf8: boolean;
  timeouts?: Partial<ClientTimeouts>;
  /** Local address to bind. */
  localAddress?: string;
}

export interface ClientTimeouts {
  connectMs: number;
  greetingMs: number;
  ehloMs: number;
  mailMs: number;
  rcptMs: number;
  dataInitMs: number;
  /** Longest wait for the socket to take one more block of message data. */
  dataBlockMs: number;
  dataEndMs: number;
  quitMs: number;
}

const MINUTE = 60_000;

/** RFC 5321 §4.5.3.2.1–.6 minimums; connect, EHLO and QUIT are ours to choose. */
export const DEFAULT_CLIENT_TIMEOUTS: Readonly<ClientTimeouts> = {
  connectMs: 30_000,
  greetingMs: 5 * MINUTE,
  ehloMs: 5 * MINUTE,
  mailMs: 5 * MINUTE,
  rcptMs: 5 * MINUTE,
  dataInitMs: 2 * MINUTE,
  dataBlockMs: 3 * MINUTE,
  dataEndMs: 10 * MINUTE,
  quitMs: 10_000,
};

export type HostFailureStage = 'connect' | 'greeting' | 'ehlo' | 'helo' | 'mail';

export interface HostFailure {
  readonly kind: 'host-failed';
  readonly host: string;
  readonly address: string;
  /** The step that failed. */
  readonly stage: HostFailureStage;
  /** Applies to every recipient; 5xx permanent, 4xx temporary. */
  readonly reply: Reply;
}

export interface SessionOutcome {
  readonly kind: 'session';
  readonly host: string;
  readonly address: string;
  /** Every requested recipient, in request order. */
  readonly recipients: RecipientResult[];
  readonly greeting: Reply;
  /** 'EHLO' when ESMTP was spoken, 'HELO' after the fallback. */
  readonly greetedWith: 'EHLO' | 'HELO';
}

export type DeliveryResult = HostFailure | SessionOutcome;

/** Delivers one message over one connection; see the contract at the top. */
export async function deliverMessage(req: DeliveryRequest): Promise<DeliveryResult> {
  const timeouts = withDefaults(req.timeouts ?? {});
  let connection: ClientConnection;
  try {
    connection = await ClientConnection.open(
      { address: req.address, port: req.port, localAddress: req.localAddress, peer: `${req.host}[${req.address}]` },
      timeouts.connectMs);
  } catch (err) {
    return { kind: 'host-failed', host: req.host, address: req.address, stage: 'connect', reply: replyOf(err) };
  }
  try {
    return await new DeliveryAttempt(connection, req, timeouts).run();
  } finally {
    connection.close();
  }
}

/**
 * The peer refused the whole request with a reply of its own, and the session
 * is still in step, so QUIT is the polite way out.
 */
class Refusal extends ReplyError {}

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

class DeliveryAttempt {
  private readonly peer: string;
  private readonly ledger: RecipientLedger;
  private stage: HostFailureStage = 'greeting';
  private greeting: Reply | undefined;
  private extensions: ServerExtensions = AFTER_HELO;

  constructor(
    private readonly conn: ClientConnection,
    private readonly req: DeliveryRequest,
    private readonly timeouts: ClientTimeouts,
  ) {
    this.peer = conn.peer;
    this.ledger = new RecipientLedger(req.recipients);
  }

  async run(): Promise<DeliveryResult> {
    try {
      await this.greet();
      await this.identify();
      const refusal = this.envelopeRefusal();
      if (refusal) {
        this.ledger.decideRest(refusal);
      } else {
        await this.transact();
      }
      await this.quit();
      return this.outcome();
    } catch (err) {
      if (!(err instanceof ReplyError)) throw err;
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
      // STARTTLS goes here (a later issue): if offered, STARTTLS, upgrade the
      // connection, and EHLO again, forgetting this list (RFC 3207 §4.2).
      return;
    }
    if (!EHLO_NOT_RECOGNIZED.has(ehlo.code)) throw new Refusal(ehlo);
    this.stage = 'helo';
    this.conn.send([`HELO ${this.req.heloName}`]);
    const helo = await this.read(this.timeouts.ehloMs, 'HELO');
    if (!isPositive(helo)) throw new Refusal(helo);
    this.extensions = AFTER_HELO;
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

  /** MAIL, RCPT…, DATA, the message, and the reply that decides it. */
  private async transact(): Promise<void> {
    this.stage = 'mail';
    const rcpts = this.req.recipients.map((address) => `RCPT TO:<${address}>`);
    // RFC 2920 §3.1: MAIL and RCPT anywhere in a group, DATA only last.
    const pipelining = offers(this.extensions, 'PIPELINING');
    this.conn.send(pipelining ? [this.mailCommand(), ...rcpts, 'DATA'] : [this.mailCommand()]);
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
    return [`MAIL FROM:<${this.req.sender}>`, ...params].join(' ');
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
    await this.conn.writeData(new DotStuffer().end(), this.timeouts.dataBlockMs, 'end of data');
    await this.conn.readReply(this.timeouts.quitMs, 'end of data');
  }

  /** Streams the stored message, dot-stuffed with CRLF line ends (RFC 5321 §4.5.2, §2.3.8). */
  private async sendMessage(): Promise<void> {
    const stuffer = new DotStuffer();
    try {
      for await (const chunk of this.req.message()) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        await this.conn.writeData(stuffer.push(bytes), this.timeouts.dataBlockMs, 'message data');
      }
    } catch (err) {
      if (err instanceof ReplyError) throw this.arrivedRefusal() ?? err;
      // Our own copy failed: never send the final dot after a partial message.
      this.conn.close();
      throw new ReplyError(reply('messageUnreadable', { detail: err instanceof Error ? err.message : String(err) }));
    }
    await this.conn.writeData(stuffer.end(), this.timeouts.dataBlockMs, 'end of data');
  }

  /** A negative reply the server sent before hanging up in the middle of the data. */
  private arrivedRefusal(): ReplyError | undefined {
    const early = this.conn.takeArrivedReply();
    return early && early.code >= 400 ? new ReplyError(early) : undefined;
  }

  /** QUIT; a missing 221 changes nothing (RFC 5321 §4.1.1.10). */
  private async quit(): Promise<void> {
    this.conn.send(['QUIT']);
    try {
      await this.conn.readReply(this.timeouts.quitMs, 'QUIT');
    } catch (err) {
      if (!(err instanceof ReplyError)) throw err;
    }
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
    };
  }
}

/** The given timeouts over the defaults; an explicit undefined keeps the default. */
function withDefaults(given: Partial<ClientTimeouts>): ClientTimeouts {
  const timeouts = { ...DEFAULT_CLIENT_TIMEOUTS };
  for (const key of Object.keys(timeouts) as (keyof ClientTimeouts)[]) {
    const value = given[key];
    if (value !== undefined) timeouts[key] = value;
  }
  return timeouts;
}

function replyOf(err: unknown): Reply {
  if (err instanceof ReplyError) return err.reply;
  throw err;
}

// One SMTP connection: moves bytes between a socket and a Session and runs
// the effects the session asks for. No SMTP decision is made here.
//
// PIPELINING (RFC 2920 §3.2): every complete command in the input is run in
// order; replies are collected and written in one go when no complete command
// is left, so they are flushed before we wait for more input. While a command
// awaits a check (DNS at RCPT), nothing else runs, so replies keep their order.

import type { Socket } from 'node:net';
import tls from 'node:tls';
import { formatReply, type Reply } from '../../reply-codes/index.js';
import { DataReader } from './data-reader.js';
import { LineReader, type BareNewlinePolicy } from './line-reader.js';
import type { MessageReceipt, Session, Step } from './session.js';
import type { Logger } from '../../log.js';
import type { Limits } from './limits.js';

/** What the connection enforces itself; the session enforces the rest. */
export type ConnectionLimits = Pick<Limits, 'maxLineOctets' | 'maxMessageSize' | 'idleTimeoutMs' | 'minDataRate' | 'dataGraceMs' | 'tlsHandshakeTimeoutMs'>
  /** A bare LF: refused, or taken as CRLF (smtp.bareNewline; line-reader.ts). */
  & { bareNewline?: BareNewlinePolicy };

/** Input held while a command runs; beyond it we stop reading the socket. */
const MAX_PENDING_INPUT = 256 * 1024;
/** Time a closing connection is given for its peer to hang up. */
const LINGER_MS = 10_000;

/** The session as a connection drives it: the Session itself, or a decorator around it (src/faults/). */
export type ConnectionSession = Pick<Session,
  'command' | 'endData' | 'lineTooLong' | 'bareLineEnd' | 'timeout' | 'tooSlow' | 'crashed' | 'shutdown'
  | 'busy' | 'disconnected' | 'tlsStarted'> & { open(): Step | Promise<Step> };

interface DataPhase {
  reader: DataReader;
  receipt: MessageReceipt;
  startedAt: number;
  received: number;
  needsDrain: boolean;
}

export class SmtpConnection {
  private readonly lines: LineReader;
  private outbox: Reply[] = [];
  private pumping = false;
  private closing = false;
  private gone = false;
  private finished = false;
  private data?: DataPhase;
  private readonly goneSignal: Promise<void>;
  private signalGone!: () => void;
  /** Set while the TLS handshake after STARTTLS runs: no input is read. */
  private upgrading = false;
  /** The server is stopping: close at the first moment no transaction is open. */
  private draining = false;

  constructor(
    private socket: Socket,
    private readonly session: ConnectionSession,
    private readonly limits: ConnectionLimits,
    private readonly log: Logger,
    private readonly clientIp: string,
    private readonly onFinished: () => void,
    private readonly tlsContext?: tls.SecureContext,
  ) {
    this.lines = new LineReader(limits.maxLineOctets, limits.bareNewline);
    this.goneSignal = new Promise((resolve) => { this.signalGone = resolve; });
  }

  start(): void {
    this.log('smtpd', `connect from [${this.clientIp}]`);
    this.listen(this.socket);
    this.socket.on('close', () => this.hungUp());
    void this.act(() => this.session.open());
  }

  private listen(socket: Socket): void {
    socket.setTimeout(this.limits.idleTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.received(chunk));
    socket.on('timeout', () => this.idle());
    socket.on('error', (err) => this.log('smtpd', `connection error from [${this.clientIp}]: ${err.message}`));
  }

  /**
   * The server is stopping: an idle session gets 421 4.3.2 now; one in the
   * middle of a transaction gets it once the transaction is over.
   */
  drain(): void {
    this.draining = true;
    this.closeIfIdle();
  }

  private closeIfIdle(): void {
    if (!this.draining || this.pumping || this.closing || this.gone || this.upgrading || this.session.busy) return;
    void this.act(() => this.session.shutdown());
  }

  private received(chunk: Buffer): void {
    if (this.closing || this.upgrading) return;
    this.lines.push(chunk);
    if (this.lines.buffered > MAX_PENDING_INPUT && !this.data) this.socket.pause();
    void this.pump();
  }

  private idle(): void {
    // Time spent waiting on our own checks is not the client's idleness.
    if (this.pumping || this.closing) return;
    void this.act(() => this.session.timeout());
  }

  /** Runs `work` with the session to itself, one thing at a time; a crash stays in this connection. */
  private async exclusively(work: () => Promise<void>): Promise<void> {
    this.pumping = true;
    try {
      await work();
      this.flush();
    } catch (err) {
      await this.crash(err);
    } finally {
      this.pumping = false;
    }
    if (this.gone) await this.finish();
  }

  /** Runs one step produced outside the input loop (greeting, timeout, shutdown). */
  private async act(produce: () => Step | Promise<Step>): Promise<void> {
    await this.exclusively(async () => this.apply(await produce()));
    // Input that came in meanwhile waits for the loop.
    if (!this.gone && !this.closing && this.lines.buffered > 0) void this.pump();
  }

  /** Runs every complete command (or DATA bytes) in the input, in order. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    await this.exclusively(async () => {
      while (!this.closing && !this.gone && !this.upgrading) {
        const progressed = this.data ? await this.receiveData() : await this.runCommand();
        if (!progressed) break;
      }
    });
    if (this.gone) return;
    if (this.socket.isPaused() && this.lines.buffered < MAX_PENDING_INPUT && !this.closing) this.socket.resume();
    this.closeIfIdle();
  }

  private async runCommand(): Promise<boolean> {
    const event = this.lines.next();
    if (!event) return false;
    switch (event.kind) {
      case 'line':
        await this.apply(await this.session.command(event.text, { inputPending: this.lines.buffered > 0, octets: event.octets }));
        break;
      case 'too-long':
        await this.apply(this.session.lineTooLong());
        break;
      default:
        await this.apply(await this.session.bareLineEnd(event.kind));
    }
    return true;
  }

  private async receiveData(): Promise<boolean> {
    const phase = this.data!;
    const bytes = this.lines.takeBuffered();
    if (bytes.length === 0) return false;
    phase.received += bytes.length;
    const progress = phase.reader.push(bytes);
    if (!progress.outcome) {
      if (this.tooSlow(phase)) {
        this.data = undefined;
        await this.apply(await this.session.tooSlow());
        return false;
      }
      if (phase.needsDrain) await this.waitForSpool(phase);
      return true;
    }
    this.data = undefined;
    if (progress.rest) this.lines.unshift(progress.rest);
    // Back-pressure from the spool is settled before the commit.
    if (phase.needsDrain) await this.waitForSpool(phase);
    if (this.gone) return false;
    await this.apply(await this.session.endData(progress.outcome));
    return true;
  }

  private tooSlow(phase: DataPhase): boolean {
    const elapsed = Date.now() - phase.startedAt;
    if (elapsed <= this.limits.dataGraceMs) return false;
    return phase.received / (elapsed / 1000) < this.limits.minDataRate;
  }

  /** Waits for the spool to take more, with the socket paused meanwhile. */
  private async waitForSpool(phase: DataPhase): Promise<void> {
    this.socket.pause();
    await Promise.race([phase.receipt.waitForDrain(), this.goneSignal]);
    phase.needsDrain = false;
    if (!this.gone && !this.closing) this.socket.resume();
  }

  private async apply(step: Step): Promise<void> {
    for (const event of step.log ?? []) this.log('smtpd', event.text, event.id);
    if (step.delayMs) {
      this.flush();
      await new Promise((resolve) => setTimeout(resolve, step.delayMs));
    }
    this.outbox.push(...step.replies);
    if (step.receive) this.enterData(step.receive.receipt, step.receive.header);
    if (step.close) this.close();
    else if (step.startTls) this.upgrade();
  }

  /**
   * STARTTLS (RFC 3207): the 220 goes out in plaintext, every plaintext byte
   * already received is thrown away (CVE-2011-0411: commands pipelined after
   * STARTTLS must never run inside TLS), then the handshake starts.
   */
  private upgrade(): void {
    this.flush();
    this.lines.discard();
    this.upgrading = true;
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('timeout');
    plain.setTimeout(0);
    const secure = new tls.TLSSocket(plain, { isServer: true, secureContext: this.tlsContext });
    const timer = setTimeout(() => {
      this.log('smtpd', `TLS handshake timeout from [${this.clientIp}]`);
      secure.destroy();
    }, this.limits.tlsHandshakeTimeoutMs);
    secure.once('secure', () => {
      clearTimeout(timer);
      this.socket = secure;
      this.listen(secure);
      this.session.tlsStarted();
      this.log('smtpd', `TLS established with [${this.clientIp}]: ${secure.getProtocol()} ${secure.getCipher()?.name ?? ''}`);
      this.upgrading = false;
    });
    secure.once('error', (err) => {
      if (!this.upgrading) return; // after the handshake, listen() reports errors
      clearTimeout(timer);
      this.log('smtpd', `TLS handshake failed with [${this.clientIp}]: ${err.message}`);
      secure.destroy();
      plain.destroy();
    });
  }

  private enterData(receipt: MessageReceipt, header: Buffer): void {
    const phase: DataPhase = { receipt, startedAt: Date.now(), received: 0, needsDrain: false, reader: undefined! };
    phase.reader = new DataReader(this.limits.maxMessageSize, (chunk) => {
      if (!receipt.write(chunk)) phase.needsDrain = true;
    }, this.limits.bareNewline);
    if (!receipt.write(header)) phase.needsDrain = true;
    this.data = phase;
    // The 354 must reach the client before it sends the message.
    this.flush();
  }

  private flush(): void {
    if (this.outbox.length === 0 || this.gone) return;
    const text = this.outbox.map(formatReply).join('');
    this.outbox = [];
    this.socket.write(text);
  }

  private close(): void {
    this.closing = true;
    this.flush();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), LINGER_MS).unref();
  }

  private async crash(err: unknown): Promise<void> {
    this.log('smtpd', `internal error in session from [${this.clientIp}]: ${(err as Error)?.stack ?? String(err)}`);
    if (this.closing || this.gone) return;
    try {
      await this.apply(await this.session.crashed());
    } catch (again) {
      this.log('smtpd', `could not recover session from [${this.clientIp}]: ${String(again)}`);
      this.socket.destroy();
    }
  }

  private hungUp(): void {
    this.gone = true;
    this.signalGone();
    if (!this.pumping) void this.finish();
  }

  private async finish(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    try {
      await this.session.disconnected();
    } catch (err) {
      this.log('smtpd', `cleanup failed for [${this.clientIp}]: ${String(err)}`);
    }
    this.log('smtpd', `disconnect from [${this.clientIp}]`);
    this.onFinished();
  }
}

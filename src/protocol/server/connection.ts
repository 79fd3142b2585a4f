// One SMTP connection: moves bytes between a socket and a Session and runs
// the effects the session asks for. No SMTP decision is made here.
//
// PIPELINING (RFC 2920 §3.2): every complete command in the input is run in
// order; replies are collected and written in one go when no complete command
// is left, so they are flushed before we wait for more input. While a command
// awaits a check (DNS at RCPT), nothing else runs, so replies keep their order.
//
// Back-pressure both ways. Input: beyond MAX_PENDING_INPUT unread bytes the
// socket is paused. Output: a client must read while it writes (RFC 2920
// §3.1); while our replies wait for the socket to drain, no command runs and
// the socket is paused, and a batch whose replies would leave more than
// MAX_REPLY_BACKLOG bytes unread gets 421 4.7.0 and the connection is closed.
// A client that reads nothing at all is closed by the idle timeout.
//
// The connection's life is one value (`Lifecycle`); at most one step (a
// batch of commands, the greeting, a timeout) runs at a time (`turn`):
//
//   commands ──DATA 354──▶ data ──final dot / too slow──▶ commands
//      │  └──STARTTLS 220──▶ upgrading ──handshake done──▶ commands
//      │                          └──handshake fails or times out: destroyed──┐
//      ├──221 to QUIT, written: destroyed────────────────────────────────────┤
//      └──a step closes (421, 521…)──▶ closing ──linger ends: destroyed───────┤
//   any state ──the socket closes──▶ gone ──the session is cleaned up once the turn ends
//
// `stopping` (the server is shutting down) travels with the open states: the
// session gets 421 4.3.2 at the first moment no transaction is open.

import type { Socket } from 'node:net';
import tls from 'node:tls';
import { formatReply, type Reply } from '../../reply-codes/index.js';
import { DataReader } from './data-reader.js';
import { LineReader, type BareNewlinePolicy } from './line-reader.js';
import type { MessageReceipt, Session, Step } from './session.js';
import type { Logger } from '../../log.js';
import type { WireRecorder } from '../../trace/recorder.js';
import type { Limits } from './limits.js';

/** What the connection enforces itself; the session enforces the rest. */
export type ConnectionLimits = Pick<Limits, 'maxLineOctets' | 'maxMessageSize' | 'idleTimeoutMs' | 'minDataRate' | 'dataGraceMs' | 'tlsHandshakeTimeoutMs'>
  /** A bare LF: refused, or taken as CRLF (smtp.bareNewline; line-reader.ts). */
  & { bareNewline?: BareNewlinePolicy };

/** Input held while a command runs; beyond it we stop reading the socket. */
const MAX_PENDING_INPUT = 256 * 1024;
/** Reply bytes a client may leave unread (ours and the socket's buffer); beyond it, 421 4.7.0. */
const MAX_REPLY_BACKLOG = 128 * 1024;
/** Time a closing connection is given for its peer to read the last reply and hang up. */
const LINGER_MS = 10_000;
/** The same for a peer that had stopped reading: it is not waited for long. */
const STALLED_LINGER_MS = 1000;

/** The session as a connection drives it: the Session itself, or a decorator around it (src/faults/). */
export type ConnectionSession = Pick<Session,
  'command' | 'endData' | 'lineTooLong' | 'bareLineEnd' | 'timeout' | 'tooSlow' | 'unreadReplies' | 'crashed' | 'shutdown'
  | 'busy' | 'disconnected' | 'tlsStarted'> & { open(): Step | Promise<Step> };

interface DataPhase {
  reader: DataReader;
  receipt: MessageReceipt;
  startedAt: number;
  received: number;
  needsDrain: boolean;
}

type Lifecycle =
  /** Command lines are read and run. */
  | { kind: 'commands'; stopping: boolean }
  /** Message bytes go to the spool until the final dot (RFC 5321 §4.1.1.4). */
  | { kind: 'data'; stopping: boolean; phase: DataPhase }
  /** The TLS handshake after the 220 to STARTTLS: nothing is read (RFC 3207 §4.2). */
  | { kind: 'upgrading'; stopping: boolean }
  /** The last reply is written and our side shut; the socket is destroyed when `linger` fires (none after QUIT: already destroyed). */
  | { kind: 'closing'; linger?: NodeJS.Timeout }
  /** The socket is closed. */
  | { kind: 'gone' };

type Open = Extract<Lifecycle, { stopping: boolean }>;

export class SmtpConnection {
  private readonly lines: LineReader;
  private state: Lifecycle = { kind: 'commands', stopping: false };
  /** The step under way, if any: nothing else runs until it ends. */
  private turn?: Promise<void>;
  /** Replies formatted and not yet written, and their size. */
  private outbox: string[] = [];
  private outboxBytes = 0;
  private readCount = 0;
  private readonly goneSignal: Promise<void>;
  private signalGone!: () => void;

  constructor(
    private socket: Socket,
    private readonly session: ConnectionSession,
    private readonly limits: ConnectionLimits,
    private readonly log: Logger,
    private readonly clientIp: string,
    private readonly onFinished: () => void,
    private readonly tlsContext?: tls.SecureContext,
    /** Tracing (src/trace/): told every line both ways; absent, nothing is recorded. */
    private readonly recorder?: WireRecorder,
    /** Told of each STARTTLS handshake that succeeded (RFC 3207), after the session is. */
    private readonly tlsEstablished?: () => void,
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
    socket.on('drain', () => this.drained());
    socket.on('timeout', () => this.idle());
    socket.on('error', (err) => this.log('smtpd', `connection error from [${this.clientIp}]: ${err.message}`));
  }

  /**
   * The server is stopping: an idle session gets 421 4.3.2 now; one in the
   * middle of a transaction gets it once the transaction is over.
   */
  drain(): void {
    if (isOpen(this.state)) this.state = { ...this.state, stopping: true };
    this.closeIfIdle();
  }

  private closeIfIdle(): void {
    if (this.state.kind !== 'commands' || !this.state.stopping || this.turn || this.session.busy) return;
    void this.act(() => this.session.shutdown());
  }

  /** Whether input is read now: in commands or data, not while a TLS handshake runs or once closing. */
  private get reading(): boolean {
    return this.state.kind === 'commands' || this.state.kind === 'data';
  }

  /** Reads from the client so far (the server sums them: are clients sending?). */
  get reads(): number {
    return this.readCount;
  }

  private received(chunk: Buffer): void {
    this.readCount++;
    // A peer that goes on sending after our last reply is not listening to it: no grace.
    if (this.state.kind === 'closing') this.socket.destroy();
    if (!this.reading) return;
    this.lines.push(chunk);
    if (this.lines.buffered > MAX_PENDING_INPUT) this.socket.pause();
    void this.pump();
  }

  /** Our replies have left for the client: what waited for them may run. */
  private drained(): void {
    if (this.reading && !this.turn) void this.pump();
  }

  private idle(): void {
    // Time spent waiting on our own checks is not the client's idleness.
    if (this.turn || !isOpen(this.state)) return;
    void this.act(() => this.session.timeout());
  }

  /** Runs `work` with the session to itself, one thing at a time; a crash stays in this connection. */
  private async exclusively(work: () => Promise<void>): Promise<void> {
    let ended!: () => void;
    this.turn = new Promise((resolve) => { ended = resolve; });
    try {
      await work();
      this.flush();
    } catch (err) {
      await this.crash(err);
    } finally {
      this.turn = undefined;
      ended();
    }
  }

  /** Runs one step produced outside the input loop (greeting, timeout, shutdown). */
  private async act(produce: () => Step | Promise<Step>): Promise<void> {
    await this.exclusively(async () => this.apply(await produce()));
    // Input that came in meanwhile waits for the loop.
    if (this.reading && this.lines.buffered > 0) void this.pump();
  }

  /**
   * Runs every complete command (or DATA bytes) in the input, in order, while
   * the client reads its replies; then reads more input or waits for 'drain'.
   */
  private async pump(): Promise<void> {
    if (this.turn) return;
    await this.exclusively(async () => {
      while (this.reading && !this.socket.writableNeedDrain) {
        const progressed = this.state.kind === 'data' ? await this.receiveData(this.state.phase) : await this.runCommand();
        if (!progressed) break;
        if (this.outboxBytes + this.socket.writableLength > MAX_REPLY_BACKLOG) await this.repliesUnread();
      }
    });
    if (!this.reading) return;
    if (this.socket.writableNeedDrain || this.lines.buffered >= MAX_PENDING_INPUT) this.socket.pause();
    else if (this.socket.isPaused()) this.socket.resume();
    this.closeIfIdle();
  }

  private async runCommand(): Promise<boolean> {
    const event = this.lines.next();
    if (!event) return false;
    switch (event.kind) {
      case 'line':
        this.recorder?.client(event.text);
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

  private async receiveData(phase: DataPhase): Promise<boolean> {
    const bytes = this.lines.takeBuffered();
    if (bytes.length === 0) return false;
    phase.received += bytes.length;
    const progress = phase.reader.push(bytes);
    if (!progress.outcome) {
      if (this.tooSlow(phase)) {
        this.endData();
        await this.apply(await this.session.tooSlow());
        return false;
      }
      if (phase.needsDrain) await this.waitForSpool(phase);
      return true;
    }
    this.endData();
    if (progress.rest) this.lines.unshift(progress.rest);
    // Back-pressure from the spool is settled before the commit.
    if (phase.needsDrain) await this.waitForSpool(phase);
    if (this.state.kind === 'gone') return false;
    await this.apply(await this.session.endData(progress.outcome));
    return true;
  }

  private endData(): void {
    if (this.state.kind === 'data') this.state = { kind: 'commands', stopping: this.state.stopping };
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
    if (this.reading) this.socket.resume();
  }

  private async apply(step: Step): Promise<void> {
    for (const event of step.log ?? []) this.log('smtpd', event.text, event.id);
    // Once the socket is gone there is no one to answer; the session is cleaned up after this turn.
    if (this.state.kind === 'gone') return;
    if (step.delayMs) {
      this.flush();
      await new Promise((resolve) => setTimeout(resolve, step.delayMs));
    }
    for (const r of step.replies) {
      this.recorder?.server(r, true);
      this.queue(r);
    }
    if (step.receive) this.enterData(step.receive.receipt, step.receive.header);
    if (step.close === 'quit') this.closeAfterQuit();
    else if (step.close) this.close();
    else if (step.startTls) this.upgrade();
  }

  private queue(r: Reply): void {
    const text = formatReply(r);
    this.outbox.push(text);
    this.outboxBytes += Buffer.byteLength(text);
  }

  /**
   * The client pipelines faster than it reads: the replies of this batch
   * would leave more than MAX_REPLY_BACKLOG bytes waiting. They are dropped
   * for one 421 4.7.0.
   */
  private async repliesUnread(): Promise<void> {
    this.outbox = [];
    this.outboxBytes = 0;
    const step = await this.session.unreadReplies();
    await this.apply({ ...step, close: undefined });
    // A peer that does not read gets no long grace.
    this.close(STALLED_LINGER_MS);
  }

  /**
   * STARTTLS (RFC 3207): the 220 goes out in plaintext, every plaintext byte
   * already received is thrown away (CVE-2011-0411: commands pipelined after
   * STARTTLS must never run inside TLS), then the handshake starts.
   */
  private upgrade(): void {
    if (!isOpen(this.state)) return;
    this.flush();
    this.lines.discard();
    this.state = { kind: 'upgrading', stopping: this.state.stopping };
    const plain = this.socket;
    for (const event of ['data', 'drain', 'timeout']) plain.removeAllListeners(event);
    plain.setTimeout(0);
    const secure = new tls.TLSSocket(plain, { isServer: true, secureContext: this.tlsContext });
    const timer = setTimeout(() => {
      this.log('smtpd', `TLS handshake timeout from [${this.clientIp}]`);
      secure.destroy();
    }, this.limits.tlsHandshakeTimeoutMs);
    secure.once('secure', () => {
      clearTimeout(timer);
      if (this.state.kind !== 'upgrading') return;
      this.socket = secure;
      this.listen(secure);
      this.session.tlsStarted();
      this.tlsEstablished?.();
      this.log('smtpd', `TLS established with [${this.clientIp}]: ${secure.getProtocol()} ${secure.getCipher()?.name ?? ''}`);
      this.recorder?.tls(secure.getProtocol() ?? '', secure.getCipher()?.name ?? '');
      this.state = { kind: 'commands', stopping: this.state.stopping };
      this.closeIfIdle();
    });
    secure.once('error', (err) => {
      if (this.state.kind !== 'upgrading') return; // after the handshake, listen() reports errors
      clearTimeout(timer);
      this.log('smtpd', `TLS handshake failed with [${this.clientIp}]: ${err.message}`);
      secure.destroy();
      plain.destroy();
    });
  }

  private enterData(receipt: MessageReceipt, header: Buffer): void {
    if (this.state.kind !== 'commands') return;
    const phase: DataPhase = { receipt, startedAt: Date.now(), received: 0, needsDrain: false, reader: undefined! };
    phase.reader = new DataReader(this.limits.maxMessageSize, (chunk) => {
      this.recorder?.body(chunk);
      if (!receipt.write(chunk)) phase.needsDrain = true;
    }, this.limits.bareNewline);
    if (!receipt.write(header)) phase.needsDrain = true;
    this.state = { kind: 'data', stopping: this.state.stopping, phase };
    // The 354 must reach the client before it sends the message.
    this.flush();
  }

  /** Writes the collected replies; whether the client keeps up is read from the socket (writableNeedDrain). */
  private flush(): void {
    if (this.outbox.length === 0 || this.state.kind === 'gone') return;
    const text = this.outbox.join('');
    this.outbox = [];
    this.outboxBytes = 0;
    this.socket.write(text);
  }

  /**
   * Sends what is left and shuts our side; the peer gets a while to read it
   * and hang up, then the socket is destroyed. The timer holds the socket
   * only, and is cleared when the socket closes, so a closed connection is
   * not kept alive by it.
   */
  private close(lingerMs = LINGER_MS): void {
    if (!isOpen(this.state)) return;
    this.flush();
    const socket = this.socket;
    if (socket.writableNeedDrain) lingerMs = Math.min(lingerMs, STALLED_LINGER_MS);
    socket.end();
    const linger = setTimeout(() => socket.destroy(), lingerMs);
    linger.unref();
    this.state = { kind: 'closing', linger };
  }

  /**
   * The client said QUIT: it sends nothing more and reads our 221. Once the
   * 221 is with the kernel, the socket is closed at once (as Postfix's smtpd
   * does), with no shutdown first and no wait for the client's own close.
   * Over TLS, or with the 221 still queued, the usual close: TLS says
   * goodbye (close_notify) and a queued reply must not be thrown away.
   */
  private closeAfterQuit(): void {
    if (!isOpen(this.state)) return;
    this.flush();
    if (this.socket instanceof tls.TLSSocket || this.socket.writableLength > 0) {
      this.close();
      return;
    }
    this.state = { kind: 'closing' };
    this.socket.destroy();
  }

  private async crash(err: unknown): Promise<void> {
    this.log('smtpd', `internal error in session from [${this.clientIp}]: ${(err as Error)?.stack ?? String(err)}`);
    if (!isOpen(this.state)) return;
    try {
      await this.apply(await this.session.crashed());
    } catch (again) {
      this.log('smtpd', `could not recover session from [${this.clientIp}]: ${String(again)}`);
      this.socket.destroy();
    }
  }

  /** The socket closed: the session is cleaned up once the step under way (if any) has ended. */
  private hungUp(): void {
    if (this.state.kind === 'closing') clearTimeout(this.state.linger);
    this.state = { kind: 'gone' };
    this.signalGone();
    void Promise.resolve(this.turn).then(() => this.finish());
  }

  private async finish(): Promise<void> {
    try {
      await this.session.disconnected();
    } catch (err) {
      this.log('smtpd', `cleanup failed for [${this.clientIp}]: ${String(err)}`);
    }
    this.log('smtpd', `disconnect from [${this.clientIp}]`);
    this.recorder?.end();
    this.onFinished();
  }
}

function isOpen(state: Lifecycle): state is Open {
  return 'stopping' in state;
}

// One outgoing SMTP connection, as the delivery client sees it: commands go
// out, replies come back in order, and every wait is bounded. It makes no SMTP
// decision; src/protocol/client/smtp-client.ts does.
//
// Failures are typed exceptions carrying the reply that records them
// (ReplyError): connectFailed, connectionLost, commandTimeout,
// remoteProtocolError, all 451 (temporary). Replies that arrived before a
// failure are still handed out first, so a 421 followed by a hang-up reads as
// the 421.
//
// TLS (STARTTLS after its 220, RFC 3207 §4, or implicit TLS right after the
// connect, RFC 8314 §3): startTls() checks that no reply bytes are pending
// (response injection), detaches the plaintext socket, wraps it in a
// TLSSocket and attaches that. The reader carries on: it holds nothing.

import * as net from 'node:net';
import * as tls from 'node:tls';
import { ReplyError, reply, type Reply } from '../../reply-codes/index.js';
import { MIN_TLS_VERSION } from '../../tls-context.js';
import { ReplyReader } from './reply-reader.js';
import type { WireRecorder } from '../../trace/recorder.js';

export interface ConnectTarget {
  /** An IP address (IPv4 or IPv6), never a name: getaddrinfo would bypass the configured DNS servers (src/dns resolves, RFC 5321 §5.1). */
  readonly address: string;
  readonly port: number;
  readonly localAddress?: string;
  /** How the peer is named in recorded replies, e.g. "mx.example[192.0.2.1]". */
  readonly peer: string;
}

/** Replies held unread beyond this pause the socket (flow control, not a limit). */
const MAX_QUEUED_REPLIES = 100;

/** What a TLS handshake settled on, for the delivery result and the log. */
export interface NegotiatedTls {
  /** e.g. 'TLSv1.3'. */
  readonly protocol: string;
  /** OpenSSL name, e.g. 'TLS_AES_256_GCM_SHA384'. */
  readonly cipher: string;
}

export interface TlsHandshakeOptions {
  /** The name (or IP literal) the certificate must carry when verified. */
  readonly name: string;
  /** SNI and the name checked when verifying; only a host name, never an IP (RFC 6066 §3). */
  readonly servername?: string;
  /** Check the certificate against the system CAs and the name (off between MX hosts by default). */
  readonly verify: boolean;
  /** Extra trusted CA certificates (PEM), added to the system's. */
  readonly ca?: string;
}

/** The TLS handshake failed or timed out; the connection is gone. */
export class TlsHandshakeError extends ReplyError {}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (err: ReplyError) => void;
}

export class ClientConnection {
  private readonly reader: ReplyReader;
  private readonly replies: Reply[] = [];
  private failure: ReplyError | undefined;
  private waiter: Waiter | undefined;
  private negotiated: NegotiatedTls | undefined;
  private readonly onData = (chunk: Buffer): void => this.received(chunk);
  /** Tracing: told every command sent and reply read (set per transaction by the session). */
  recorder?: WireRecorder;

  private constructor(private socket: net.Socket, readonly peer: string) {
    this.reader = new ReplyReader(peer);
    this.attach(socket);
  }

  /** Connects, or throws a ReplyError with `connectFailed`. */
  static open(target: ConnectTarget, timeoutMs: number): Promise<ClientConnection> {
    if (net.isIP(target.address) === 0) {
      return Promise.reject(connectFailed(target.peer, `${JSON.stringify(target.address)} is not an IP address`));
    }
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: target.address, port: target.port, localAddress: target.localAddress });
      const timer = setTimeout(() => fail(new Error(`no connection after ${timeoutMs} ms`)), timeoutMs);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(connectFailed(target.peer, errorDetail(err)));
      };
      socket.once('error', fail);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', fail);
        // Commands go out as whole lines or groups and data in large blocks;
        // Nagle would only hold the last small write (".\r\n", QUIT) for an ACK.
        socket.setNoDelay(true);
        resolve(new ClientConnection(socket, target.peer));
      });
    });
  }

  /** Sends command lines (each without CRLF) in one write: a pipelined group is one call. */
  send(lines: readonly string[]): void {
    if (this.failure) return; // the next readReply() reports it
    for (const line of lines) this.recorder?.client(line);
    this.socket.write(lines.map((l) => `${l}\r\n`).join(''));
  }

  /**
   * The next reply, waiting at most timeoutMs for it (RFC 5321 §4.5.3.2: each
   * command has its own timeout). `command` names what was waited for.
   */
  async readReply(timeoutMs: number, command: string): Promise<Reply> {
    const queued = this.replies.shift();
    if (queued) {
      this.recorder?.server(queued, false);
      if (this.replies.length < MAX_QUEUED_REPLIES && !this.failure) this.socket.resume();
      return queued;
    }
    await this.wait(timeoutMs, command);
    return this.readReply(timeoutMs, command);
  }

  /**
   * Writes message bytes, in one system call however many buffers (the last
   * block and the final dot go together), honouring back-pressure: when the
   * socket's buffer is full, waits for 'drain', at most timeoutMs (RFC 5321
   * §4.5.3.2.5: the data block timeout).
   */
  async writeData(blocks: readonly Buffer[], timeoutMs: number, command: string): Promise<void> {
    if (this.failure) throw this.failure;
    let flowing = true;
    this.socket.cork();
    for (const block of blocks) flowing = this.socket.write(block);
    this.socket.uncork();
    if (flowing) return;
    const drained = (): void => this.wake();
    this.socket.once('drain', drained);
    try {
      await this.wait(timeoutMs, command);
    } finally {
      this.socket.off('drain', drained);
    }
  }

  /** A reply that has arrived and not been read yet, without waiting. */
  takeArrivedReply(): Reply | undefined {
    return this.replies.shift();
  }

  /** Nothing has failed and nobody closed the connection yet. */
  get open(): boolean {
    return this.failure === undefined;
  }

  /** What TLS negotiated, once startTls() succeeded. */
  get tls(): NegotiatedTls | undefined {
    return this.negotiated;
  }

  /**
   * Starts TLS on this connection: after the server's 220 to STARTTLS, or
   * right after connecting for implicit TLS. Throws a ReplyError carrying
   * `remoteProtocolError` when the server sent anything beyond its last reply
   * (response injection, the client side of CVE-2011-0411: such text must not
   * be read as a reply inside TLS), or a TlsHandshakeError carrying
   * `tlsHandshakeFailed` when the handshake fails or takes over timeoutMs.
   */
  async startTls(options: TlsHandshakeOptions, timeoutMs: number): Promise<NegotiatedTls> {
    if (this.failure) throw this.failure;
    if (this.replies.length > 0 || this.reader.holdsPartialReply) {
      const injected = new ReplyError(reply('remoteProtocolError', {
        host: this.peer, detail: 'response injection: text arrived after the last reply, before the TLS handshake',
      }));
      this.close();
      throw injected;
    }
    const plain = this.socket;
    plain.off('data', this.onData);
    const secure = tls.connect({
      socket: plain,
      host: options.name,
      servername: options.servername,
      rejectUnauthorized: options.verify,
      ...(options.ca !== undefined ? { ca: [...tls.rootCertificates, options.ca] } : {}),
      minVersion: MIN_TLS_VERSION,
    });
    try {
      await handshake(secure, timeoutMs);
    } catch (err) {
      const failed = new TlsHandshakeError(reply('tlsHandshakeFailed', { host: this.peer, detail: errorDetail(err) }));
      this.fail(failed);
      secure.destroy();
      plain.destroy();
      throw failed;
    }
    this.attach(secure);
    this.negotiated = { protocol: secure.getProtocol() ?? 'unknown', cipher: secure.getCipher()?.name ?? 'unknown' };
    this.recorder?.tls(this.negotiated.protocol, this.negotiated.cipher);
    return this.negotiated;
  }

  /** Ends the connection at once; safe to call more than once. */
  close(): void {
    this.fail(new ReplyError(reply('connectionLost', { host: this.peer, detail: 'closed by us' })));
    this.socket.destroy();
  }

  private attach(socket: net.Socket): void {
    this.socket = socket;
    socket.on('data', this.onData);
    socket.on('error', (err) => this.fail(lost(this.peer, errorDetail(err))));
    socket.on('end', () => this.fail(lost(this.peer, 'connection closed by the server')));
    socket.on('close', () => this.fail(lost(this.peer, 'connection closed')));
  }

  private received(chunk: Buffer): void {
    if (this.failure) return;
    let complete: Reply[];
    try {
      complete = this.reader.push(chunk);
    } catch (err) {
      if (!(err instanceof ReplyError)) throw err;
      this.fail(err);
      this.socket.destroy();
      return;
    }
    if (complete.length === 0) return;
    this.replies.push(...complete);
    if (this.replies.length >= MAX_QUEUED_REPLIES) this.socket.pause();
    this.wake();
  }

  /** Waits for the next event (a reply, a drain, a failure) or the timeout. */
  private wait(timeoutMs: number, command: string): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      // A timeout ends the connection: the session is out of step for good.
      const timer = setTimeout(() => {
        this.fail(new ReplyError(reply('commandTimeout', { host: this.peer, command })));
        this.socket.destroy();
      }, timeoutMs);
      this.waiter = {
        resolve: () => { clearTimeout(timer); resolve(); },
        reject: (err) => { clearTimeout(timer); reject(err); },
      };
    });
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve();
  }

  /** Records the first failure; later ones only repeat it. */
  private fail(err: ReplyError): void {
    this.failure ??= err;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(this.failure);
  }
}

/** Resolves once the TLS handshake is done; rejects on an error, a close or the timeout. */
function handshake(secure: tls.TLSSocket, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (err?: Error): void => {
      clearTimeout(timer);
      secure.off('secureConnect', done);
      secure.off('close', closed);
      if (err) reject(err);
      else resolve();
    };
    const done = (): void => settle();
    const closed = (): void => settle(new Error('connection closed during the TLS handshake'));
    const timer = setTimeout(() => settle(new Error(`no TLS handshake after ${timeoutMs} ms`)), timeoutMs);
    secure.once('secureConnect', done);
    secure.once('close', closed);
    // Stays on, so a late error is never unhandled; after success attach() reports errors.
    secure.on('error', (err) => settle(err));
  });
}

function connectFailed(peer: string, detail: string): ReplyError {
  return new ReplyError(reply('connectFailed', { host: peer, detail }));
}

function lost(peer: string, detail: string): ReplyError {
  return new ReplyError(reply('connectionLost', { host: peer, detail }));
}

function errorDetail(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

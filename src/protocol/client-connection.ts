// One outgoing SMTP connection, as the delivery client sees it: commands go
// out, replies come back in order, and every wait is bounded. It makes no SMTP
// decision; src/protocol/client.ts does.
//
// Failures are typed exceptions carrying the reply that records them
// (ReplyError): connectFailed, connectionLost, commandTimeout,
// remoteProtocolError, all 451 (temporary). Replies that arrived before a
// failure are still handed out first, so a 421 followed by a hang-up reads as
// the 421.
//
// Seam for STARTTLS (a later issue): the socket is bound in attach(); an
// upgrade detaches the plaintext socket, checks that no reply bytes were
// pending (response injection), wraps it in a TLSSocket and attaches that.

import * as net from 'node:net';
import { ReplyError, reply, type Reply } from '../reply-codes/index.js';
import { ReplyReader } from './client-reply-reader.js';

export interface ConnectTarget {
  /** An IP address (IPv4 or IPv6), never a name: no getaddrinfo (checklist §2). */
  readonly address: string;
  readonly port: number;
  readonly localAddress?: string;
  /** How the peer is named in recorded replies, e.g. "mx.example[192.0.2.1]". */
  readonly peer: string;
}

/** Replies held unread beyond this pause the socket (flow control, not a limit). */
const MAX_QUEUED_REPLIES = 100;

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (err: ReplyError) => void;
}

export class ClientConnection {
  private readonly reader: ReplyReader;
  private readonly replies: Reply[] = [];
  private failure: ReplyError | undefined;
  private waiter: Waiter | undefined;

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
    this.socket.write(lines.map((l) => `${l}\r\n`).join(''));
  }

  /**
   * The next reply, waiting at most timeoutMs for it (RFC 5321 §4.5.3.2: each
   * command has its own timeout). `command` names what was waited for.
   */
  async readReply(timeoutMs: number, command: string): Promise<Reply> {
    const queued = this.replies.shift();
    if (queued) {
      if (this.replies.length < MAX_QUEUED_REPLIES && !this.failure) this.socket.resume();
      return queued;
    }
    await this.wait(timeoutMs, command);
    return this.readReply(timeoutMs, command);
  }

  /**
   * Writes message bytes, honouring back-pressure: when the socket's buffer
   * is full, waits for 'drain', at most timeoutMs (RFC 5321 §4.5.3.2.5: the
   * data block timeout).
   */
  async writeData(bytes: Buffer, timeoutMs: number, command: string): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.socket.write(bytes)) return;
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

  /** Ends the connection at once; safe to call more than once. */
  close(): void {
    this.fail(new ReplyError(reply('connectionLost', { host: this.peer, detail: 'closed by us' })));
    this.socket.destroy();
  }

  private attach(socket: net.Socket): void {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.received(chunk));
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

function connectFailed(peer: string, detail: string): ReplyError {
  return new ReplyError(reply('connectFailed', { host: peer, detail }));
}

function lost(peer: string, detail: string): ReplyError {
  return new ReplyError(reply('connectionLost', { host: peer, detail }));
}

function errorDetail(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

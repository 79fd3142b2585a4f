// A scriptable SMTP peer for tests: it speaks enough SMTP to take mail from a
// client over loopback, records everything it receives, and can be told to
// refuse, misbehave, hang up or stall at a chosen point.
//
// Several sinks may share one port on different loopback addresses (Linux
// routes all of 127/8 to lo): start the first with port 0, then the others
// with `{ host: '127.0.0.3', port: first.port }`, so each plays an MX host.
//
// The sink is strict where the client under test must be: commands and data
// end only at CRLF, and only CRLF "." CRLF ends the data (RFC 5321 §4.1.1.4).
//
// TLS and AUTH, when asked for: with `tls` it offers STARTTLS (RFC 3207) and
// after the handshake starts over (EHLO needed again, STARTTLS no longer
// offered, §4.2); with `implicitTls` it speaks TLS from the first byte. With
// `auth` it offers AUTH PLAIN LOGIN (RFC 4954), by default only under TLS.
// It watches for a known password arriving outside TLS in any form (raw or
// base64) and lists such lines in `plaintextPasswordLines`.

import { EventEmitter, once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { SinkAuth } from './smtp-sink-auth.js';
import { SinkSession } from './smtp-sink-session.js';

export type { SinkAuth } from './smtp-sink-auth.js';
export { DEFAULT_EXTENSIONS } from './smtp-sink-session.js';

/**
 * Where a drop or a stall can be placed: the greeting, the reply to a
 * command ("DOT": the end of data), or "handshake": after the 220 to
 * STARTTLS, instead of the TLS handshake.
 */
export type SinkPoint = 'greeting' | 'EHLO' | 'HELO' | 'STARTTLS' | 'handshake' | 'AUTH' | 'MAIL' | 'RCPT' | 'DATA' | 'DOT' | 'RSET';
export type SinkVerb = 'EHLO' | 'HELO' | 'STARTTLS' | 'AUTH' | 'MAIL' | 'RCPT' | 'DATA' | 'DOT' | 'QUIT' | 'RSET';

export interface SinkBehaviour {
  /** Raw reply to greet with, e.g. '521 5.3.2 mx does not accept mail' (lines joined by \r\n). */
  greeting?: string;
  /** EHLO keywords to advertise. */
  extensions?: string[];
  /** EHLO keywords to advertise once TLS is on, instead of `extensions` (RFC 3207 §4.2: the list may change). */
  extensionsUnderTls?: string[];
  /** Overrides the reply to a command; a function returning undefined keeps the default. */
  replies?: Partial<Record<SinkVerb, string | ((arg: string) => string | undefined)>>;
  /** Destroy the connection instead of replying at that point. */
  dropAfter?: SinkPoint;
  /** Never reply at that point, nor to anything after it. */
  stallAt?: SinkPoint;
  /** After the 354, stop reading the socket, so the client's writes back up. */
  stopReadingData?: boolean;
  /** Raw text sent in the same write as the 220 to STARTTLS (response injection), e.g. '250 fake\r\n'. */
  injectAfterStartTls?: string;
  /** Answer 220 to STARTTLS, then answer the client's TLS hello with bytes that are not TLS, and hang up. */
  failTlsHandshake?: boolean;
}

export interface ReceivedMessage {
  sender: string;
  recipients: string[];
  /** The bytes after DATA up to, not including, the final ".\r\n", dot-unstuffed. */
  data: Buffer;
  /** The same bytes as on the wire, still stuffed. */
  rawData: Buffer;
  /** Everything after "MAIL FROM:<...>", e.g. 'SIZE=123 BODY=8BITMIME'. */
  mailParams: string;
  helo: string;
  via: 'EHLO' | 'HELO';
  clientAddress: string;
  /** The message came over TLS (STARTTLS or implicit). */
  tls: boolean;
  /** The name the client sent in SNI, if any. */
  tlsServername?: string;
  /** The user that authenticated in this session, if any. */
  authUser?: string;
}

export interface SinkOptions {
  /** A loopback address: '127.0.0.1' (default), '127.0.0.2', … */
  host?: string;
  /** 0 (default) for an ephemeral port. */
  port?: number;
  name?: string;
  behaviour?: SinkBehaviour;
  /** Certificate and key: STARTTLS is offered, or the whole connection is TLS with implicitTls. */
  tls?: { cert: Buffer | string; key: Buffer | string };
  /** Listen with TLS from the first byte (RFC 8314 §3); needs `tls`. */
  implicitTls?: boolean;
  auth?: SinkAuth;
  /** Keep the bytes of every TCP read, as they arrived (`reads`): off by default, it holds every byte. */
  recordReads?: boolean;
}

export class SmtpSink {
  behaviour: SinkBehaviour;
  readonly messages: ReceivedMessage[] = [];
  /** Every line received, commands and data alike, from every connection. */
  readonly transcript: string[] = [];
  /** The command lines of each TCP read: a pipelined group arrives as one entry. */
  readonly commandGroups: string[][] = [];
  /** With `recordReads`: the bytes of each TCP read in plaintext, in order, from every connection. */
  readonly reads: Buffer[] = [];
  connections = 0;
  /** TLS sessions established, by STARTTLS or implicitly. */
  tlsSessions = 0;
  /** Lines that arrived outside TLS carrying a known password, raw or in base64. Should stay empty. */
  readonly plaintextPasswordLines: string[] = [];
  readonly name: string;
  /** Present when STARTTLS is offered (not for implicit TLS, where it is never needed). */
  readonly startTlsContext: tls.SecureContext | undefined;
  readonly auth: SinkAuth | undefined;
  private readonly recordReads: boolean;
  private readonly sockets = new Set<net.Socket>();
  private readonly events = new EventEmitter();

  private constructor(private readonly server: net.Server, readonly host: string, readonly port: number, options: SinkOptions) {
    this.name = options.name ?? 'mx.sink.test';
    this.behaviour = options.behaviour ?? {};
    this.auth = options.auth;
    this.recordReads = options.recordReads ?? false;
    this.startTlsContext = options.tls && !options.implicitTls ? tls.createSecureContext(options.tls) : undefined;
    server.on('connection', (socket: net.Socket) => {
      this.connections++;
      this.track(socket);
      if (!options.implicitTls) this.accept(socket, false);
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      this.tlsSessions++;
      this.track(socket);
      this.accept(socket, true);
    });
  }

  static async start(options: SinkOptions = {}): Promise<SmtpSink> {
    const host = options.host ?? '127.0.0.1';
    if (options.implicitTls && !options.tls) throw new Error('implicitTls needs tls: { cert, key }');
    const server = options.implicitTls && options.tls ? tls.createServer({ ...options.tls }) : net.createServer();
    server.listen({ host, port: options.port ?? 0 });
    await once(server, 'listening');
    const address = server.address() as net.AddressInfo;
    return new SmtpSink(server, host, address.port, options);
  }

  /** Resolves once n messages were stored; rejects after timeoutMs. */
  async waitForMessages(n: number, timeoutMs = 5000): Promise<ReceivedMessage[]> {
    if (this.messages.length >= n) return this.messages;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.events.off('message', check);
        reject(new Error(`sink ${this.host}: ${this.messages.length} of ${n} messages after ${timeoutMs} ms`));
      }, timeoutMs);
      const check = (): void => {
        if (this.messages.length < n) return;
        clearTimeout(timer);
        this.events.off('message', check);
        resolve(this.messages);
      };
      this.events.on('message', check);
    });
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** Closed by stop(); a client hanging up or failing its handshake is normal here. */
  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true); // each reply is its own write; don't let Nagle hold them back
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  private accept(socket: net.Socket, secure: boolean): void {
    new SinkSession(this, socket, secure, {
      store: (m) => { this.messages.push(m); this.events.emit('message'); },
      record: (line) => this.transcript.push(line),
      group: (lines) => this.commandGroups.push(lines),
      ...(this.recordReads ? { read: (chunk: Buffer) => this.reads.push(chunk) } : {}),
      secured: (tlsSocket) => { this.tlsSessions++; this.track(tlsSocket); },
      plaintextPassword: (line) => this.plaintextPasswordLines.push(line),
    }).start();
  }
}

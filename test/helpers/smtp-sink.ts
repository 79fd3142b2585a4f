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

import { EventEmitter, once } from 'node:events';
import * as net from 'node:net';

/** Where a drop or a stall can be placed: the greeting, or the reply to a command ("DOT": the end of data). */
export type SinkPoint = 'greeting' | 'EHLO' | 'HELO' | 'MAIL' | 'RCPT' | 'DATA' | 'DOT';
export type SinkVerb = 'EHLO' | 'HELO' | 'MAIL' | 'RCPT' | 'DATA' | 'DOT' | 'QUIT' | 'RSET';

export interface SinkBehaviour {
  /** Raw reply to greet with, e.g. '521 5.3.2 mx does not accept mail' (lines joined by \r\n). */
  greeting?: string;
  /** EHLO keywords to advertise. */
  extensions?: string[];
  /** Overrides the reply to a command; a function returning undefined keeps the default. */
  replies?: Partial<Record<SinkVerb, string | ((arg: string) => string | undefined)>>;
  /** Destroy the connection instead of replying at that point. */
  dropAfter?: SinkPoint;
  /** Never reply at that point, nor to anything after it. */
  stallAt?: SinkPoint;
  /** After the 354, stop reading the socket, so the client's writes back up. */
  stopReadingData?: boolean;
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
}

export const DEFAULT_EXTENSIONS: readonly string[] = ['PIPELINING', '8BITMIME', 'SMTPUTF8', 'SIZE 10485760', 'ENHANCEDSTATUSCODES'];

export interface SinkOptions {
  /** A loopback address: '127.0.0.1' (default), '127.0.0.2', … */
  host?: string;
  /** 0 (default) for an ephemeral port. */
  port?: number;
  name?: string;
  behaviour?: SinkBehaviour;
}

export class SmtpSink {
  behaviour: SinkBehaviour;
  readonly messages: ReceivedMessage[] = [];
  /** Every line received, commands and data alike, from every connection. */
  readonly transcript: string[] = [];
  /** The command lines of each TCP read: a pipelined group arrives as one entry. */
  readonly commandGroups: string[][] = [];
  connections = 0;
  readonly name: string;
  private readonly sockets = new Set<net.Socket>();
  private readonly events = new EventEmitter();

  private constructor(private readonly server: net.Server, readonly host: string, readonly port: number, options: SinkOptions) {
    this.name = options.name ?? 'mx.sink.test';
    this.behaviour = options.behaviour ?? {};
    server.on('connection', (socket) => this.accept(socket));
  }

  static async start(options: SinkOptions = {}): Promise<SmtpSink> {
    const host = options.host ?? '127.0.0.1';
    const server = net.createServer();
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

  private accept(socket: net.Socket): void {
    this.connections++;
    this.sockets.add(socket);
    socket.setNoDelay(true); // each reply is its own write; don't let Nagle hold them back
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy()); // a client hanging up is normal here
    new SinkSession(this, socket, {
      store: (m) => { this.messages.push(m); this.events.emit('message'); },
      record: (line) => this.transcript.push(line),
      group: (lines) => this.commandGroups.push(lines),
    }).start();
  }
}

interface SinkRecorder {
  store(message: ReceivedMessage): void;
  record(line: string): void;
  group(lines: string[]): void;
}

const CRLF = Buffer.from('\r\n');
const END_OF_DATA = Buffer.from('\r\n.\r\n');

/** CRLF + the data so far, while in DATA: the CRLF lets "." on the first line end it too. */
interface DataInProgress {
  readonly chunks: Buffer[];
  length: number;
  /** The last bytes held, too few to hold a whole CRLF.CRLF. */
  tail: Buffer;
}

/** One connection to the sink: a small SMTP server state machine. */
class SinkSession {
  private input: Buffer = Buffer.alloc(0);
  private data: DataInProgress | undefined;
  private stalled = false;
  private refusedGreeting: string | undefined;
  private helo = '';
  private via: 'EHLO' | 'HELO' = 'EHLO';
  private sender: string | undefined;
  private mailParams = '';
  private recipients: string[] = [];

  constructor(private readonly sink: SmtpSink, private readonly socket: net.Socket, private readonly recorder: SinkRecorder) {}

  start(): void {
    this.socket.on('data', (chunk: Buffer) => this.received(chunk));
    const greeting = this.sink.behaviour.greeting ?? `220 ${this.sink.name} ESMTP sink`;
    if (this.interrupted('greeting')) return;
    this.reply(greeting);
    if (greeting.startsWith('4')) this.socket.end(); // RFC 5321 §3.8: 421, then close
    else if (!greeting.startsWith('2')) this.refusedGreeting = greeting;
  }

  private received(chunk: Buffer): void {
    if (this.stalled) return;
    this.input = Buffer.concat([this.input, chunk]);
    const group: string[] = [];
    while (!this.stalled && !this.socket.destroyed) {
      if (this.data) {
        if (!this.takeData()) break;
        continue;
      }
      const end = this.input.indexOf(CRLF);
      if (end === -1) break;
      const line = this.input.toString('utf8', 0, end);
      this.input = this.input.subarray(end + 2);
      this.recorder.record(line);
      group.push(line);
      this.command(line);
    }
    if (group.length > 0) this.recorder.group(group);
  }

  private command(line: string): void {
    const [word = '', ...rest] = line.split(' ');
    const verb = word.toUpperCase();
    const arg = rest.join(' ');
    if (this.refusedGreeting !== undefined) {
      if (verb === 'QUIT') this.quit();
      else this.reply(this.refusedGreeting);
      return;
    }
    switch (verb) {
      case 'EHLO': return this.hello('EHLO', arg);
      case 'HELO': return this.hello('HELO', arg);
      case 'MAIL': return this.mail(arg);
      case 'RCPT': return this.rcpt(arg);
      case 'DATA': return this.dataCommand(arg);
      case 'RSET': return this.respond('RSET', arg, '250 2.0.0 Ok', () => this.reset());
      case 'NOOP': return this.reply('250 2.0.0 Ok');
      case 'QUIT': return this.quit();
      default: return this.reply('502 5.5.2 Error: command not recognized');
    }
  }

  private hello(verb: 'EHLO' | 'HELO', arg: string): void {
    const extensions = this.sink.behaviour.extensions ?? DEFAULT_EXTENSIONS;
    const ehlo = [this.sink.name, ...extensions].map((text, i, all) => `250${i < all.length - 1 ? '-' : ' '}${text}`).join('\r\n');
    this.respond(verb, arg, verb === 'EHLO' ? ehlo : `250 ${this.sink.name}`, () => {
      this.reset();
      this.helo = arg;
      this.via = verb;
    });
  }

  private mail(arg: string): void {
    const m = /^FROM:\s?<([^>]*)>\s*(.*)$/i.exec(arg);
    if (!m) return this.reply('501 5.5.4 Syntax: MAIL FROM:<address>');
    this.respond('MAIL', arg, '250 2.1.0 Ok', () => {
      this.sender = m[1] ?? '';
      this.mailParams = m[2] ?? '';
      this.recipients = [];
    });
  }

  private rcpt(arg: string): void {
    const m = /^TO:\s?<([^>]*)>/i.exec(arg);
    if (!m) return this.reply('501 5.5.4 Syntax: RCPT TO:<address>');
    if (this.sender === undefined) return this.reply('503 5.5.1 Error: need MAIL command');
    this.respond('RCPT', arg, '250 2.1.5 Ok', () => this.recipients.push(m[1] ?? ''));
  }

  private dataCommand(arg: string): void {
    const ready = this.recipients.length > 0 ? '354 End data with <CR><LF>.<CR><LF>' : '554 5.5.1 Error: no valid recipients';
    this.respond('DATA', arg, ready, () => {
      this.data = { chunks: [CRLF], length: CRLF.length, tail: CRLF };
      if (this.sink.behaviour.stopReadingData) {
        this.stalled = true;
        this.socket.pause();
      }
    }, '3');
  }

  /** Moves input into the data; at CRLF.CRLF ends the data and returns true. */
  private takeData(): boolean {
    const data = this.data as DataInProgress;
    // Only a marker that takes at least one new byte can be new: search from the held tail.
    const window = Buffer.concat([data.tail, this.input]);
    const found = window.indexOf(END_OF_DATA);
    if (found === -1) {
      data.chunks.push(this.input);
      data.length += this.input.length;
      data.tail = window.subarray(Math.max(0, window.length - (END_OF_DATA.length - 1)));
      this.input = Buffer.alloc(0);
      return false;
    }
    const all = Buffer.concat([...data.chunks, this.input]);
    const marker = data.length - data.tail.length + found;
    this.data = undefined;
    this.input = all.subarray(marker + END_OF_DATA.length);
    // The CRLF before the final dot is part of the data (RFC 5321 §4.1.1.4).
    this.endOfData(Buffer.from(all.subarray(CRLF.length, marker + CRLF.length)));
    return true;
  }

  private endOfData(rawData: Buffer): void {
    const lines = rawData.toString('utf8').split('\r\n');
    lines.pop(); // rawData ends with CRLF unless empty: either way the last piece is ''
    for (const line of lines) this.recorder.record(line);
    this.recorder.record('.');
    const accepted = this.recipients.length > 0 ? '250 2.0.0 Ok: queued' : '554 5.5.1 Error: no valid recipients';
    this.respond('DOT', '', accepted, () => {
      this.recorder.store({
        sender: this.sender ?? '',
        recipients: [...this.recipients],
        data: unstuff(rawData),
        rawData,
        mailParams: this.mailParams,
        helo: this.helo,
        via: this.via,
        clientAddress: this.socket.remoteAddress ?? '',
      });
      this.reset();
    });
  }

  private quit(): void {
    const bye = this.override('QUIT', '') ?? '221 2.0.0 Bye';
    this.reply(bye);
    this.socket.end();
  }

  /**
   * Replies to a command: the override or the default, unless a drop or stall
   * is placed here. `effect` runs when the reply starts with `success`.
   */
  private respond(verb: SinkVerb, arg: string, fallback: string, effect: () => void, success = '2'): void {
    if (this.interrupted(verb)) return;
    const text = this.override(verb, arg) ?? fallback;
    if (text.startsWith(success)) effect();
    this.reply(text);
  }

  private override(verb: SinkVerb, arg: string): string | undefined {
    const scripted = this.sink.behaviour.replies?.[verb];
    return typeof scripted === 'function' ? scripted(arg) : scripted;
  }

  /** True when a drop or a stall is placed at this point (and carried out). */
  private interrupted(point: SinkPoint | SinkVerb): boolean {
    if (this.sink.behaviour.dropAfter === point) {
      this.socket.destroy();
      return true;
    }
    if (this.sink.behaviour.stallAt === point) {
      this.stalled = true;
      return true;
    }
    return false;
  }

  private reset(): void {
    this.sender = undefined;
    this.mailParams = '';
    this.recipients = [];
  }

  private reply(text: string): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.socket.write(text.endsWith('\r\n') ? text : `${text}\r\n`);
  }
}

/** Removes the leading dot of each line (RFC 5321 §4.5.2, receiver side). */
function unstuff(raw: Buffer): Buffer {
  const out = Buffer.allocUnsafe(raw.length);
  let n = 0;
  let lineStart = true;
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i] as number;
    if (!(lineStart && byte === 0x2e)) out[n++] = byte;
    lineStart = byte === 0x0a && i > 0 && raw[i - 1] === 0x0d;
  }
  return out.subarray(0, n);
}

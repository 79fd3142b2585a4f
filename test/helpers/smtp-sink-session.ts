// One connection to the test sink (see smtp-sink.ts): a small SMTP server
// state machine that records what it receives and follows the sink's
// behaviour script; STARTTLS and AUTH included when the sink offers them.

import type * as net from 'node:net';
import * as tls from 'node:tls';
import { carriesPassword, SinkAuthExchange, type SinkAuth, type SinkAuthStep } from './smtp-sink-auth.js';
import type { ReceivedMessage, SinkBehaviour, SinkPoint, SinkVerb } from './smtp-sink.js';

export const DEFAULT_EXTENSIONS: readonly string[] = ['PIPELINING', '8BITMIME', 'SMTPUTF8', 'SIZE 10485760', 'ENHANCEDSTATUSCODES'];

/** What a session reads from its sink. */
export interface SinkSettings {
  readonly name: string;
  readonly behaviour: SinkBehaviour;
  readonly auth: SinkAuth | undefined;
  /** Present when STARTTLS is offered. */
  readonly startTlsContext: tls.SecureContext | undefined;
}

export interface SinkRecorder {
  store(message: ReceivedMessage): void;
  record(line: string): void;
  group(lines: string[]): void;
  /** The bytes of one TCP read, when the sink keeps them. */
  read?(chunk: Buffer): void;
  secured(socket: tls.TLSSocket): void;
  plaintextPassword(line: string): void;
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
export class SinkSession {
  private input: Buffer = Buffer.alloc(0);
  private data: DataInProgress | undefined;
  private stalled = false;
  private refusedGreeting: string | undefined;
  private helo = '';
  private via: 'EHLO' | 'HELO' = 'EHLO';
  private sender: string | undefined;
  private mailParams = '';
  private recipients: string[] = [];
  /** After STARTTLS, MAIL waits for a new EHLO (RFC 3207 §4.2). */
  private needHello = false;
  private authUser: string | undefined;
  private exchange: SinkAuthExchange | undefined;
  private readonly onData = (chunk: Buffer): void => this.received(chunk);

  constructor(
    private readonly sink: SinkSettings,
    private socket: net.Socket,
    private secure: boolean,
    private readonly recorder: SinkRecorder,
  ) {}

  start(): void {
    this.socket.on('data', this.onData);
    const greeting = this.sink.behaviour.greeting ?? `220 ${this.sink.name} ESMTP sink`;
    if (this.interrupted('greeting')) return;
    this.reply(greeting);
    if (greeting.startsWith('4')) this.socket.end(); // RFC 5321 §3.8: 421, then close
    else if (!greeting.startsWith('2')) this.refusedGreeting = greeting;
  }

  private received(chunk: Buffer): void {
    if (this.stalled) return;
    this.recorder.read?.(chunk);
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
      this.watchForPassword(line);
      group.push(line);
      if (this.exchange) this.authStep(this.exchange.respond(line));
      else this.command(line);
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
      case 'STARTTLS': return this.startTls();
      case 'AUTH': return this.authCommand(arg);
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
    const advertised = this.secure ? this.sink.behaviour.extensionsUnderTls ?? this.sink.behaviour.extensions : this.sink.behaviour.extensions;
    const extensions = [...(advertised ?? DEFAULT_EXTENSIONS)];
    if (this.sink.startTlsContext && !this.secure) extensions.push('STARTTLS');
    if (this.sink.auth && this.authOffered) extensions.push(`AUTH ${SinkAuthExchange.mechanisms(this.sink.auth).join(' ')}`);
    const ehlo = [this.sink.name, ...extensions].map((text, i, all) => `250${i < all.length - 1 ? '-' : ' '}${text}`).join('\r\n');
    this.respond(verb, arg, verb === 'EHLO' ? ehlo : `250 ${this.sink.name}`, () => {
      this.reset();
      this.helo = arg;
      this.via = verb;
      this.needHello = false;
    });
  }

  /** RFC 3207 §4: 220, then the handshake; every plaintext byte after the command is dropped (CVE-2011-0411). */
  private startTls(): void {
    if (!this.sink.startTlsContext) return this.reply('502 5.5.2 Error: command not recognized');
    if (this.secure) return this.reply('503 5.5.1 Error: TLS already active');
    if (this.interrupted('STARTTLS')) return;
    const ready = this.override('STARTTLS', '') ?? '220 2.0.0 Ready to start TLS';
    if (!ready.startsWith('220')) return this.reply(ready);
    this.socket.write(`${ready}\r\n${this.sink.behaviour.injectAfterStartTls ?? ''}`);
    this.input = Buffer.alloc(0);
    const plain = this.socket;
    plain.off('data', this.onData);
    if (this.interrupted('handshake')) return;
    if (this.sink.behaviour.failTlsHandshake) {
      // Only after the client's hello, so the bytes can't be taken for a plaintext reply.
      plain.once('data', () => plain.end('this is not TLS\r\n'));
      return;
    }
    const secure = new tls.TLSSocket(plain, { isServer: true, secureContext: this.sink.startTlsContext });
    secure.on('error', () => secure.destroy());
    secure.once('secure', () => {
      this.recorder.secured(secure);
      this.socket = secure;
      this.secure = true;
      this.startOver();
      secure.on('data', this.onData);
    });
  }

  /** RFC 3207 §4.2: forget everything learnt before TLS. */
  private startOver(): void {
    this.reset();
    this.helo = '';
    this.needHello = true;
    this.authUser = undefined;
    this.exchange = undefined;
  }

  private get authOffered(): boolean {
    return this.sink.auth !== undefined && (this.secure || this.sink.auth.withoutTls === true);
  }

  /** RFC 4954 §4: AUTH mechanism [initial-response]. */
  private authCommand(arg: string): void {
    const auth = this.sink.auth;
    if (!auth) return this.reply('502 5.5.2 Error: command not recognized');
    if (this.interrupted('AUTH')) return;
    const scripted = this.override('AUTH', arg);
    if (scripted !== undefined) return this.reply(scripted);
    if (!this.authOffered) return this.reply('538 5.7.11 Encryption required for requested authentication mechanism');
    if (this.authUser !== undefined) return this.reply('503 5.5.1 Error: already authenticated');
    const { step, exchange } = SinkAuthExchange.begin(auth, arg);
    this.exchange = exchange;
    this.authStep(step);
  }

  private authStep(step: SinkAuthStep): void {
    if (step.done) this.exchange = undefined;
    if (step.user !== undefined) this.authUser = step.user;
    this.reply(step.reply);
  }

  /** Records a line that arrived outside TLS carrying a known password. */
  private watchForPassword(line: string): void {
    if (!this.secure && carriesPassword(line, this.sink.auth)) this.recorder.plaintextPassword(line);
  }

  private mail(arg: string): void {
    const m = /^FROM:\s?<([^>]*)>\s*(.*)$/i.exec(arg);
    if (!m) return this.reply('501 5.5.4 Syntax: MAIL FROM:<address>');
    if (this.needHello) return this.reply('503 5.5.1 Error: send HELO/EHLO first');
    if (this.sink.auth?.required && this.authUser === undefined) return this.reply('530 5.7.0 Authentication required');
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
        tls: this.secure,
        ...(this.socket instanceof tls.TLSSocket && this.socket.servername ? { tlsServername: this.socket.servername } : {}),
        ...(this.authUser !== undefined ? { authUser: this.authUser } : {}),
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

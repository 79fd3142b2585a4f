// One SMTP conversation written down as it happens, annotated for a reader
// learning SMTP. Pure: it keeps text and tells a listener about each new line;
// where the text goes (stdout, a file, the ring) is trace-store.ts's business.
//
//   12:00:00.125 C: MAIL FROM:<alice@example.org>
//                   ~ MAIL (RFC 5321 §4.1.1.2): Starts a transaction and names the sender …
//   12:00:00.131 S: 250 2.1.0 Ok
//                   ~ 250 Requested mail action okay, completed; 2.1.0 Success: Other address status
//   12:00:00.140 ** DNS nullmx.test: null MX (RFC 7505) …
//
// "C:" is always the SMTP client and "S:" the server: inbound, the peer is C
// and minimta S; outbound (delivery), minimta is C. Everything a peer sent is
// escaped (escape.ts); AUTH secrets are masked; the message body is shown as
// its header section with a size and line count unless bodies are wanted.

import { formatReply, type Reply } from '../reply-codes/index.js';
import { annotateCommand, annotateReply } from './annotate.js';
import { escapeForTranscript } from './escape.js';
import { replyNameOf } from './annotate.js';
import type { WireRecorder } from './recorder.js';

export type Direction = 'inbound' | 'outbound';

/** What a transcript line is, for colour on a terminal. */
export type LineKind = 'header' | 'client' | 'server' | 'note' | 'annotation' | 'tls';

export interface TranscriptLine {
  readonly kind: LineKind;
  readonly text: string;
}

export interface TranscriptOptions {
  readonly id: string;
  readonly direction: Direction;
  /** Who the other side is, e.g. "[127.0.0.1]" or "mx.example[192.0.2.1]:25". */
  readonly peer: string;
  /** Show message bodies (otherwise header section, size and line count). */
  readonly bodies: boolean;
  /** Largest transcript in bytes; beyond it lines are dropped with one note. */
  readonly maxBytes: number;
  readonly now?: () => Date;
  /** Told about every line as it is added (the live view). */
  readonly onLine?: (line: TranscriptLine, transcript: Transcript) => void;
  /** Told once when the conversation is over (to store it). */
  readonly onEnd?: (transcript: Transcript) => void;
}

const INDENT = ' '.repeat('12:00:00.000 C: '.length);
/** The most of a header section kept for the summary of a message. */
const MAX_HEADER_BYTES = 16 * 1024;

interface MessageSummary {
  size: number;
  lines: number;
  /** The first bytes of the message: the header section, or all that is shown. */
  kept: Buffer[];
  keptBytes: number;
}

export class Transcript implements WireRecorder {
  readonly id: string;
  readonly direction: Direction;
  readonly peer: string;
  readonly startedAt: Date;
  /** Queue ids of the messages this conversation carried. */
  readonly queueIds: string[] = [];
  private readonly lines: TranscriptLine[] = [];
  private bytes = 0;
  private truncated = false;
  private ended = false;
  /** The last reply was 334: the next client line is an AUTH response, masked. */
  private inAuth = false;
  private message?: MessageSummary;

  constructor(private readonly options: TranscriptOptions) {
    this.id = options.id;
    this.direction = options.direction;
    this.peer = options.peer;
    this.startedAt = this.now();
    this.add('header', `== ${options.direction} session ${options.id} with ${escapeForTranscript(options.peer)}, ${this.startedAt.toISOString()}`);
  }

  /** A line the SMTP client sent (a command, or an AUTH response). */
  client(line: string): void {
    const verb = /^([A-Za-z]+)/.exec(line)?.[1]?.toUpperCase();
    if (this.inAuth) {
      this.inAuth = false;
      this.add('client', `${this.stamp()} C: ****`);
      this.add('annotation', `${INDENT}~ AUTH response (RFC 4954 §4): base64 credentials, masked here`);
      return;
    }
    // RFC 4954 §4: an initial response after the mechanism is a secret too.
    const shown = verb === 'AUTH' ? line.split(' ').slice(0, 2).join(' ') + (line.split(' ').length > 2 ? ' ****' : '') : line;
    this.add('client', `${this.stamp()} C: ${escapeForTranscript(shown)}`);
    const note = annotateCommand(line);
    if (note) this.add('annotation', `${INDENT}~ ${note}`);
  }

  /** A reply the SMTP server sent; `ours` when minimta sent it (its table says why). */
  server(reply: Reply, ours: boolean): void {
    this.flushMessage();
    this.inAuth = reply.code === 334;
    const queuedAs = ours && replyNameOf(reply) === 'queued' ? /queued as (\S+)/.exec(reply.lines[0] ?? '')?.[1] : undefined;
    if (queuedAs) {
      this.queued(queuedAs);
      this.note(`spool: message ${queuedAs} written and fsynced (file and directory) before the 250 below (RFC 5321 §6.1: 250 hands over responsibility)`);
    }
    const wire = formatReply(reply).split('\r\n').filter((l) => l !== '');
    const stamp = this.stamp();
    wire.forEach((line, i) => this.add('server', `${i === 0 ? stamp : ' '.repeat(stamp.length)} S: ${escapeForTranscript(line)}`));
    for (const note of annotateReply(reply, ours)) this.add('annotation', `${INDENT}~ ${escapeForTranscript(note)}`);
  }

  /** The TLS handshake, as one line (RFC 3207 §4). */
  tls(protocol: string, cipher: string): void {
    this.add('tls', `${this.stamp()} ** TLS handshake done: ${protocol} ${cipher}; the session starts over (RFC 3207 §4.2)`);
  }

  /** A decision minimta made between lines (DNS verdict, relay check, queue id, fsync …). */
  note(text: string): void {
    this.flushMessage();
    this.add('note', `${this.stamp()} ** ${escapeForTranscript(text)}`);
  }

  /** The message queued under this id. */
  queued(id: string): void {
    if (!this.queueIds.includes(id)) this.queueIds.push(id);
  }

  /** Message bytes as the server received them (dot-unstuffing done, CRLF line ends). */
  body(chunk: Buffer): void {
    const m = this.message ??= { size: 0, lines: 0, kept: [], keptBytes: 0 };
    m.size += chunk.length;
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) m.lines++;
    const room = (this.options.bodies ? this.options.maxBytes : MAX_HEADER_BYTES) - m.keptBytes;
    if (room <= 0) return;
    const piece = chunk.subarray(0, room);
    m.kept.push(Buffer.from(piece));
    m.keptBytes += piece.length;
  }

  /** The conversation is over. */
  end(text = 'connection closed'): void {
    if (this.ended) return;
    this.flushMessage();
    this.add('header', `== end of session ${this.id}: ${text}`);
    this.ended = true;
    this.options.onEnd?.(this);
  }

  get finished(): boolean {
    return this.ended;
  }

  /** The transcript as text, one line per line. */
  toString(): string {
    return this.lines.map((l) => `${l.text}\n`).join('');
  }

  get size(): number {
    return this.bytes;
  }

  /** The message as the client sent it, summed up, before the reply that ends DATA. */
  private flushMessage(): void {
    const m = this.message;
    if (!m) return;
    this.message = undefined;
    const stamp = this.stamp();
    const blank = ' '.repeat(stamp.length);
    const text = Buffer.concat(m.kept).toString('utf8');
    // An empty line ends the header section (RFC 5322 §2.1).
    const split = text.startsWith('\r\n') ? 0 : text.indexOf('\r\n\r\n');
    const header = split === -1 ? text : text.slice(0, split);
    const shownLines = header === '' ? [] : header.split('\r\n');
    if (this.options.bodies && split !== -1) {
      const body = text.slice(split === 0 ? 2 : split + 4).split('\r\n');
      if (body[body.length - 1] === '') body.pop();
      shownLines.push('', ...body);
    }
    shownLines.forEach((line, i) => this.add('client', `${i === 0 ? stamp : blank} C: ${escapeForTranscript(line)}`.trimEnd()));
    this.add('client', `${blank} C: .`);
    const shown = this.options.bodies ? '' : ' (header section shown; body not shown, see trace.bodies)';
    this.add('annotation', `${INDENT}~ message: ${m.size} bytes, ${m.lines} lines${shown}; "." alone ends it (RFC 5321 §4.1.1.4)`);
  }

  private add(kind: LineKind, text: string): void {
    if (this.ended) return;
    if (this.truncated) return;
    const cost = Buffer.byteLength(text) + 1;
    if (this.bytes + cost > this.options.maxBytes && kind !== 'header') {
      this.truncated = true;
      const line = { kind: 'note' as const, text: `${INDENT}** transcript cut: longer than trace.maxBytes (${this.options.maxBytes} bytes)` };
      this.lines.push(line);
      this.options.onLine?.(line, this);
      return;
    }
    const line = { kind, text };
    this.lines.push(line);
    this.bytes += cost;
    this.options.onLine?.(line, this);
  }

  private stamp(): string {
    return this.now().toISOString().slice(11, 23);
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }
}

// The DATA phase (RFC 5321 §4.1.1.4, §4.5.2): a streaming state machine over
// the bytes after our 354. Only CRLF "." CRLF ends the data, wherever the TCP
// reads split it; a leading dot is removed from stuffed lines; a bare CR or
// LF anywhere stops the session (§2.3.8, SMTP smuggling). Too much data, or a
// line over 1000 octets, is read to its end and then refused (§4.5.3.1.6,
// §4.5.3.1.10; RFC 1870 §6.3: never reply in the middle of the data).
//
// With smtp.bareNewline "normalize" (Postfix 3.9's smtpd_forbid_bare_newline
// = normalize) a bare LF ends a content line and is stored as CRLF, but the
// data still ends only at CRLF "." CRLF: the dot line and the line before it
// must both end in CRLF, so <LF>.<LF>, <CR><LF>.<LF> and <LF>.<CR><LF> stay
// content (their dot removed as a stuffed one, §4.5.2) and nothing can be
// smuggled after them. A bare CR is refused in both policies.

import { HopCounter } from './hop-counter.js';
import type { BareNewlinePolicy } from './line-reader.js';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CRLF = Buffer.from('\r\n');

/** RFC 5321 §4.5.3.1.6: 1000 octets including CRLF, the stuffed dot not counted. */
export const MAX_TEXT_LINE_OCTETS = 1000;

export type DataOutcome =
  | { readonly kind: 'complete'; readonly size: number; readonly tooBig: boolean; readonly lineTooLong: boolean; readonly hops: number }
  | { readonly kind: 'bare-lf' }
  | { readonly kind: 'bare-cr' };

export interface DataProgress {
  /** Set once the data has ended (or was cut short by a violation). */
  readonly outcome?: DataOutcome;
  /** Bytes after the end of data: the next commands (RFC 2920 §3.1). */
  readonly rest?: Buffer;
}

type State = 'line-start' | 'dot' | 'dot-cr' | 'mid-line' | 'cr';

export class DataReader {
  private state: State = 'line-start';
  private lineOctets = 0;
  private size = 0;
  private tooBig = false;
  private lineTooLong = false;
  private readonly hops = new HopCounter();
  /** Did the line before the current one end in CRLF? (The DATA command's own line counts as one.) */
  private previousEndedCrlf = true;
  /**
   * Bytes of the current read collected but not yet in `out`: chunk[runStart,
   * runEnd). Lines that follow each other in the read, with their CRLF, make
   * one run, so a read without stuffed dots is passed on as one piece, uncopied.
   */
  private runChunk?: Buffer;
  private runStart = 0;
  private runEnd = 0;

  /**
   * @param maxSize largest message accepted, in octets after unstuffing
   * @param onBody receives the unstuffed message bytes, in order; not called
   *   once the message is known to be refused (too big, line too long)
   */
  constructor(
    private readonly maxSize: number,
    private readonly onBody: (chunk: Buffer) => void,
    private readonly bareNewline: BareNewlinePolicy = 'reject',
  ) {}

  push(chunk: Buffer): DataProgress {
    const out: Buffer[] = [];
    let i = 0;
    while (i < chunk.length) {
      const byte = chunk[i];
      switch (this.state) {
        case 'line-start':
          if (byte === DOT) { this.state = 'dot'; i++; continue; }
          this.state = 'mid-line';
          continue;
        case 'dot':
          if (byte === CR) { this.state = 'dot-cr'; i++; continue; }
          if (byte === LF) {
            if (this.bareNewline === 'reject') return this.violation('bare-lf', out);
            this.endLine(out, false);
            i++;
            continue;
          }
          // A stuffed dot: dropped, and not counted in the line length (§4.5.2).
          this.state = 'mid-line';
          continue;
        case 'dot-cr':
          if (byte !== LF) return this.violation('bare-cr', out);
          if (this.previousEndedCrlf) {
            this.emit(out);
            return { outcome: this.complete(), rest: chunk.subarray(i + 1) };
          }
          // "." CRLF after a bare LF: content, never the end (normalize only).
          this.endLine(out, true);
          i++;
          continue;
        case 'mid-line': {
          const end = nextLineBreak(chunk, i);
          if (end > i) { this.collectFrom(out, chunk, i, end); this.lineOctets += end - i; }
          if (end === chunk.length) { i = end; continue; }
          if (chunk[end] === LF) {
            if (this.bareNewline === 'reject') return this.violation('bare-lf', out);
            this.endLine(out, false);
            i = end + 1;
            continue;
          }
          this.state = 'cr';
          i = end + 1;
          continue;
        }
        case 'cr':
          if (byte !== LF) return this.violation('bare-cr', out);
          // The CR is in this read too, unless the read began with the LF.
          this.endLine(out, true, i > 0 ? chunk : undefined, i - 1);
          i++;
          continue;
      }
    }
    this.emit(out);
    return {};
  }

  /** A line ends; it is stored with CRLF whatever ended it on the wire (the wire's own, at chunk[crAt], when there is one). */
  private endLine(out: Buffer[], crlf: boolean, chunk?: Buffer, crAt = 0): void {
    if (this.lineOctets + 2 > MAX_TEXT_LINE_OCTETS) this.lineTooLong = true;
    if (chunk) this.collectFrom(out, chunk, crAt, crAt + 2);
    else this.collect(out, CRLF);
    this.lineOctets = 0;
    this.previousEndedCrlf = crlf;
    this.state = 'line-start';
  }

  private collect(out: Buffer[], bytes: Buffer): void {
    if (!this.counted(bytes.length)) return;
    this.endRun(out);
    out.push(bytes);
  }

  /** chunk[from, to): added to the run when it goes on from where the run ends. */
  private collectFrom(out: Buffer[], chunk: Buffer, from: number, to: number): void {
    if (!this.counted(to - from)) return;
    if (this.runChunk === chunk && this.runEnd === from) {
      this.runEnd = to;
      return;
    }
    this.endRun(out);
    this.runChunk = chunk;
    this.runStart = from;
    this.runEnd = to;
  }

  /** Counts collected bytes; whether they are still kept (not once the message is refused). */
  private counted(length: number): boolean {
    this.size += length;
    if (this.size > this.maxSize) this.tooBig = true;
    return !this.tooBig && !this.lineTooLong;
  }

  private endRun(out: Buffer[]): void {
    if (!this.runChunk) return;
    out.push(this.runChunk.subarray(this.runStart, this.runEnd));
    this.runChunk = undefined;
  }

  private emit(out: Buffer[]): void {
    this.endRun(out);
    if (out.length === 0 || this.tooBig || this.lineTooLong) return;
    const bytes = out.length === 1 ? out[0]! : Buffer.concat(out);
    this.hops.observe(bytes);
    this.onBody(bytes);
  }

  private complete(): DataOutcome {
    return { kind: 'complete', size: this.size, tooBig: this.tooBig, lineTooLong: this.lineTooLong, hops: this.hops.count };
  }

  private violation(kind: 'bare-lf' | 'bare-cr', out: Buffer[]): DataProgress {
    out.length = 0;
    this.runChunk = undefined;
    return { outcome: { kind } };
  }
}

function nextLineBreak(buf: Buffer, from: number): number {
  const cr = buf.indexOf(CR, from);
  const lf = buf.indexOf(LF, from);
  if (cr === -1 && lf === -1) return buf.length;
  if (cr === -1) return lf;
  if (lf === -1) return cr;
  return Math.min(cr, lf);
}

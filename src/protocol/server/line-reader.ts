// CRLF framing of the command stream (RFC 5321 §2.3.8): CRLF is the only
// line terminator. A bare LF or a bare CR is reported, never taken as a line
// end (SMTP smuggling, RFC 5321 §2.3.8). Buffering is bounded: a line longer
// than the limit is dropped up to its CRLF and reported once.
//
// The one exception is opt-in (smtp.bareNewline "normalize", after Postfix
// 3.9's smtpd_forbid_bare_newline = normalize): a bare LF then ends a command
// line as CRLF would, for people typing at nc. A bare CR is refused always.

const CR = 0x0d;
const LF = 0x0a;

export type LineEvent =
  | { readonly kind: 'line'; readonly text: string; readonly octets: number }
  | { readonly kind: 'too-long' }
  | { readonly kind: 'bare-lf' }
  | { readonly kind: 'bare-cr' };

/** What a bare LF is: a refusal (RFC 5321 §2.3.8, the default) or a line end. */
export type BareNewlinePolicy = 'reject' | 'normalize';

export class LineReader {
  private buffer: Buffer = Buffer.alloc(0);
  /** True while the rest of an over-long line is being thrown away. */
  private skipping = false;
  private skippedCr = false;
  /** After a bare CR or LF nothing more is read: the session is closed. */
  private stopped = false;

  /** @param maxLineOctets longest accepted line, CRLF included (RFC 5321 §4.5.3.1.4: at least 512). */
  constructor(private maxLineOctets: number, private readonly bareNewline: BareNewlinePolicy = 'reject') {}

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
  }

  /** Raises or lowers the limit (AUTH lines may be longer, RFC 4954 §4). */
  setLimit(maxLineOctets: number): void {
    this.maxLineOctets = maxLineOctets;
  }

  get buffered(): number {
    return this.buffer.length;
  }

  /** Hands every buffered byte to another reader (the DATA phase). */
  takeBuffered(): Buffer {
    const rest = this.buffer;
    this.buffer = Buffer.alloc(0);
    return rest;
  }

  /** Gives bytes back, in front of anything buffered (what followed the end of DATA). */
  unshift(bytes: Buffer): void {
    if (bytes.length > 0) this.buffer = Buffer.concat([bytes, this.buffer]);
  }

  /** Forgets everything buffered (after STARTTLS: CVE-2011-0411). */
  discard(): void {
    this.buffer = Buffer.alloc(0);
    this.skipping = false;
    this.skippedCr = false;
  }

  /** The next complete line or violation, or null when more bytes are needed. */
  next(): LineEvent | null {
    if (this.stopped) return null;
    if (this.skipping) return this.skipOverlong();
    const end = firstLineBreak(this.buffer);
    if (end === -1) {
      if (this.buffer.length >= this.maxLineOctets) {
        this.skipping = true;
        return this.skipOverlong();
      }
      return null;
    }
    const byte = this.buffer[end];
    if (byte === LF) return this.bareNewline === 'normalize' ? this.take(end, 1) : this.violation('bare-lf');
    if (end + 1 >= this.buffer.length) {
      // A CR at the end of what we have: its LF may be in the next read.
      return end + 2 > this.maxLineOctets ? this.startSkipping() : null;
    }
    if (this.buffer[end + 1] !== LF) return this.violation('bare-cr');
    return this.take(end, 2);
  }

  /** The line before `end`, its terminator `terminator` octets long; a normalised LF counts as CRLF. */
  private take(end: number, terminator: number): LineEvent {
    const next = this.buffer.subarray(end + terminator);
    if (end + 2 > this.maxLineOctets) {
      this.buffer = next;
      return { kind: 'too-long' };
    }
    const text = this.buffer.toString('utf8', 0, end);
    this.buffer = next;
    return { kind: 'line', text, octets: end + 2 };
  }

  private startSkipping(): LineEvent | null {
    this.skipping = true;
    return this.skipOverlong();
  }

  /** Drops bytes up to and including the next CRLF; then reports the line once. */
  private skipOverlong(): LineEvent | null {
    const buf = this.buffer;
    for (let i = 0; i < buf.length; i++) {
      const byte = buf[i];
      const previousWasCr = i === 0 ? this.skippedCr : buf[i - 1] === CR;
      if (byte === LF) {
        this.buffer = buf.subarray(i + 1);
        this.skipping = false;
        this.skippedCr = false;
        return previousWasCr || this.bareNewline === 'normalize' ? { kind: 'too-long' } : this.violation('bare-lf');
      }
      if (previousWasCr) return this.violation('bare-cr');
    }
    this.skippedCr = buf.length > 0 ? buf[buf.length - 1] === CR : this.skippedCr;
    this.buffer = Buffer.alloc(0);
    return null;
  }

  private violation(kind: 'bare-lf' | 'bare-cr'): LineEvent {
    this.buffer = Buffer.alloc(0);
    this.stopped = true;
    return { kind };
  }
}

function firstLineBreak(buf: Buffer): number {
  const cr = buf.indexOf(CR);
  const lf = buf.indexOf(LF);
  if (cr === -1) return lf;
  if (lf === -1) return cr;
  return Math.min(cr, lf);
}

// The sending side of SMTP data transparency, as a streaming transform over
// the stored message (RFC 5321 §4.5.2, §4.1.1.4):
//
// - every line end leaves as CRLF: a bare CR or a bare LF becomes CRLF, so no
//   bare line end ever reaches the next hop (RFC 5321 §2.3.8; SMTP smuggling,
//   where a lenient next hop would take "\n.\n" as the end of data);
// - only then is a line that starts with "." given one more ".", so the
//   normalized line ends are the ones the dots are judged against;
// - a last line without a line end gets CRLF, and ".\r\n" ends the data.
//
// Chunks may split anywhere: a CR at the end of one chunk may be the first
// half of a CRLF, and a "." at the start of a chunk is at a line start only
// if the previous chunk ended one. The state carried across chunks is two
// booleans, so memory stays bounded by the chunk size.

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CRLF = Buffer.from('\r\n');
const END_OF_DATA = Buffer.from('.\r\n');

export class DotStuffer {
  /** True when the next byte starts a line (the data starts with one). */
  private atLineStart = true;
  /** The previous chunk ended with a CR whose LF, if any, is in the next one. */
  private pendingCr = false;

  /**
   * The wire bytes for one chunk of the stored message: the chunk itself
   * when it needs no change (the usual case: CRLF lines, none starting with
   * "."), so the caller must not change a chunk once pushed.
   */
  push(chunk: Buffer): Buffer {
    if (this.passesUnchanged(chunk)) {
      if (chunk.length > 0) this.atLineStart = chunk[chunk.length - 1] === LF;
      return chunk;
    }
    // Worst case every byte doubles: a lone LF becomes CRLF, a "." becomes "..".
    const out = Buffer.allocUnsafe(chunk.length * 2 + 2);
    let n = 0;
    for (const byte of chunk) {
      if (this.pendingCr) {
        this.pendingCr = false;
        n = this.lineEnd(out, n);
        if (byte === LF) continue;
      }
      if (byte === CR) {
        this.pendingCr = true;
      } else if (byte === LF) {
        n = this.lineEnd(out, n);
      } else {
        if (this.atLineStart && byte === DOT) out[n++] = DOT;
        out[n++] = byte;
        this.atLineStart = false;
      }
    }
    return out.subarray(0, n);
  }

  /**
   * True when every line end in the chunk is a CRLF inside it, no line
   * starts with "." and nothing is carried over: two native scans, no copy.
   */
  private passesUnchanged(chunk: Buffer): boolean {
    if (this.pendingCr || (this.atLineStart && chunk[0] === DOT)) return false;
    let lineEnds = 0;
    for (let lf = chunk.indexOf(LF); lf !== -1; lf = chunk.indexOf(LF, lf + 1)) {
      if (lf === 0 || chunk[lf - 1] !== CR || chunk[lf + 1] === DOT) return false;
      lineEnds++;
    }
    // Every LF follows a CR; as many CRs as LFs means no CR stands alone.
    let crs = 0;
    for (let cr = chunk.indexOf(CR); cr !== -1; cr = chunk.indexOf(CR, cr + 1)) {
      if (++crs > lineEnds) return false;
    }
    return true;
  }

  /** The bytes that close the data: a missing last CRLF, then ".\r\n". */
  end(): Buffer {
    const unterminated = this.pendingCr || !this.atLineStart;
    this.pendingCr = false;
    this.atLineStart = true;
    return unterminated ? Buffer.concat([CRLF, END_OF_DATA]) : Buffer.from(END_OF_DATA);
  }

  private lineEnd(out: Buffer, n: number): number {
    out[n] = CR;
    out[n + 1] = LF;
    this.atLineStart = true;
    return n + 2;
  }
}

// Turns the bytes a next hop sends into complete replies (RFC 5321 §4.2).
// Lines end with CRLF; a bare LF from the peer is tolerated in replies (we
// only read them, and being strict here would only defer mail). Buffering is
// bounded so a hostile server can't make us hold unlimited text: one line at
// most MAX_REPLY_LINE_OCTETS, one reply at most MAX_REPLY_LINES lines.

import { ReplyError, reply, ReplyParser, type Reply } from '../../reply-codes/index.js';

/** Far above the 512 octets RFC 5321 §4.5.3.1.5 asks us to accept. */
export const MAX_REPLY_LINE_OCTETS = 4096;
/** An EHLO reply lists a handful of keywords; no honest reply comes near this. */
export const MAX_REPLY_LINES = 100;

const LF = 0x0a;
const CR = 0x0d;

export class ReplyReader {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly parser = new ReplyParser();
  private linesInReply = 0;

  /** @param peer names the next hop in the protocol-error reply, e.g. "mx.example[192.0.2.1]". */
  constructor(private readonly peer: string) {}

  /**
   * Feeds bytes; returns the replies they complete, in order. Throws a
   * ReplyError carrying `remoteProtocolError` for anything that is not a
   * well-formed reply, after which the reader must not be used again.
   */
  push(chunk: Buffer): Reply[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const complete: Reply[] = [];
    let start = 0;
    for (let end = this.buffer.indexOf(LF); end !== -1; end = this.buffer.indexOf(LF, start)) {
      if (end + 1 - start > MAX_REPLY_LINE_OCTETS) throw this.violation('reply line too long');
      const textEnd = end > start && this.buffer[end - 1] === CR ? end - 1 : end;
      const done = this.line(this.buffer.toString('utf8', start, textEnd));
      if (done) complete.push(done);
      start = end + 1;
    }
    this.buffer = this.buffer.subarray(start);
    if (this.buffer.length > MAX_REPLY_LINE_OCTETS) throw this.violation('reply line too long');
    return complete;
  }

  /**
   * True while bytes of an unfinished reply are held. STARTTLS needs it: text
   * after the 220 and before the handshake is response injection (the
   * client side of CVE-2011-0411).
   */
  get holdsPartialReply(): boolean {
    return this.buffer.length > 0 || this.parser.pending;
  }

  private line(text: string): Reply | null {
    if (++this.linesInReply > MAX_REPLY_LINES) throw this.violation(`more than ${MAX_REPLY_LINES} lines in one reply`);
    let done: Reply | null;
    try {
      done = this.parser.push(text);
    } catch (err) {
      if (err instanceof ReplyError) throw this.violation(`malformed reply line ${JSON.stringify(text.slice(0, 80))}`);
      throw err;
    }
    if (!done) return null;
    this.linesInReply = 0;
    // RFC 5321 §4.2: the first digit is 2 to 5; anything else is no reply at all.
    if (done.code < 200 || done.code >= 600) throw this.violation(`reply code ${done.code} out of range`);
    return done;
  }

  private violation(detail: string): ReplyError {
    return new ReplyError(reply('remoteProtocolError', { host: this.peer, detail }));
  }
}

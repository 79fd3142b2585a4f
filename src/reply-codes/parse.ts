// Parsing of replies received from a peer, for the delivery client.
// RFC 5321 §4.2: "code SP text" ends a reply, "code-text" continues it; a bare
// code with or without the trailing space is a complete reply (§4.2, §4.3.2).

import { ReplyError, type Reply } from './reply.js';
import { reply } from './replies.js';

const LINE = /^([0-9]{3})([ -]|$)(.*)$/s;
const ENHANCED = /^([245])\.([0-9]{1,3})\.([0-9]{1,3})(?: |$)/;

/** Accumulates reply lines until a reply is complete. */
export class ReplyParser {
  private code: number | null = null;
  private texts: string[] = [];

  /**
   * Feeds one line (without CRLF). Returns the reply once its last line has
   * been seen, otherwise null. Throws ReplyError for a line that is not a
   * reply line or whose code differs inside a multi-line reply.
   */
  push(line: string): Reply | null {
    const m = LINE.exec(line);
    if (!m) throw protocolError(`not a reply line: ${JSON.stringify(line.slice(0, 80))}`);
    const code = Number(m[1]);
    if (this.code !== null && code !== this.code) {
      throw protocolError(`code changed inside a multi-line reply (${this.code} then ${code})`);
    }
    this.code = code;
    this.texts.push(m[3] ?? '');
    if (m[2] === '-') return null;
    const complete = toReply(code, this.texts);
    this.code = null;
    this.texts = [];
    return complete;
  }

  /** True while a multi-line reply has started and not ended. */
  get pending(): boolean {
    return this.code !== null;
  }
}

/** Splits the enhanced code off the text when every line carries the same one. */
function toReply(code: number, texts: string[]): Reply {
  const first = ENHANCED.exec(texts[0] ?? '');
  const enhanced = first && first[1] === String(code)[0] ? first[0].trim() : undefined;
  if (!enhanced) return { code, lines: texts };
  const lines = texts.map((t) => (t.startsWith(enhanced) ? t.slice(enhanced.length).trimStart() : t));
  return { code, enhanced, lines };
}

/** Parses a complete reply held in one string (lines joined by CRLF). */
export function parseReply(text: string): Reply {
  const parser = new ReplyParser();
  const lines = text.split('\r\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const [i, line] of lines.entries()) {
    const done = parser.push(line);
    if (done) {
      if (i !== lines.length - 1) throw protocolError('text after the end of the reply');
      return done;
    }
  }
  throw protocolError('reply ended without a final line');
}

function protocolError(detail: string): ReplyError {
  return new ReplyError(reply('remoteProtocolError', { host: 'peer', detail }));
}

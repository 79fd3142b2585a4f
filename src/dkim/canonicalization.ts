// The "relaxed" canonicalization of RFC 6376 §3.4.2 (header fields) and
// §3.4.4 (body): what is hashed, so that whitespace changes made by relays on
// the way do not break the signature. Bytes are handled as latin1 strings, so
// 8-bit text passes through unchanged.

const CRLF = '\r\n';
/** WSP: space and horizontal tab (RFC 5234 appendix B.1). */
const WSP_RUN = /[ \t]+/g;

/**
 * RFC 6376 §3.4.2: the name in lower case, unfolded, every run of WSP one
 * space, no WSP at the end of the value nor around the colon; ends in CRLF.
 * `field` is the whole field as written, folded lines included, with or
 * without its final CRLF.
 */
export function relaxedHeader(field: string): string {
  const colon = field.indexOf(':');
  const name = field.slice(0, colon).replace(WSP_RUN, '').toLowerCase();
  const value = field.slice(colon + 1)
    .replace(/\r\n(?=[ \t])/g, '') // unfold (RFC 5322 §2.2.3)
    .replace(/\r\n$/, '')
    .replace(WSP_RUN, ' ')
    .trim();
  return `${name}:${value}${CRLF}`;
}

/**
 * RFC 6376 §3.4.4, streamed: within each line every run of WSP becomes one
 * space and WSP at the end of the line goes; empty lines at the end of the
 * body are ignored; a body that does not end in CRLF gets one. An empty body
 * canonicalizes to nothing at all. Chunks may split lines (or a CRLF)
 * anywhere; each call returns the canonical text that is certain so far.
 */
export class RelaxedBody {
  private partial = '';
  private emptyLines = 0;

  update(chunk: string): string {
    const text = this.partial + chunk;
    const lastBreak = text.lastIndexOf(CRLF);
    if (lastBreak < 0) {
      this.partial = text;
      return '';
    }
    this.partial = text.slice(lastBreak + 2);
    let out = '';
    for (const line of text.slice(0, lastBreak).split(CRLF)) out += this.line(line);
    return out;
  }

  /** The rest, at the end of the body: a last line without CRLF gets one. */
  final(): string {
    const rest = this.partial;
    this.partial = '';
    return rest === '' ? '' : this.line(rest);
  }

  private line(raw: string): string {
    const line = raw.replace(WSP_RUN, ' ').replace(/ $/, '');
    if (line === '') {
      // Held back: it only counts if a non-empty line follows.
      this.emptyLines++;
      return '';
    }
    const held = CRLF.repeat(this.emptyLines);
    this.emptyLines = 0;
    return `${held}${line}${CRLF}`;
  }
}

/** The relaxed canonical form of a whole body at once. */
export function relaxedBody(body: string): string {
  const canon = new RelaxedBody();
  return canon.update(body) + canon.final();
}

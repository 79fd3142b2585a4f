// The header section of a message as it streams past (RFC 5322 §2.1): the
// fields up to the first empty line, which the signer needs whole, and the
// body after it, which it only hashes. A header section larger than the
// limit is not kept (the message is then not signed).

const CRLF = '\r\n';
const END_OF_HEADER = '\r\n\r\n';

/** One header field as written: folded lines included, without the final CRLF. */
export interface HeaderField {
  /** As written, e.g. "Subject". */
  name: string;
  text: string;
}

export class HeaderSection {
  private head = '';
  private done = false;
  private tooLarge = false;

  constructor(private readonly maxOctets: number) {}

  /** Takes the next chunk (latin1); returns the part of it that belongs to the body. */
  update(chunk: string): string {
    if (this.done) return chunk;
    if (this.tooLarge) return '';
    const seen = this.head + chunk;
    // A message that starts with the empty line has no header fields.
    const end = seen.startsWith(CRLF) ? 0 : seen.indexOf(END_OF_HEADER, Math.max(0, this.head.length - 3));
    if (end < 0) {
      if (seen.length > this.maxOctets) {
        this.tooLarge = true;
        this.head = '';
      } else {
        this.head = seen;
      }
      return '';
    }
    this.done = true;
    const headerEnd = end === 0 ? 0 : end + 2;
    this.head = seen.slice(0, headerEnd);
    return seen.slice(headerEnd + 2);
  }

  /** The empty line that ends the header section has been seen. */
  get complete(): boolean {
    return this.done;
  }

  /**
   * The fields, in order; undefined when the section was over the limit.
   * A message with no empty line at all is all header.
   */
  fields(): HeaderField[] | undefined {
    if (this.tooLarge) return undefined;
    return splitFields(this.head);
  }
}

/** RFC 5322 §2.2: a field starts at a line that does not begin with WSP; continuation lines fold into it. */
export function splitFields(head: string): HeaderField[] {
  const fields: HeaderField[] = [];
  const lines = head.split(CRLF);
  if (lines.at(-1) === '') lines.pop();
  for (const line of lines) {
    const last = fields.at(-1);
    if (last && /^[ \t]/.test(line)) {
      last.text += CRLF + line;
    } else {
      const colon = line.indexOf(':');
      // A line that is not a field (no colon) cannot be signed or named; it is kept under an empty name.
      fields.push({ name: colon > 0 ? line.slice(0, colon).trim() : '', text: line });
    }
  }
  return fields;
}

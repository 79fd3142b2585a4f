// A small, strict reader of MIME messages for tests: it splits an entity into
// its header fields and body, unfolds fields (RFC 5322 §2.2.3), splits a
// multipart body at its boundary (RFC 2046 §5.1.1) and reads blank-line
// separated field groups (RFC 3464 §2.1). It throws on anything malformed, so
// a test that reads a message back also checks its framing.

export interface HeaderField {
  /** As written. */
  readonly name: string;
  /** Unfolded: every CRLF that precedes white space removed. */
  readonly value: string;
}

export interface Entity {
  readonly fields: readonly HeaderField[];
  /** The raw header section, CRLF line ends, up to and including the CRLF of the last field. */
  readonly head: Buffer;
  readonly body: Buffer;
  /** The first field of that name (case-insensitive), trimmed; undefined if there is none. */
  header(name: string): string | undefined;
  /** Every field of that name, trimmed. */
  headers(name: string): string[];
}

export interface Multipart {
  readonly preamble: Buffer;
  readonly parts: readonly Buffer[];
  readonly epilogue: Buffer;
}

const CRLF = Buffer.from('\r\n');
const EMPTY_LINE = Buffer.from('\r\n\r\n');

/** Header fields of a header section (CRLF line ends; no empty line inside). */
export function parseFields(section: string): HeaderField[] {
  if (section === '') return [];
  if (!section.endsWith('\r\n')) throw new Error('header section does not end with CRLF');
  if (/\r(?!\n)|(?<!\r)\n/.test(section)) throw new Error('bare CR or LF in a header section');
  const lines = section.slice(0, -2).split('\r\n');
  const fields: Array<{ name: string; raw: string }> = [];
  for (const line of lines) {
    if (/^[ \t]/.test(line)) {
      const last = fields[fields.length - 1];
      if (!last) throw new Error(`continuation line before any field: ${JSON.stringify(line)}`);
      last.raw += line;
      continue;
    }
    const m = /^([\x21-\x39\x3b-\x7e]+):(.*)$/s.exec(line);
    if (!m) throw new Error(`not a header field: ${JSON.stringify(line)}`);
    fields.push({ name: m[1] as string, raw: m[2] as string });
  }
  return fields.map((f) => ({ name: f.name, value: f.raw }));
}

function entityOf(head: Buffer, body: Buffer): Entity {
  const fields = parseFields(head.toString('utf8'));
  const all = (name: string): string[] =>
    fields.filter((f) => f.name.toLowerCase() === name.toLowerCase()).map((f) => f.value.trim());
  return { fields, head, body, header: (name) => all(name)[0], headers: all };
}

/** Splits an entity at its first empty line. */
export function parseEntity(bytes: Buffer): Entity {
  if (bytes.subarray(0, 2).equals(CRLF)) return entityOf(Buffer.alloc(0), bytes.subarray(2));
  const at = bytes.indexOf(EMPTY_LINE);
  if (at < 0) throw new Error('no empty line after the header section');
  return entityOf(bytes.subarray(0, at + 2), bytes.subarray(at + 4));
}

export interface ContentType {
  /** type/subtype, lower case. */
  readonly type: string;
  /** Parameter names in lower case; quoted values unquoted. */
  readonly params: Readonly<Record<string, string>>;
}

/** Parses a Content-Type value (RFC 2045 §5.1), enough for our own messages. */
export function parseContentType(value: string): ContentType {
  const [type = '', ...rest] = value.split(';');
  const params: Record<string, string> = {};
  for (const param of rest) {
    const m = /^\s*([^=\s]+)\s*=\s*(?:"([^"]*)"|([^\s"]+))\s*$/.exec(param);
    if (!m) throw new Error(`bad Content-Type parameter: ${JSON.stringify(param)}`);
    params[(m[1] as string).toLowerCase()] = m[2] ?? m[3] ?? '';
  }
  return { type: type.trim().toLowerCase(), params };
}

/**
 * Splits a multipart body (RFC 2046 §5.1.1). Each delimiter is CRLF "--"
 * boundary at the start of a line (the first may open the body), followed by
 * CRLF, or by "--" for the last. The CRLF before a delimiter belongs to it,
 * not to the part before.
 */
export function splitMultipart(body: Buffer, boundary: string): Multipart {
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const text = Buffer.concat([CRLF, body]);
  const parts: Buffer[] = [];
  let preamble: Buffer | undefined;
  let partStart = -1;
  let at = text.indexOf(delimiter);
  while (at >= 0) {
    const after = at + delimiter.length;
    const closing = text.subarray(after, after + 2).toString('latin1') === '--';
    const lineEnd = closing ? after + 2 : after;
    if (!closing && !text.subarray(lineEnd, lineEnd + 2).equals(CRLF)) {
      throw new Error(`boundary "${boundary}" followed by something other than CRLF or "--"`);
    }
    if (preamble === undefined) preamble = text.subarray(2, Math.max(2, at));
    else parts.push(text.subarray(partStart, at));
    if (closing) {
      const epilogue = text.subarray(lineEnd);
      return { preamble, parts, epilogue };
    }
    partStart = lineEnd + 2;
    at = text.indexOf(delimiter, partStart);
  }
  throw new Error(`no closing delimiter for boundary "${boundary}"`);
}

/** Blank-line separated groups of fields, as in a message/delivery-status body (RFC 3464 §2.1). */
export function parseFieldGroups(body: string): HeaderField[][] {
  const groups = body.split(/\r\n\r\n/).filter((group) => group !== '' && group !== '\r\n');
  return groups.map((group) => parseFields(group.endsWith('\r\n') ? group : `${group}\r\n`));
}

/** The first field of that name in a group, trimmed. */
export function fieldOf(group: readonly HeaderField[], name: string): string | undefined {
  return group.find((f) => f.name.toLowerCase() === name.toLowerCase())?.value.trim();
}

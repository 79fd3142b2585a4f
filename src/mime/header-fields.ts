// The header section of a message or a MIME part: fields unfolded (RFC 5322
// §2.2.3), encoded words decoded for display (RFC 2047), and structured
// values split into a value and parameters (RFC 2045 §5.1, RFC 2231 §4).
// Lenient on purpose: it reads what a program under test sent, and a
// malformed field is shown as it came, never an exception.

export interface HeaderField {
  /** As written. */
  name: string;
  /** Unfolded, trimmed, encoded words decoded. */
  value: string;
}

export interface Parameterized {
  /** The value before the first ';', lower case (e.g. "text/plain"). */
  value: string;
  /** Parameter names in lower case; quotes removed; RFC 2231 encodings decoded. */
  params: Record<string, string>;
}

/** Splits an entity at the first empty line; with none, it is all header. */
export function splitEntity(bytes: Buffer): { head: string; body: Buffer } {
  const crlf = bytes.indexOf('\r\n\r\n');
  const lf = bytes.indexOf('\n\n');
  if (bytes.subarray(0, 2).toString('latin1') === '\r\n') return { head: '', body: bytes.subarray(2) };
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { head: bytes.subarray(0, crlf).toString('utf8'), body: bytes.subarray(crlf + 4) };
  if (lf >= 0) return { head: bytes.subarray(0, lf).toString('utf8'), body: bytes.subarray(lf + 2) };
  return { head: bytes.toString('utf8'), body: Buffer.alloc(0) };
}

export function parseHeaderFields(head: string): HeaderField[] {
  const fields: HeaderField[] = [];
  for (const line of head.split(/\r?\n/)) {
    const last = fields[fields.length - 1];
    if (/^[ \t]/.test(line) && last) {
      last.value += line;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1) });
  }
  return fields.map((f) => ({ name: f.name, value: decodeEncodedWords(f.value.trim()) }));
}

/** The first field of that name (case-insensitive). */
export function headerValue(fields: readonly HeaderField[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return fields.find((f) => f.name.toLowerCase() === lower)?.value;
}

/** Text in a charset named in the message; unknown charsets read as UTF-8. */
export function decodeCharset(bytes: Buffer, charset = 'utf-8'): string {
  try {
    return new TextDecoder(charset.toLowerCase()).decode(bytes);
  } catch {
    return bytes.toString('utf8');
  }
}

/** RFC 2047 §2: =?charset?B|Q?text?=; white space between two encoded words is dropped (§6.2). */
export function decodeEncodedWords(value: string): string {
  return value
    .replace(/(\?=)\s+(=\?)/g, '$1$2')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (whole, charset: string, encoding: string, text: string) => {
      const bytes = encoding.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64')
        : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
      return decodeCharset(bytes, charset.split('*')[0]);
    });
}

/** "text/plain; charset=utf-8; name*=utf-8''caf%C3%A9.txt" → value and parameters. */
export function parseParameterized(text: string): Parameterized {
  const params: Record<string, string> = {};
  const [first = '', ...rest] = splitOutsideQuotes(text, ';');
  for (const part of rest) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    let name = part.slice(0, eq).trim().toLowerCase();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    // RFC 2231 §4: name*=charset'lang'percent-encoded; continuations name*0, name*1 … are joined.
    const extended = name.endsWith('*');
    if (extended) name = name.slice(0, -1);
    const section = /^(.*)\*(\d+)$/.exec(name);
    if (section) name = section[1]!;
    if (extended) {
      const m = /^([^']*)'[^']*'(.*)$/.exec(value);
      const bytes = Buffer.from((m ? m[2]! : value).replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
      value = decodeCharset(bytes, m?.[1] || 'utf-8');
    }
    params[name] = section && params[name] !== undefined ? params[name] + value : value;
  }
  return { value: first.trim().toLowerCase(), params };
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && quoted) { current += c + (text[++i] ?? ''); continue; }
    if (c === '"') quoted = !quoted;
    if (c === separator && !quoted) { parts.push(current); current = ''; continue; }
    current += c;
  }
  parts.push(current);
  return parts;
}

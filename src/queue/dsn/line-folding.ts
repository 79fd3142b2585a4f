// Keeping the lines of a generated message within RFC 5322 §2.1.1: at most
// 998 octets each (CRLF not counted), and preferably at most 78. Header
// fields are folded (§2.2.3: CRLF inserted before existing white space, so
// unfolding gives the value back); body text is wrapped between words.

/** RFC 5322 §2.1.1 "MUST": octets on a line, CRLF excluded. */
export const MAX_LINE_OCTETS = 998;
/** RFC 5322 §2.1.1 "SHOULD": where folding and wrapping aim. */
export const PREFERRED_LINE_OCTETS = 78;

const octets = (text: string): number => Buffer.byteLength(text, 'utf8');
const isBlank = (text: string): boolean => /^[ \t]*$/.test(text);

/** Cuts text into pieces of at most `max` octets, never inside a character. */
export function splitByOctets(text: string, max: number): string[] {
  const pieces: string[] = [];
  let piece = '';
  let size = 0;
  for (const char of text) {
    const n = octets(char);
    if (size + n > max && piece !== '') {
      pieces.push(piece);
      piece = '';
      size = 0;
    }
    piece += char;
    size += n;
  }
  pieces.push(piece);
  return pieces;
}

/**
 * One header field, folded, with its CRLF. A field body is one logical line
 * (§2.2), so a stray CR, LF or other control character becomes a space.
 * Folds before white space to stay near 78 octets; a run without white space
 * longer than 998 octets is broken anyway (CRLF SP inserted), the only way
 * to keep the line limit for such a value.
 */
export function foldField(name: string, value: string): string {
  const clean = value.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, ' ');
  const [first = '', ...rest] = ` ${clean}`.split(/(?=[ \t])/);
  const lines: string[] = [];
  let line = `${name}:${first}`;
  for (const chunk of rest) {
    // A line of white space alone is not a valid continuation (§3.2.2): keep going.
    if (octets(line + chunk) <= PREFERRED_LINE_OCTETS || isBlank(line)) {
      line += chunk;
    } else {
      lines.push(line);
      line = chunk;
    }
  }
  lines.push(line);
  return lines.flatMap(breakLongLine).join('\r\n') + '\r\n';
}

/** A folded line still over the limit: break it; each continuation starts with a space. */
function breakLongLine(line: string): string[] {
  if (octets(line) <= MAX_LINE_OCTETS) return [line];
  const [head = ''] = splitByOctets(line, MAX_LINE_OCTETS);
  const tail = splitByOctets(line.slice(head.length), MAX_LINE_OCTETS - 1).map((piece) => ` ${piece}`);
  return [head, ...tail];
}

/**
 * Wraps one paragraph into lines of at most `width` octets, breaking
 * between words; every line starts with `indent`. A word too long for a
 * line stands alone, cut only where it passes 998 octets.
 */
export function wrapText(text: string, width: number = PREFERRED_LINE_OCTETS, indent = ''): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const candidate = line === '' ? indent + word : `${line} ${word}`;
    if (line === '' || octets(candidate) <= width) {
      line = candidate;
    } else {
      lines.push(line);
      line = indent + word;
    }
  }
  lines.push(line);
  return lines.flatMap((l) => splitByOctets(l, MAX_LINE_OCTETS));
}

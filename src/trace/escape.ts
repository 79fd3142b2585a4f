// Whatever a peer sends is shown in a transcript, and nothing it sends may
// break the layout: a CR, LF or ESC would start a new line or rewrite the
// terminal. Each control, format or separator character is written as an
// escape (\r, \n, \t, \xHH, \uHHHH), so the reader still sees what came.

const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\\]/gu;
const NAMED: Readonly<Record<string, string>> = { '\r': '\\r', '\n': '\\n', '\t': '\\t', '\\': '\\\\' };

export function escapeForTranscript(text: string): string {
  return text.replace(NOT_PRINTABLE, (ch) => {
    const named = NAMED[ch];
    if (named) return named;
    const code = ch.codePointAt(0)!;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

// Text a client chose (EHLO names, MAIL and RCPT arguments) is written to the
// log and echoed in replies. Neither may carry it as it came: an ESC sequence
// rewrites the terminal that shows the log, a NUL or BEL upsets log tools, and
// a line or paragraph separator (U+2028, U+2029, NEL) splits one log entry
// into two, the second one forged. Like Postfix, each such character becomes
// '?'. Printable UTF-8 (an RFC 6531 address) is kept.

// C0 and C1 controls with DEL (Cc: NUL, BEL, ESC, CR, LF, NEL…), format
// characters (Cf: bidirectional overrides, which reorder what a reader sees),
// the line and paragraph separators (Zl, Zp), lone surrogates and private use.
const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}]/gu;

/** `text` with every non-printable character replaced by '?'. */
export function printable(text: string): string {
  return text.replace(NOT_PRINTABLE, '?');
}

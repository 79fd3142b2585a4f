// xtext (RFC 3461 §4): how DSN parameter values (ENVID, ORCPT) and AUTH=
// (RFC 4954 §5) carry any octet on the command line: "+" and two upper-case
// hex digits stand for one octet; "+", "=", controls and space must be so written.

/** RFC 3461 §4: xtext = *( xchar / hexchar ). */
export const XTEXT = /^(?:[\x21-\x2A\x2C-\x3C\x3E-\x7E]|\+[0-9A-F]{2})+$/;

export function decodeXtext(value: string): string {
  return value.replace(/\+([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** "+", "=", controls, space and non-ASCII octets (as UTF-8) become +XX. */
export function encodeXtext(value: string): string {
  return [...Buffer.from(value, 'utf8')].map((octet) =>
    octet >= 0x21 && octet <= 0x7e && octet !== 0x2b && octet !== 0x3d
      ? String.fromCharCode(octet)
      : `+${octet.toString(16).toUpperCase().padStart(2, '0')}`).join('');
}

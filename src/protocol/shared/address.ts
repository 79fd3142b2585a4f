// Paths and mailboxes as MAIL FROM and RCPT TO carry them (RFC 5321 §4.1.2),
// with the UTF-8 extension of RFC 6531 §3.3. This file judges syntax and
// length only. Relay policy must judge by `domain`: the final domain, after
// any source route has been dropped here (RFC 5321 §3.6.1; RFC 2505 §2.1).

import { isIPv6 } from 'node:net';
import { domainToASCII } from 'node:url';
import { reply, ReplyError, type ReplyName } from '../../reply-codes/index.js';

export type Path =
  | { kind: 'null' }
  | { kind: 'postmaster' }
  | {
      kind: 'mailbox';
      /** As on the wire: a Dot-string, or a Quoted-string with its quotes; case kept (RFC 5321 §2.4). */
      localPart: string;
      /** As written, case kept: a domain, or an address literal with its brackets. */
      domain: string;
      /** localPart@domain: the mailbox without its source route. */
      address: string;
      /** Set when the domain is an address literal (RFC 5321 §4.1.3); `ip` is in canonical form. */
      literal?: { family: 4 | 6; ip: string };
    };

export type PathRole = 'sender' | 'recipient';

export interface PathOptions {
  /** The transaction declared SMTPUTF8 (RFC 6531 §3.4): non-ASCII addresses are allowed. */
  readonly utf8: boolean;
  /**
   * Only the RFC 5321 §4.1.2 form, "<mailbox>" (smtp.strictEnvelopes). When
   * false, as Postfix's strict_rfc821_envelopes = no, a mailbox without its
   * angle brackets and a domain with one trailing dot are accepted too.
   */
  readonly strict: boolean;
}

type Mailbox = Extract<Path, { kind: 'mailbox' }>;

/** Octet limits: RFC 5321 §4.5.3.1.1–3; a DNS label, RFC 1035 §2.3.4. */
const MAX_OCTETS = { localPart: 64, domain: 255, path: 256, label: 63 } as const;

const SYNTAX_ERROR: Record<PathRole, ReplyName> = {
  sender: 'badSenderSyntax',
  recipient: 'badRecipientSyntax',
};

// "<>" is a reverse-path only (§4.1.1.2); "<Postmaster>" a forward-path only (§4.1.1.3).
const KINDS_ALLOWED: Record<PathRole, ReadonlySet<Path['kind']>> = {
  sender: new Set(['null', 'mailbox']),
  recipient: new Set(['postmaster', 'mailbox']),
};

const ANY_NON_ASCII = /[^\x00-\x7F]/;

// UTF8-non-ascii (RFC 6531 §3.3). U+FFFD is left out: the line reader puts it
// where the bytes were not valid UTF-8, so it never stands for what was sent.
const UTF8_NON_ASCII = String.raw`[^\x00-\x7F\uFFFD]`;
// atext (RFC 5322 §3.2.3, used by RFC 5321 §4.1.2); \x60 is the backquote.
const ATOM = String.raw`(?:[\w!#$%&'*+\-/=?^\x60{|}~]|${UTF8_NON_ASCII})+`;
const DOT_STRING = new RegExp(String.raw`^${ATOM}(?:\.${ATOM})*$`);
// qtextSMTP and quoted-pairSMTP (RFC 5321 §4.1.2).
const QUOTED_STRING = new RegExp(
  String.raw`^"(?:[\x20\x21\x23-\x5B\x5D-\x7E]|${UTF8_NON_ASCII}|\\[\x20-\x7E])*"$`);
const LDH_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;
const U_LABEL_CHARACTERS = new RegExp(String.raw`^(?:[A-Za-z0-9-]|${UTF8_NON_ASCII})+$`);
const IPV4_LITERAL = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const IPV6_LITERAL = /^IPv6:([0-9A-Fa-f:.]+)$/i;
const POSTMASTER = /^postmaster$/i;

/**
 * Parses the `<...>` path of MAIL FROM or RCPT TO (unless `strict`, also the
 * forms readLenientPath takes).
 * Throws a ReplyError: 553 5.6.7 for a non-ASCII path without SMTPUTF8
 * (judged first, RFC 6531 §3.4), else 501 5.1.7 (sender) or 501 5.1.3
 * (recipient) for any syntax or length problem.
 */
export function parsePath(text: string, role: PathRole, options: PathOptions): Path {
  if (!options.utf8 && ANY_NON_ASCII.test(text)) throw new ReplyError(reply('nonAsciiAddress'));
  const path = options.strict ? readPath(text) : readLenientPath(text);
  if (path === null || !KINDS_ALLOWED[role].has(path.kind)) {
    throw new ReplyError(reply(SYNTAX_ERROR[role]));
  }
  return path;
}

/** The lower-cased domain of "local@domain": the part after the last '@'; '' if there is none. */
export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at === -1 ? '' : address.slice(at + 1).toLowerCase();
}

/**
 * Splits what follows "FROM:" or "TO:" into the path and the ESMTP
 * parameters. The path ends at the first '>' outside a quoted string (a
 * quoted local part may hold spaces and '>'); one separating space is
 * dropped. Anything glued to the '>' stays with the path, which then fails
 * to parse, rather than being read as a parameter.
 */
export function splitPathAndParams(rest: string): { pathText: string; paramsText: string } {
  const end = pathEnd(rest);
  const after = rest.slice(end);
  return { pathText: rest.slice(0, end), paramsText: after.startsWith(' ') ? after.slice(1) : after };
}

function pathEnd(text: string): number {
  let i = 0;
  while (i < text.length && text[i] !== ' ') {
    if (text[i] === '"') {
      const close = quotedStringEnd(text, i);
      if (close === -1) return text.length;
      i = close;
    } else if (text[i++] === '>') {
      break;
    }
  }
  while (i < text.length && text[i] !== ' ') i++;
  return i;
}

/** Index just past the quoted string that opens at `start`, or -1 if it never closes. */
function quotedStringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i + 1;
  }
  return -1;
}

function readPath(text: string): Path | null {
  if (octets(text) > MAX_OCTETS.path || !text.startsWith('<') || !text.endsWith('>')) return null;
  const inner = text.slice(1, -1);
  if (inner === '') return { kind: 'null' };
  if (POSTMASTER.test(inner)) return { kind: 'postmaster' };
  const mailbox = withoutSourceRoute(inner);
  return mailbox === null ? null : readMailbox(mailbox);
}

/**
 * What printers, scanners and old mailers send, read the way Postfix's
 * default (strict_rfc821_envelopes = no) reads it:
 * - "user@example.org" without angle brackets: read as if they were there,
 *   so it must be one whole path, exactly what the brackets would hold; a
 *   phrase, a comment, a second address or a stray bracket still fails;
 * - "user@example.org." with one trailing dot on the domain (the root of the
 *   DNS, RFC 1034 §3.1), which is dropped here, so that relay policy, DNS and
 *   the envelope all see the same name.
 */
function readLenientPath(text: string): Path | null {
  if (text === '') return null;
  return readPath(withoutTrailingDot(text.startsWith('<') ? text : `<${text}>`));
}

/** "<u@example.org.>" → "<u@example.org>"; anything else unchanged, to pass or fail as it is. */
function withoutTrailingDot(path: string): string {
  const root = /@[^@\]]*[^.\]]\.>$/;
  return root.test(path) ? `${path.slice(0, -2)}>` : path;
}

/**
 * Source routes ("@a,@b:" before the mailbox) MUST be accepted and SHOULD
 * be ignored (RFC 5321 §4.1.2, §3.6.1, appendix C): their domains are
 * checked, then they are dropped. Returns null when the route is malformed.
 */
function withoutSourceRoute(inner: string): string | null {
  if (!inner.startsWith('@')) return inner;
  const colon = inner.indexOf(':');
  if (colon === -1) return null;
  const hops = inner.slice(0, colon).split(',');
  return hops.every((hop) => hop.startsWith('@') && isDomain(hop.slice(1))) ? inner.slice(colon + 1) : null;
}

function readMailbox(text: string): Mailbox | null {
  // The local part is opaque (§2.3.11): an '@' inside quotes is part of it;
  // an unquoted second '@' lands in the domain and fails there.
  const at = text.startsWith('"') ? quotedStringEnd(text, 0) : text.indexOf('@');
  if (at <= 0 || text[at] !== '@') return null;
  const localPart = text.slice(0, at);
  const domain = text.slice(at + 1);
  if (!isLocalPart(localPart) || octets(domain) > MAX_OCTETS.domain) return null;
  const address = `${localPart}@${domain}`;
  if (!domain.startsWith('[')) return isDomain(domain) ? { kind: 'mailbox', localPart, domain, address } : null;
  const literal = readAddressLiteral(domain);
  return literal === null ? null : { kind: 'mailbox', localPart, domain, address, literal };
}

function isLocalPart(text: string): boolean {
  return octets(text) <= MAX_OCTETS.localPart && (DOT_STRING.test(text) || QUOTED_STRING.test(text));
}

/** Dot-separated labels; no empty label, so no leading, trailing or double dot. */
export function isDomain(text: string): boolean {
  return text.split('.').every(isLabel);
}

function isLabel(label: string): boolean {
  return ANY_NON_ASCII.test(label) ? isULabel(label) : label.length <= MAX_OCTETS.label && LDH_LABEL.test(label);
}

/**
 * A label with UTF-8 (RFC 6531 §3.3 allows U-labels): letters, digits,
 * hyphens and non-ASCII characters, no hyphen at either end, and an A-label
 * (RFC 5890 §2.3.2.1) that is itself a valid LDH label.
 */
function isULabel(label: string): boolean {
  if (!U_LABEL_CHARACTERS.test(label) || label.startsWith('-') || label.endsWith('-')) return false;
  const aLabel = domainToASCII(label);
  return aLabel.length <= MAX_OCTETS.label && LDH_LABEL.test(aLabel);
}

/** `[1.2.3.4]` or `[IPv6:...]` (RFC 5321 §4.1.3). */
export function isAddressLiteral(text: string): boolean {
  return text.startsWith('[') && readAddressLiteral(text) !== null;
}

/** `[1.2.3.4]` or `[IPv6:...]`; other general literals are refused (RFC 5321 §4.1.3). */
function readAddressLiteral(text: string): { family: 4 | 6; ip: string } | null {
  if (!text.endsWith(']')) return null;
  const inner = text.slice(1, -1);
  const v4 = IPV4_LITERAL.exec(inner);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    return parts.every((n) => n <= 255) ? { family: 4, ip: parts.join('.') } : null;
  }
  const v6 = IPV6_LITERAL.exec(inner);
  if (!v6 || !isIPv6(v6[1]!)) return null;
  return { family: 6, ip: canonicalIPv6(v6[1]!) };
}

/** One spelling per address, as the WHATWG URL parser writes it: lower case, longest zero run compressed, embedded IPv4 in hex. */
function canonicalIPv6(ip: string): string {
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
}

function octets(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

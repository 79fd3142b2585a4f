// The DKIM-Signature header field (RFC 6376 §3.5) and how it is computed
// (§3.7): the body hash bh= over the canonical body, then the signature b=
// over the signed header fields and this field itself with an empty b=.
// c=relaxed/relaxed always; l= never (a length limit lets anyone append
// text under our signature, RFC 6376 §8.2).

import { createHash, sign } from 'node:crypto';
import { relaxedHeader } from './canonicalization.js';
import type { HeaderField } from './header-section.js';
import type { DkimKey } from './dkim-keys.js';

/**
 * The fields signed when present (RFC 6376 §5.4.1's list, without the
 * Received: and trace fields that relays add on the way).
 */
export const SIGNED_FIELDS = [
  'from', 'sender', 'reply-to', 'subject', 'date', 'message-id', 'to', 'cc',
  'mime-version', 'content-type', 'content-transfer-encoding', 'content-id', 'content-description',
  'resent-date', 'resent-from', 'resent-sender', 'resent-to', 'resent-cc', 'resent-message-id',
  'in-reply-to', 'references',
  'list-id', 'list-help', 'list-unsubscribe', 'list-unsubscribe-post', 'list-subscribe', 'list-post', 'list-owner', 'list-archive',
];

/**
 * Named once more than they occur ("over-signed", RFC 6376 §8.15): a From:,
 * To: or Subject: added after signing then breaks the signature instead of
 * being shown to the reader as if signed.
 */
export const OVERSIGNED_FIELDS = new Set(['from', 'to', 'subject']);

/** The h= list: each signed field name once per occurrence, plus one for the over-signed ones. */
export function signedFieldNames(fields: readonly HeaderField[]): string[] {
  const names: string[] = [];
  for (const name of SIGNED_FIELDS) {
    const count = fields.filter((f) => f.name.toLowerCase() === name).length;
    const times = count + (OVERSIGNED_FIELDS.has(name) ? 1 : 0);
    for (let i = 0; i < times; i++) names.push(name);
  }
  return names;
}

/**
 * RFC 6376 §5.4.2: for each name in h=, the last occurrence not yet used,
 * going up from the bottom; a name with none left contributes nothing.
 */
export function signedHeaderText(fields: readonly HeaderField[], names: readonly string[]): string {
  const used = new Set<HeaderField>();
  let text = '';
  for (const name of names) {
    const field = [...fields].reverse().find((f) => f.name.toLowerCase() === name && !used.has(f));
    if (!field) continue;
    used.add(field);
    text += relaxedHeader(field.text);
  }
  return text;
}

export function bodyHash(canonicalBody: Buffer | string): string {
  return createHash('sha256').update(typeof canonicalBody === 'string' ? Buffer.from(canonicalBody, 'latin1') : canonicalBody).digest('base64');
}

export interface SignatureInput {
  key: DkimKey;
  fields: readonly HeaderField[];
  /** bh=: base64 SHA-256 of the relaxed canonical body. */
  bodyHash: string;
  /** t=: seconds since the epoch. */
  timestamp: number;
}

/** The complete DKIM-Signature field, folded, without the final CRLF. */
export function dkimSignatureField(input: SignatureInput): string {
  const { key, fields } = input;
  const names = signedFieldNames(fields);
  const unsigned = foldTags([
    'v=1', `a=${key.algorithm}`, 'c=relaxed/relaxed', `d=${key.domain}`, `s=${key.selector}`, `t=${input.timestamp}`,
    `h=${names.join(':')}`, `bh=${input.bodyHash}`, 'b=',
  ]);
  const signedText = signedHeaderText(fields, names) + relaxedHeader(unsigned).replace(/\r\n$/, '');
  return unsigned + foldValue(signatureOf(key, Buffer.from(signedText, 'latin1')));
}

/**
 * rsa-sha256: RSASSA-PKCS1-v1_5 over SHA-256 (RFC 6376 §3.3.1).
 * ed25519-sha256: PureEdDSA over the SHA-256 hash of the data (RFC 8463 §3).
 */
function signatureOf(key: DkimKey, data: Buffer): string {
  if (key.algorithm === 'ed25519-sha256') {
    return sign(null, createHash('sha256').update(data).digest(), key.privateKey).toString('base64');
  }
  return sign('sha256', data, key.privateKey).toString('base64');
}

const FOLD = '\r\n\t';
const LINE_OCTETS = 76;

/**
 * "DKIM-Signature: " and the tags, folded between tags (and after the colons
 * of a long h=) so that lines stay short (RFC 5322 §2.1.1). Folding
 * whitespace is allowed there and vanishes in relaxed canonicalization.
 */
function foldTags(tags: string[]): string {
  let text = 'DKIM-Signature:';
  let line = text.length;
  for (const [i, tag] of tags.entries()) {
    const piece = ` ${tag}${i < tags.length - 1 ? ';' : ''}`;
    for (const word of splitLong(piece)) {
      const fold = line + word.length > LINE_OCTETS && line > 1;
      const written = fold ? word.trimStart() : word;
      if (fold) {
        text += FOLD;
        line = 1;
      }
      text += written;
      line += written.length;
    }
  }
  return text;
}

/** An h= value splits after its colons; other tags stay whole. */
function splitLong(piece: string): string[] {
  if (piece.length <= LINE_OCTETS - 1 || !piece.startsWith(' h=')) return [piece];
  return piece.split(/(?<=:)/);
}

/** The b= value, on lines of its own (its folding whitespace is no part of it, RFC 6376 §3.5). */
function foldValue(value: string): string {
  return FOLD + (value.match(/.{1,72}/g) ?? []).join(FOLD);
}

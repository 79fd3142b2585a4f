// A reply as it travels between the SMTP layers: a basic code, an optional
// enhanced status code (RFC 3463) and one or more lines of text.

import { printable } from '../protocol/shared/printable.js';

export interface Reply {
  /** Three-digit basic code (RFC 5321 §4.2). */
  readonly code: number;
  /** Enhanced status code "class.subject.detail" (RFC 3463), when the reply has one. */
  readonly enhanced?: string;
  /** Text lines; a reply with several lines is sent as a multi-line reply. */
  readonly lines: readonly string[];
}

/** The four families of replies, by first digit (RFC 5321 §4.2.1). */
export type ReplyClass = 'positive' | 'intermediate' | 'transient' | 'permanent';

/**
 * Unknown codes are judged by their first digit (RFC 5321 §4.2, §4.3.2).
 * A first digit outside 2–5 is a protocol violation by the peer; we treat it
 * as a transient failure so the mail is retried rather than lost.
 */
export function classOf(code: number): ReplyClass {
  switch (Math.floor(code / 100)) {
    case 2: return 'positive';
    case 3: return 'intermediate';
    case 5: return 'permanent';
    default: return 'transient';
  }
}

export const isPositive = (r: Reply): boolean => classOf(r.code) === 'positive';
export const isTransient = (r: Reply): boolean => classOf(r.code) === 'transient';
export const isPermanent = (r: Reply): boolean => classOf(r.code) === 'permanent';

/**
 * Wire form of a reply (RFC 5321 §4.2.1): every line but the last is
 * "code-text", the last "code SP text", the same code on each. The enhanced
 * code, when present, starts the text of every line (RFC 2034 §4). Text
 * may echo the client's words, so it is made printable (see printable.ts).
 */
export function formatReply(reply: Reply): string {
  const lines = reply.lines.length > 0 ? reply.lines : [''];
  const prefix = reply.enhanced ? `${reply.enhanced} ` : '';
  return lines
    // No trimming: "334 " with an empty challenge keeps its space (RFC 4954 §4).
    .map((text, i) => `${reply.code}${i < lines.length - 1 ? '-' : ' '}${prefix}${printable(text)}\r\n`)
    .join('');
}

/** One-line rendering for logs and DSN Diagnostic-Code fields. */
export function replyToString(reply: Reply): string {
  const prefix = reply.enhanced ? `${reply.enhanced} ` : '';
  return `${reply.code} ${prefix}${reply.lines.join(' ')}`.trimEnd();
}

/**
 * An error that carries the reply to send for it. Parsers and checks throw
 * it (or return it as a value) so the reply is decided where the rule lives.
 */
export class ReplyError extends Error {
  constructor(readonly reply: Reply) {
    super(replyToString(reply));
    this.name = 'ReplyError';
  }
}

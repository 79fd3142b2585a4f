// `minimta explain`: what a reply code means, which RFCs define it, when
// minimta sends it and what a client should do. Everything comes from the
// reply table (replies.ts) and the general meanings (status-meanings.ts), the
// same data the transcripts annotate replies with.

import { REPLIES, type ReplyDefinition, type ReplyName } from './replies.js';
import { BASIC_CLASSES, BASIC_CODES, basicMeaning, enhancedMeaning, enhancedRfc } from './status-meanings.js';

/** What was asked: a basic code, an enhanced code, or both (from a reply line). */
export interface CodeQuery {
  readonly code?: number;
  readonly enhanced?: string;
}

export class ExplainError extends Error {
  override name = 'ExplainError';
}

const REPLY_LINE = /^([2-5][0-9]{2})(?:[ -]+(?:([245]\.[0-9]{1,3}\.[0-9]{1,3})(?:\s|$))?.*)?$/s;
const ENHANCED_ONLY = /^([245]\.[0-9]{1,3}\.[0-9]{1,3})$/;

/** Reads "556", "5.1.10" or a whole reply line "556 5.1.10 text…". */
export function parseCodeQuery(text: string): CodeQuery {
  const query = text.trim();
  const enhancedOnly = ENHANCED_ONLY.exec(query);
  if (enhancedOnly) return { enhanced: enhancedOnly[1]! };
  const line = REPLY_LINE.exec(query);
  if (!line) throw new ExplainError(`"${query.slice(0, 80)}" is not a reply code: give a code (556), an enhanced code (5.1.10) or a reply line ("556 5.1.10 ...")`);
  return line[2] ? { code: Number(line[1]), enhanced: line[2] } : { code: Number(line[1]) };
}

/** The table's entries for a query: both codes must match where both are given. */
export function repliesMatching(query: CodeQuery): ReplyName[] {
  return (Object.keys(REPLIES) as ReplyName[]).filter((name) => {
    const def: ReplyDefinition = REPLIES[name];
    return (query.code === undefined || def.code === query.code)
      && (query.enhanced === undefined || def.enhanced === query.enhanced);
  });
}

/**
 * One line for a reply as seen in a transcript:
 * "Domain does not accept mail; 5.1.10 Permanent failure: Recipient address has null MX".
 */
export function describeReply(reply: CodeQuery): string {
  const parts: string[] = [];
  if (reply.code !== undefined) parts.push(basicMeaning(reply.code));
  if (reply.enhanced !== undefined) parts.push(`${reply.enhanced} ${enhancedMeaning(reply.enhanced) ?? 'unknown enhanced code'}`);
  return parts.join('; ');
}

/** The text `minimta explain` prints for a query, as lines. */
export function explain(text: string): string[] {
  const query = parseCodeQuery(text);
  const out: string[] = [];
  if (query.code !== undefined) {
    const basic = BASIC_CODES[query.code];
    out.push(`${query.code}  ${basicMeaning(query.code)}${basic ? `  (${basic.rfc})` : ''}`);
    out.push(`     ${BASIC_CLASSES[String(query.code)[0]!]} (RFC 5321 §4.2.1)`);
  }
  if (query.enhanced !== undefined) {
    const rfc = enhancedRfc(query.enhanced);
    out.push(`${query.enhanced}  ${enhancedMeaning(query.enhanced)}${rfc ? `  (${rfc})` : ''}`);
  }
  let names = repliesMatching(query);
  // A reply line with an enhanced code minimta never pairs with it: show the code's own uses.
  if (names.length === 0 && query.code !== undefined && query.enhanced !== undefined) names = repliesMatching({ code: query.code });
  out.push('');
  if (names.length === 0) {
    out.push('minimta never sends this code; a client reads it by its first digit (RFC 5321 §4.2.1, RFC 3463 §3.1).');
    return out;
  }
  out.push(names.length === 1 ? 'minimta uses it in one reply:' : `minimta uses it in ${names.length} replies:`);
  for (const name of names) out.push('', ...describeEntry(name));
  return out;
}

function describeEntry(name: ReplyName): string[] {
  const def: ReplyDefinition = REPLIES[name];
  const enhanced = def.enhanced ? `${def.enhanced} ` : '';
  const lines = [`  ${def.code} ${enhanced}${def.text}   [${name}]`];
  if (def.enhanced) lines.push(`    enhanced: ${enhancedMeaning(def.enhanced)}`);
  lines.push(`    defined:  ${def.rfc}`);
  lines.push(`    when:     ${def.when}`);
  lines.push(`    client:   ${def.advice}`);
  return lines;
}

// What a next hop offers, read from its EHLO reply (RFC 5321 §4.1.1.1): after
// the first line, one keyword per line with optional parameters, keywords
// case-insensitive. After HELO nothing is offered (RFC 5321 §4.1.1.3: never
// send a parameter that EHLO did not advertise).

import type { Reply } from '../../reply-codes/index.js';

export interface ServerExtensions {
  /** 'EHLO' when the extension list below is in force, 'HELO' when none is. */
  readonly greetedWith: 'EHLO' | 'HELO';
  /** Upper-case keyword → its parameters, as advertised. */
  readonly keywords: ReadonlyMap<string, readonly string[]>;
}

export const AFTER_HELO: ServerExtensions = { greetedWith: 'HELO', keywords: new Map() };

export function parseEhloReply(ehlo: Reply): ServerExtensions {
  const keywords = new Map<string, readonly string[]>();
  for (const line of ehlo.lines.slice(1)) {
    const [keyword, ...params] = line.trim().split(/\s+/);
    if (keyword) keywords.set(keyword.toUpperCase(), params);
  }
  return { greetedWith: 'EHLO', keywords };
}

export function offers(extensions: ServerExtensions, keyword: string): boolean {
  return extensions.keywords.has(keyword.toUpperCase());
}

/**
 * The fixed maximum message size the host announced (RFC 1870 §3 item 3: "SIZE 0",
 * a bare "SIZE", or an unreadable number announce no limit).
 */
export function announcedSizeLimit(extensions: ServerExtensions): number | undefined {
  const params = extensions.keywords.get('SIZE');
  const limit = params?.[0] !== undefined && /^[0-9]+$/.test(params[0]) ? Number(params[0]) : 0;
  return limit > 0 ? limit : undefined;
}

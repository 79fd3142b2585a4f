// Which messages a test author asks for: by recipient, sender, subject and
// arrival time. Text matches are case-insensitive substrings, so
// `to: "bob@"` and `to: "example.net"` both work.

export interface MessageFilter {
  to?: string;
  from?: string;
  subject?: string;
  /** Only messages that arrived at or after this time. */
  since?: string | Date;
}

export interface FilterableMessage {
  from: string;
  to: string[];
  subject?: string;
  arrivedAt: string;
}

const contains = (text: string | undefined, part: string): boolean =>
  (text ?? '').toLowerCase().includes(part.toLowerCase());

export function matchesFilter(message: FilterableMessage, filter: MessageFilter): boolean {
  if (filter.to !== undefined && !message.to.some((to) => contains(to, filter.to!))) return false;
  if (filter.from !== undefined && !contains(message.from, filter.from)) return false;
  if (filter.subject !== undefined && !contains(message.subject, filter.subject)) return false;
  if (filter.since !== undefined && Date.parse(message.arrivedAt) < new Date(filter.since).getTime()) return false;
  return true;
}

/** A filter from URL query parameters (the HTTP API); unknown parameters are the caller's business. */
export function filterFromQuery(query: URLSearchParams): MessageFilter {
  const filter: MessageFilter = {};
  for (const key of ['to', 'from', 'subject', 'since'] as const) {
    const value = query.get(key);
    if (value !== null && value !== '') filter[key] = value;
  }
  if (filter.since !== undefined && Number.isNaN(new Date(filter.since).getTime())) {
    throw new RangeError(`since: not a date: ${JSON.stringify(filter.since)}`);
  }
  return filter;
}

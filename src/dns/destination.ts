// Where mail for a domain goes, as found in DNS: the answer of
// DestinationResolver.resolveDestination, and what the RCPT check (null MX,
// RFC 7505 §4.1) and the delivery worker (RFC 5321 §5.1) act on.

/** One next-hop host with the addresses to try, IPv4 first, then IPv6. */
export interface MxHost {
  /** The MX exchange, lower case, no trailing dot; an address literal as written, e.g. "[192.0.2.1]". */
  name: string;
  preference: number;
  addresses: string[];
  /** The port to connect to, when delivery.routes says (otherwise delivery.port). */
  port?: number;
}

export type Destination =
  /** Hosts in the order to try. implicit: the domain has no MX, so it is its own host (RFC 5321 §5.1). */
  | { kind: 'hosts'; hosts: MxHost[]; implicit: boolean }
  /** RFC 7505 §3: exactly one MX, preference 0, exchange "." — the domain takes no mail. */
  | { kind: 'null-mx' }
  /** NXDOMAIN, an invalid name, or no MX and no A/AAAA either. */
  | { kind: 'no-such-domain'; detail: string }
  /** MX records exist but none can be used: RFC 5321 §5.1 makes that an error, never a fallback to A/AAAA. */
  | { kind: 'no-usable-mx'; detail: string }
  /** Our own host is in the MX list with nothing more preferred (RFC 5321 §5.1). */
  | { kind: 'loops-to-self'; detail: string }
  /** SERVFAIL, timeout, refused…: ask again later. */
  | { kind: 'temporary'; detail: string };

export type DestinationKind = Destination['kind'];

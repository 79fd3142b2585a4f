// Delivery to one destination: the recipients of one message that share a
// domain (or the smarthost). Find the next hop in DNS, then try each address
// of each host in order until one takes the message (RFC 5321 §5.1: every
// address of a host, then the next host), and turn what happened into one
// outcome per recipient. The chain, one name per unit:
//   worker.deliverMessage (message) → deliverToDestination (destination)
//   → deliverToHost (host, src/protocol/client/) → ClientSession (session)

import { classOf, reply, replyToString, type Reply } from '../../reply-codes/index.js';
import type { ClientTimeouts, DeliveryRequest, DeliveryResult } from '../../protocol/client/smtp-client.js';
import type { Destination, MxHost } from '../../dns/destination.js';
import type { DestinationSecurity } from '../../mta-sts/tls-policy.js';
import type { WireRecorder } from '../../trace/recorder.js';
import { formatDestination } from '../../dns/format.js';

export type OutcomeKind = 'delivered' | 'deferred' | 'failed';

export interface RecipientOutcome {
  address: string;
  kind: OutcomeKind;
  reply: Reply;
  /** The next hop that gave the reply, for Remote-MTA (RFC 3464 §2.3.5). */
  remoteMta?: string;
  /** "host[ip]:port", or "none" when no host was reached. */
  relay: string;
  /** The sender's DSN request went on to the next hop, which now owes the notices (RFC 3461 §5.2.2). */
  dsnPassedOn?: boolean;
}

export interface DestinationTarget {
  /** A domain (lower case), or the smarthost's host name. */
  destination: string;
  recipients: string[];
  sender: string;
  size: number;
  body: '7BIT' | '8BITMIME';
  smtputf8: boolean;
  openMessage: () => AsyncIterable<Buffer>;
  /** The message's queue id (names its transcript). */
  queueId?: string;
  /** The sender's DSN parameters, for `recipients` in order (RFC 3461). */
  dsn?: DeliveryRequest['dsn'];
}

export interface DestinationDeps {
  /** The next hops for a domain (MX, null MX, implicit MX…). */
  findHosts: (destination: string) => Promise<Destination>;
  /** One host: a session to it (new or reused) and one transaction. */
  deliverToHost: (request: DeliveryRequest) => Promise<DeliveryResult>;
  port: number;
  heloName: string;
  timeouts?: Partial<ClientTimeouts>;
  /** STARTTLS use toward the next hop (RFC 3207); implicit for a port-465 smarthost. */
  tls: NonNullable<DeliveryRequest['tls']>;
  /** Credentials for the smarthost (RFC 4954). */
  auth?: DeliveryRequest['auth'];
  /**
   * The TLS policy of a destination (delivery.tlsPolicies, MTA-STS, "verify":
   * src/mta-sts/tls-policy.ts): which of its hosts, and how. Absent: `tls` for every host.
   */
  secure?: (destination: string, hosts: MxHost[]) => Promise<DestinationSecurity>;
  /** Extra trusted CA certificates (PEM, tls.caFile) for verified TLS. */
  tlsCa?: string;
  /** Tracing (src/trace/): a transcript for one delivery attempt of a message. */
  trace?: (queueId: string, destination: string) => WireRecorder;
}

/** How the connections to one destination's hosts use TLS. */
interface HostTls {
  tls: NonNullable<DeliveryRequest['tls']>;
  verify: boolean;
}

export async function deliverToDestination(target: DestinationTarget, deps: DestinationDeps): Promise<RecipientOutcome[]> {
  const recorder = target.queueId ? deps.trace?.(target.queueId, target.destination) : undefined;
  const outcomes = await findAndTry(target, deps, recorder);
  for (const o of outcomes) recorder?.note(`outcome: <${o.address}> ${o.kind} via ${o.relay}: ${replyToString(o.reply)}`);
  recorder?.end(outcomes[0]?.kind ?? 'nothing to do');
  return outcomes;
}

async function findAndTry(target: DestinationTarget, deps: DestinationDeps, recorder?: WireRecorder): Promise<RecipientOutcome[]> {
  const destination = await deps.findHosts(target.destination);
  const domain = target.destination;
  for (const line of formatDestination(destination, domain)) recorder?.note(`DNS ${line}`);
  switch (destination.kind) {
    case 'hosts': {
      const security = deps.secure ? await deps.secure(domain, destination.hosts) : undefined;
      if (security?.kind === 'defer') return everyone(target, 'deferred', security.reply);
      const hostTls = security ? { tls: security.tls, verify: security.verify } : { tls: deps.tls, verify: false };
      return tryHosts(target, security?.hosts ?? destination.hosts, hostTls, deps, recorder);
    }
    // RFC 7505 §4.1: a null MX fails at once: no connection, no retry.
    case 'null-mx': return everyone(target, 'failed', reply('dnsNullMx', { domain }));
    case 'no-such-domain': return everyone(target, 'failed', reply('dnsNoSuchDomain', { domain }));
    case 'no-usable-mx': return everyone(target, 'failed', reply('dnsNoUsableMx', { domain }));
    case 'loops-to-self': return everyone(target, 'failed', reply('mxLoopsToSelf', { domain }));
    case 'temporary': return everyone(target, 'deferred', reply('dnsTemporary', { domain, detail: destination.detail }));
  }
}

/**
 * A 5xx greeting (a 521 host, RFC 7504 §3) or a failure to connect moves on
 * to the next host. When every host refused with 5xx, the recipients fail
 * with the last refusal; when any failed only for now, they are deferred.
 */
async function tryHosts(target: DestinationTarget, hosts: MxHost[], hostTls: HostTls, deps: DestinationDeps, recorder?: WireRecorder): Promise<RecipientOutcome[]> {
  let lastTemporary: { reply: Reply; relay: string; host: string } | undefined;
  let lastPermanent: { reply: Reply; relay: string; host: string } | undefined;
  for (const host of hosts) {
    for (const address of host.addresses) {
      const port = host.port ?? deps.port;
      const relay = relayName(host.name, address, port);
      recorder?.note(`connecting to ${relay} (MX ${host.preference} ${host.name}; RFC 5321 §5.1: lowest preference first)`);
      const result = await deps.deliverToHost({
        recorder,
        host: host.name,
        address,
        port,
        heloName: deps.heloName,
        sender: target.sender,
        recipients: target.recipients,
        message: target.openMessage,
        size: target.size,
        body: target.body,
        smtputf8: target.smtputf8,
        timeouts: deps.timeouts,
        tls: hostTls.tls,
        tlsVerify: hostTls.verify,
        tlsCa: deps.tlsCa,
        dsn: target.dsn,
        auth: deps.auth,
      });
      if (result.kind === 'session') {
        return result.recipients.map((r) => ({
          address: r.address, kind: kindOf(r.reply), reply: r.reply, remoteMta: host.name, relay,
          ...(result.dsnPassedOn ? { dsnPassedOn: true } : {}),
        }));
      }
      const failure = { reply: result.reply, relay, host: host.name };
      recorder?.note(`${relay} did not take the message (at ${result.stage}): ${replyToString(result.reply)}`);
      // A sender refused at MAIL is about this message, not about the host.
      if (result.stage === 'mail' && classOf(result.reply.code) === 'permanent') {
        return everyone(target, 'failed', result.reply, relay, host.name);
      }
      if (classOf(result.reply.code) === 'permanent') {
        lastPermanent = failure;
        break; // this host refuses mail: its other addresses would say the same
      }
      lastTemporary = failure;
    }
  }
  if (lastTemporary) return everyone(target, 'deferred', lastTemporary.reply, lastTemporary.relay, lastTemporary.host);
  if (lastPermanent) return everyone(target, 'failed', lastPermanent.reply, lastPermanent.relay, lastPermanent.host);
  return everyone(target, 'deferred', reply('connectFailed', { host: target.destination, detail: 'no address to connect to' }));
}

function kindOf(r: Reply): OutcomeKind {
  switch (classOf(r.code)) {
    case 'positive': return 'delivered';
    case 'permanent': return 'failed';
    default: return 'deferred';
  }
}

function everyone(target: DestinationTarget, kind: OutcomeKind, r: Reply, relay = 'none', remoteMta?: string): RecipientOutcome[] {
  return target.recipients.map((address) => ({ address, kind, reply: r, relay, remoteMta }));
}

function relayName(host: string, address: string, port: number): string {
  return `${host}[${address}]:${port}`;
}

/** The log form of an outcome, Postfix style. */
export function describeOutcome(outcome: RecipientOutcome, delaySeconds: number): string {
  const status = outcome.kind === 'delivered' ? 'sent' : outcome.kind === 'deferred' ? 'deferred' : 'bounced';
  return `to=<${outcome.address}>, relay=${outcome.relay}, delay=${delaySeconds.toFixed(2)}, status=${status} (${replyToString(outcome.reply)})`;
}

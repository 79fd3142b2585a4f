// What minimta counts, and where each count comes from. The message counts
// are read off the MTA events stream (src/inbox/mta-events.ts); connections,
// DNS verdicts and TLS come through small hooks the wiring (src/mta.ts)
// passes to the server, the resolver and the delivery client.

import { MetricsRegistry, type GaugeSample } from './registry.js';
import type { MtaEvent, MtaEvents } from '../inbox/mta-events.js';
import type { QueueListing } from '../queue/spool/queue-admin.js';
import type { Envelope } from '../queue/spool/envelope.js';
import { queueIdTime } from '../queue/spool/queue-id.js';

export type RefusalReason = 'max_connections' | 'max_connections_per_ip';
export type InboundTlsMode = 'starttls' | 'implicit';

/** From a second to a day: mail waits in a queue for minutes and hours, not milliseconds. */
export const LATENCY_BUCKETS_SECONDS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600];

/** The queue gauge's states: queued (not tried yet), deferred (tried, waiting), held, captured, corrupt (unreadable). */
export interface QueueCounts {
  queued: number;
  deferred: number;
  held: number;
  captured: number;
  corrupt: number;
}

export interface MtaMetricsSources {
  events: MtaEvents;
  /** How many messages are in each state of the queue, read at each scrape. */
  countQueue: () => Promise<QueueCounts>;
  /** Open SMTP connections right now. */
  openConnections: () => number;
  now?: () => number;
}

export class MtaMetrics {
  readonly registry = new MetricsRegistry();
  private readonly connections = this.registry.counter('minimta_connections_total', 'SMTP connections accepted.');
  private readonly refused = this.registry.counter('minimta_connections_refused_total', 'SMTP connections refused with 421 for a connection limit.', ['reason']);
  private readonly received = this.registry.counter('minimta_messages_received_total', 'Messages accepted into the queue (250 after DATA).');
  private readonly outcomes = this.registry.counter('minimta_recipient_outcomes_total', 'Delivery attempts per recipient, by outcome: delivered, deferred or bounced.', ['outcome']);
  private readonly latency = this.registry.histogram(
    'minimta_delivery_latency_seconds', 'Time from a message entering the queue to its delivery, per delivered recipient.', LATENCY_BUCKETS_SECONDS);
  private readonly dnsLookups = this.registry.counter('minimta_dns_lookups_total', 'Mail destination lookups (MX, then A/AAAA), by verdict; null-mx is RFC 7505.', ['verdict']);
  private readonly tlsInbound = this.registry.counter('minimta_tls_inbound_total', 'Inbound SMTP connections that established TLS, by STARTTLS or implicitly.', ['mode']);
  private readonly outbound = this.registry.counter('minimta_outbound_transactions_total', 'Transactions with next hops that reached a session, by whether it was under TLS.', ['tls']);
  private readonly now: () => number;

  constructor(sources: MtaMetricsSources) {
    this.now = sources.now ?? Date.now;
    this.registry.gauge('minimta_connections_current', 'SMTP connections open now.', () => [{ value: sources.openConnections() }]);
    this.registry.gauge('minimta_queue_messages', 'Messages in the queue, by state (counted at each scrape).', () => queueSizes(sources.countQueue));
    // Every known series starts at 0, so a scrape (and a rate()) sees them before the first event.
    for (const outcome of ['delivered', 'deferred', 'bounced']) this.outcomes.inc({ outcome }, 0);
    for (const reason of ['max_connections', 'max_connections_per_ip']) this.refused.inc({ reason }, 0);
    for (const mode of ['starttls', 'implicit']) this.tlsInbound.inc({ mode }, 0);
    for (const tls of ['yes', 'no']) this.outbound.inc({ tls }, 0);
    const { events } = sources;
    events.on('received', () => this.received.inc());
    events.on('delivered', (event) => this.delivered(event));
    events.on('deferred', () => this.outcomes.inc({ outcome: 'deferred' }));
    events.on('bounced', () => this.outcomes.inc({ outcome: 'bounced' }));
  }

  connectionAccepted(): void {
    this.connections.inc();
  }

  connectionRefused(reason: RefusalReason): void {
    this.refused.inc({ reason });
  }

  dnsVerdict(verdict: string): void {
    this.dnsLookups.inc({ verdict });
  }

  tlsEstablished(mode: InboundTlsMode): void {
    this.tlsInbound.inc({ mode });
  }

  outboundTransaction(underTls: boolean): void {
    this.outbound.inc({ tls: underTls ? 'yes' : 'no' });
  }

  render(): Promise<string> {
    return this.registry.render();
  }

  private delivered(event: MtaEvent): void {
    this.outcomes.inc({ outcome: 'delivered' });
    // The queue id carries the time it was made, when the message was received: no state kept here.
    if (event.id) this.latency.observe(Math.max(0, this.now() - queueIdTime(event.id).getTime()) / 1000);
  }
}

/** Every state is shown, at 0 too, so a scrape can tell an empty queue from a missing metric. */
async function queueSizes(countQueue: () => Promise<QueueCounts>): Promise<GaugeSample[]> {
  const counts = await countQueue();
  return Object.entries(counts).map(([state, value]) => ({ labels: { state }, value }));
}

/** The counts of a queue listing (`minimta queue list`), for a relay whose worker does not run. */
export function countListing({ envelopes, corrupt }: QueueListing): QueueCounts {
  const counts: QueueCounts = { queued: 0, deferred: 0, held: 0, captured: 0, corrupt: corrupt.length };
  for (const envelope of envelopes) counts[stateOf(envelope)]++;
  return counts;
}

/** queued: not tried yet; deferred: tried and waiting to be tried again. */
function stateOf(envelope: Envelope): 'queued' | 'deferred' | 'held' | 'captured' {
  if (envelope.capture) return 'captured';
  if (envelope.held) return 'held';
  return envelope.attempts > 0 ? 'deferred' : 'queued';
}

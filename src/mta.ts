// The running relay: the pieces wired together from a Config. `minimta serve`
// calls startMta; the integration tests call it too, with port 0.
//
//   SmtpServer ─(session, RelayPolicy ─ DNS)─▶ Spool ─▶ QueueWorker ─(DNS, client)─▶ next hop
//                                                 ▲              └─ failures ─▶ bounces ─┘

import { resolve } from 'node:path';
import { SmtpServer, type BoundListener, type ServerOptions } from './protocol/server/server.js';
import { deliverToHost, SessionCache, type ClientTimeouts } from './protocol/client/smtp-client.js';
import { RelayPolicy } from './policy/relay-policy.js';
import { Spool, checkSpoolOwnership } from './queue/spool/spool.js';
import { spoolStore, type SpoolStoreOptions } from './queue/spool/message-store.js';
import type { MessageStore } from './protocol/server/session.js';
import { checkCredentials } from './auth/credentials.js';
import { senderOwned } from './auth/sender-binding.js';
import { QueueWorker, type FailureReporter } from './queue/delivery/worker.js';
import { LiveQueue } from './queue/delivery/live-queue.js';
import { BounceQueue } from './queue/dsn/bounce-queue.js';
import { DestinationResolver } from './dns/index.js';
import { httpAddress, limitsOf, postmasterAddress, type Config } from './config.js';
import { matchesAny, parseCidr } from './policy/cidr.js';
import { routedDestinations } from './queue/delivery/next-hop-routes.js';
import { withFaults } from './faults/faulty-session.js';
import { HttpApi } from './http/http-server.js';
import { FaultRules } from './faults/fault-engine.js';
import { checkFaultRules } from './faults/fault-rule.js';
import { printableLogger, type Logger } from './log.js';
import { loadTlsCredentials } from './tls-context.js';
import { ControlServer, assertSpoolFree } from './control/control-server.js';
import { controlSocketPath } from './control/control-protocol.js';
import { QueueAdmin, type QueueOperations } from './queue/spool/queue-admin.js';
import { DkimSigner } from './dkim/signer.js';
import { OutboundSigning } from './dkim/outbound-signing.js';
import { loadDkimKeys } from './dkim/dkim-config.js';
import { OutboundTls } from './mta-sts/tls-policy.js';
import { mtaStsPolicies } from './mta-sts/policies-from-config.js';
import type { DestinationDeps } from './queue/delivery/destination.js';
import { readFileSync } from 'node:fs';
import { MtaEvents } from './inbox/mta-events.js';
import { Mailbox } from './inbox/mailbox.js';
import type { RecipientOutcome } from './queue/delivery/destination.js';
import type { Envelope } from './queue/spool/envelope.js';
import { replyToString } from './reply-codes/index.js';
import { createSpoolFor, dropPrivileges, lookupUser } from './privileges.js';
import { TraceStore } from './trace/trace-store.js';
import { formatDestination } from './dns/index.js';
import { MtaMetrics, countListing } from './metrics/mta-metrics.js';
import { MetricsServer } from './metrics/metrics-server.js';

export interface RunningMta {
  listeners: BoundListener[];
  spool: Spool;
  server: SmtpServer;
  worker: QueueWorker;
  resolver: DestinationResolver;
  /** The queue operations (list, show, flush, retry, delete, purge, hold, release). */
  queue: QueueOperations;
  /** Messages received, delivered, deferred, bounced, deleted. */
  events: MtaEvents;
  /** The spool as a test author reads it (the JS API and the HTTP API). */
  mailbox: Mailbox;
  /** The HTTP API and web inbox, when configured. */
  http?: HttpApi;
  /** What is counted (src/metrics/), served at /metrics on the HTTP API and on `http.metrics`. */
  metrics: MtaMetrics;
  /** The dedicated metrics listener, when `http.metrics` is set. */
  metricsServer?: MetricsServer;
  /** The fault rules in force (config `faults`; changed at run time by the APIs). */
  faults: FaultRules;
  /**
   * Stops: no new connections, idle sessions get 421 4.3.2, transactions and
   * deliveries in flight get up to `graceMs` to finish. The spool is the
   * truth, so whatever is cut off is simply tried again after a restart.
   */
  stop(graceMs?: number): Promise<void>;
  /** Applies a new config where that can be done without a restart (SIGHUP). */
  reload(config: Config): string[];
  /** Transcripts (config trace): the ring of recent sessions, for the HTTP API; absent when tracing is off. */
  trace?: TraceStore;
}

export interface MtaParts {
  /** Where failed recipients are reported; by default, bounces to the sender. */
  failures?: FailureReporter;
  /** Run the delivery worker (default true); off, mail only accumulates in the spool. */
  deliver?: boolean;
  /** Envelopes the worker keeps in memory between tries, at most (WorkerOptions.keptEnvelopes). */
  keptEnvelopes?: number;
  /** The delivery worker's clock (WorkerOptions.now); the system's by default. Tests use one that steps back. */
  now?: () => Date;
  /** The longest new mail waits for a client's disk wait while clients are connected (WorkerOptions.newMailWaitMs). */
  newMailWaitMs?: number;
}

const ms = (seconds: number): number => Math.round(seconds * 1000);

export async function startMta(config: Config, logTo: Logger, parts: MtaParts = {}): Promise<RunningMta> {
  // Log lines quote client text: escaped once here, whatever writes them.
  const log = printableLogger(logTo);
  // Read while still root: the key may be readable by root only.
  const tls = config.tls?.cert ? loadTlsCredentials(config.tls) : undefined;
  // Transcripts are stored in the spool directory; the store writes only when a session is traced.
  const trace = config.trace.enabled || config.trace.live
    ? new TraceStore({ ...config.trace, spoolDir: config.trace.enabled ? resolve(config.spool) : undefined })
    : undefined;
  const events = new MtaEvents();
  // Counted as things happen; the queue and the open connections are read at each scrape.
  // The running worker counts its schedule in memory; without it the spool is listed.
  const metrics = new MtaMetrics({
    events,
    countQueue: async () => delivering ? { ...worker.sizes(), corrupt: worker.unreadableEntries().length } : countListing(await queue.list()),
    openConnections: () => server.connectionCount,
  });
  const resolver = new DestinationResolver({
    servers: config.dns.servers,
    timeoutMs: ms(config.dns.timeout),
    tries: 2,
    cacheTtlMs: ms(config.dns.cacheTtl),
    localNames: [config.hostname],
    log,
    zones: config.dns.zones,
    verdict: (kind) => metrics.dnsVerdict(kind),
  });
  const faults = new FaultRules(checkFaultRules(config.faults), config.hostname);
  faults.onFired = (decision, stage) => events.publish({
    type: 'fault',
    rule: decision.rule.description,
    ...(decision.reply ? { reply: replyToString(decision.reply) } : {}),
    stage,
  });
  // DKIM (RFC 6376): our users' mail and our bounces are signed before they are queued.
  // The keys are read here, while still root: they may be readable by root only.
  const dkim = dkimSigning(config, log);
  // The listeners are bound first (ports below 1024 need root), the spool is
  // opened after the switch to `user`: a message that arrives in between
  // waits for it here.
  let spoolReady: (spool: Spool) => void = () => undefined;
  const openedSpool = new Promise<Spool>((resolve) => { spoolReady = resolve; });
  const received = (envelope: Envelope): void => {
    worker.queued(envelope);
    events.publish({ type: 'received', id: envelope.id });
  };
  const server = new SmtpServer({
    hostname: config.hostname,
    postmaster: postmasterAddress(config),
    listeners: config.listen.map((listener) => {
      const { host, port, mode, refuse, tls: listenerTls } = listener;
      return { host, port, mode, refuse, tls: listenerTls, authRequired: listener.auth === 'required', ...(listener.limits ? { limits: limitsOf(config, listener) } : {}) };
    }),
    limits: limitsOf(config),
    exemptFromPerIpLimit: inNetworks(config.relay.networks),
    tls,
    auth: authOf(config),
    strictEnvelopes: config.smtp.strictEnvelopes,
    trace: trace && {
      store: trace,
      // Only where the policy asks DNS too (dns.checkSenders, dns.checkRecipients).
      describeDomain: async (domain: string, role: 'sender' | 'recipient') =>
        (role === 'sender' ? config.dns.checkSenders : config.dns.checkRecipients)
          ? formatDestination(await resolver.resolveDestination(domain), domain)
          : [],
    },
    bareNewline: config.smtp.bareNewline,
    // A committed message wakes the worker and is announced; a captured one is never delivered.
    // Our users' mail is DKIM-signed on its way into the spool (src/dkim/).
    store: storeOnceOpen(openedSpool, { committed: received, signing: dkim }),
    captureStore: storeOnceOpen(openedSpool, { capture: true, committed: received }),
    policy: policyFor(config, resolver),
    log,
    // Fault rules (src/faults/) act around every session, at this one seam.
    decorateSession: (makeSession, store, site) => withFaults(makeSession, store, faults, site),
    observer: {
      accepted: () => metrics.connectionAccepted(),
      refused: (reason) => metrics.connectionRefused(reason),
      tlsEstablished: (mode) => metrics.tlsEstablished(mode),
    },
  });
  const listeners = await server.listen();
  const spool = await openSpoolAsUser(config, log).catch(async (err: unknown) => { await server.close(); throw err; });
  const bounces = new BounceQueue({
    spool, hostname: config.hostname, log, queued: (envelope) => worker.queued(envelope),
    sign: dkim && ((message, id) => dkim.signOwn(message, id)),
  });
  // Sessions to next hops kept open between messages (connection reuse).
  const sessions = new SessionCache();
  const worker: QueueWorker = new QueueWorker({
    spool,
    retry: {
      retrySchedule: config.delivery.retrySchedule,
      maxQueueLifetime: config.delivery.maxQueueLifetime,
      bounceLifetime: config.delivery.bounceLifetime,
    },
    delayWarning: config.delivery.delayWarning > 0 ? config.delivery.delayWarning : undefined,
    concurrency: config.delivery.concurrency,
    // Clients first when the relay is saturated (src/queue/delivery/saturation.ts).
    clientReads: () => server.clientReads,
    clientsConnected: () => server.connectionCount,
    pollIntervalMs: ms(config.delivery.pollInterval),
    smarthost: config.smarthost?.host,
    destination: {
      findHosts: config.smarthost ? (host) => resolver.resolveHost(host) : routedDestinations(config.delivery.routes, resolver),
      deliverToHost: async (request) => {
        const result = await deliverToHost(request, sessions);
        if (result.kind === 'session') metrics.outboundTransaction(result.tls !== undefined);
        return result;
      },
      trace: trace && ((queueId: string, destination: string) => {
        const transcript = trace.open('outbound', `${destination}, message ${queueId}`);
        transcript.queued(queueId);
        return transcript;
      }),
      port: config.smarthost?.port ?? config.delivery.port,
      heloName: config.hostname,
      timeouts: clientTimeouts(config),
      tls: config.smarthost?.tls ?? (config.delivery.tls === 'verify' ? 'required' : config.delivery.tls),
      // Toward MX hosts (not a smarthost): delivery.tlsPolicies, MTA-STS and delivery.tls decide (src/mta-sts/).
      secure: config.smarthost ? undefined : secureDestinations(config, resolver, log),
      tlsCa: config.tls?.caFile ? readFileSync(config.tls.caFile, 'utf8') : undefined,
      auth: config.smarthost?.username !== undefined && config.smarthost.password !== undefined
        ? { username: config.smarthost.username, password: config.smarthost.password }
        : undefined,
    },
    failures: parts.failures ?? bounces,
    log,
    keptEnvelopes: parts.keptEnvelopes,
    now: parts.now,
    newMailWaitMs: parts.newMailWaitMs,
  });
  worker.on('attempted', (id, outcomes) => publishOutcomes(events, id, outcomes));
  const delivering = parts.deliver ?? true;
  // Without delivery the worker's schedule is never loaded: the commands work on the spool.
  const queue: QueueOperations = delivering ? new LiveQueue(spool, worker) : new QueueAdmin(spool, { wake: () => undefined });
  // The queue commands' way in (src/control/); a second relay on this spool stops here.
  const control = await ControlServer.start({
    socketPath: controlSocketPath(spool.dir),
    queue,
    log,
  }).catch(async (err: unknown) => { await server.close(); throw err; });
  spoolReady(spool);
  const mailbox = new Mailbox(spool, queue, events);
  let stopping = false;
  const render = () => metrics.render();
  const http = config.http?.listen !== undefined
    ? await HttpApi.start({ ...httpAddress(config.http.listen), token: config.http.token, mailbox, queue, events, faults, trace, spoolDir: spool.dir, ready: () => !stopping, metrics: render, log })
      .catch(async (err: unknown) => { await control.close(); await server.close(); throw err; })
    : undefined;
  const metricsServer = config.http?.metrics !== undefined
    ? await MetricsServer.start({ ...httpAddress(config.http.metrics, 'http.metrics'), token: config.http.token, render, log })
      .catch(async (err: unknown) => { await http?.close(); await control.close(); await server.close(); throw err; })
    : undefined;
  // The spool is read in the background: the listeners already greet.
  if (delivering) {
    // New mail starts while a client waits for the disk (src/queue/delivery/new-mail-start.ts).
    spool.onClientWaitsForDisk(() => worker.clientWaitsForDisk());
    void worker.start();
  }
  return {
    listeners,
    spool,
    server,
    worker,
    resolver,
    queue,
    events,
    mailbox,
    http,
    metrics,
    metricsServer,
    faults,
    trace,
    reload(next: Config) {
      // Fault rules from the file apply at once, replacing those set through the APIs.
      faults.set(checkFaultRules(next.faults));
      return reloadInto(config, next, server, policyFor(next, resolver), log);
    },
    async stop(graceMs = 0) {
      stopping = true;
      await control.close();
      await http?.close();
      await metricsServer?.close();
      await Promise.all([server.close(graceMs), worker.stop(graceMs)]);
      await sessions.close();
      await spool.close();
    },
  };
}

/** relay.networks are exempt from the per-address connection limit, as Postfix exempts $mynetworks. */
function inNetworks(networks: string[]): (ip: string) => boolean {
  const blocks = networks.map(parseCidr);
  return (ip) => matchesAny(ip, blocks);
}

function policyFor(config: Config, resolver: DestinationResolver): RelayPolicy {
  return new RelayPolicy({
    networks: config.relay.networks,
    domains: config.relay.domains,
    localDomains: [config.hostname],
    resolver,
    checkRecipients: config.dns.checkRecipients,
    checkSenders: config.dns.checkSenders,
  });
}

/** AUTH is offered when users are configured; each exchange is checked against them. */
function authOf(config: Config): ServerOptions['auth'] {
  const users = config.auth?.users ?? {};
  if (!config.auth || Object.keys(users).length === 0) return undefined;
  const senders = config.auth.senders;
  return {
    authenticate: (credentials) => checkCredentials(users, credentials),
    requireTls: config.auth.requireTls,
    ...(senders ? { senderOwned: (user: string, sender: string) => senderOwned(senders, user, sender) } : {}),
  };
}

/**
 * SIGHUP: relay access, users, the certificate and the limits apply to new
 * connections at once. Listeners, the spool, the host name and delivery
 * settings are read at start only: the returned notes say which changed.
 */
function reloadInto(current: Config, next: Config, server: SmtpServer, policy: RelayPolicy, log: Logger): string[] {
  server.reconfigure({
    policy,
    auth: authOf(next),
    tls: next.tls?.cert ? loadTlsCredentials(next.tls) : undefined,
    limits: limitsOf(next),
    exemptFromPerIpLimit: inNetworks(next.relay.networks),
    bareNewline: next.smtp.bareNewline,
    postmaster: postmasterAddress(next),
  });
  const needRestart = (['listen', 'spool', 'hostname', 'dns', 'delivery', 'smarthost', 'dkim', 'http'] as const)
    .filter((key) => JSON.stringify(current[key]) !== JSON.stringify(next[key]));
  const notes = needRestart.map((key) => `config key "${key}" changed: it takes effect at the next restart`);
  for (const note of notes) log('main', note);
  log('main', 'configuration reloaded: relay access, users, certificate and limits now apply to new connections');
  return notes;
}

const EVENT_OF_OUTCOME = { delivered: 'delivered', failed: 'bounced', deferred: 'deferred' } as const;

function publishOutcomes(events: MtaEvents, id: string, outcomes: RecipientOutcome[]): void {
  for (const outcome of outcomes) {
    events.publish({ type: EVENT_OF_OUTCOME[outcome.kind], id, recipient: outcome.address, reply: replyToString(outcome.reply) });
  }
}

/**
 * Becomes `user` when one is set (creating a missing spool for it first),
 * then checks whose spool it is, then opens it. The ownership check comes
 * before anything else touches the spool: a control socket in a planted
 * spool may be anyone's.
 */
async function openSpoolAsUser(config: Config, log: Logger): Promise<Spool> {
  if (config.user !== undefined) {
    const target = lookupUser(config.user);
    if (process.geteuid?.() === 0) await createSpoolFor(config.spool, target);
    const now = dropPrivileges({ user: config.user, group: config.group });
    log('main', `running as user ${config.user} (uid ${now.uid}, gid ${now.gid})`);
  }
  await checkSpoolOwnership(config.spool);
  // Before the spool is opened (which clears tmp/): a relay already on it keeps it.
  await assertSpoolFree(config.spool);
  const { spool, cleaned, upgraded } = await Spool.open(config.spool);
  // A relay receives message after message: each DATA finds its file made.
  spool.keepSpareTmpFile();
  if (!config.trace.enabled) spool.storesNoTranscripts();
  for (const id of upgraded.converted) log('queue', 'converted from the previous release\'s spool layout', id);
  for (const { id, error } of upgraded.failed) log('queue', `not converted, left in upgrade/${id}: ${error.message}`, id);
  if (cleaned > 0) log('queue', `removed ${cleaned} leftover(s) of interrupted receipts from ${config.spool}`);
  return spool;
}

/** spoolStore on the spool once it is open: a message that comes earlier waits for it. */
function storeOnceOpen(openedSpool: Promise<Spool>, options: SpoolStoreOptions): MessageStore {
  return { begin: async () => spoolStore(await openedSpool, options).begin() };
}

function secureDestinations(config: Config, resolver: DestinationResolver, log: Logger): DestinationDeps['secure'] {
  const outbound = new OutboundTls({
    level: config.delivery.tls,
    perDomain: config.delivery.tlsPolicies,
    mtaSts: config.delivery.mtaSts ? mtaStsPolicies(config, resolver, log) : undefined,
    log,
  });
  return (domain, hosts) => outbound.forDestination(domain, hosts);
}

function dkimSigning(config: Config, log: Logger): OutboundSigning | undefined {
  const keys = loadDkimKeys(config.dkim);
  return keys.length > 0 ? new OutboundSigning(new DkimSigner(keys), config.relay.networks, log) : undefined;
}

/** RFC 5321 §4.5.3.2: one timeout per command; "command" covers EHLO, MAIL, RCPT and DATA. */
function clientTimeouts(config: Config): Partial<ClientTimeouts> {
  const t = config.delivery.timeouts;
  return {
    connectMs: ms(t.connect),
    greetingMs: ms(t.greeting),
    ehloMs: ms(t.command),
    mailMs: ms(t.command),
    rcptMs: ms(t.command),
    dataInitMs: ms(t.command),
    dataBlockMs: ms(t.dataBlock),
    dataEndMs: ms(t.dataEnd),
    quitMs: Math.min(ms(t.command), 10_000),
  };
}

// The SMTP listeners: accept connections, apply the connection limits, and
// give each connection its own Session. A failure inside one session is
// answered 421 and closed there; it never reaches the process.

import net from 'node:net';
import tls from 'node:tls';
import { formatReply, reply, type Reply } from '../../reply-codes/index.js';
import { SmtpConnection, type ConnectionLimits, type ConnectionSession } from './connection.js';
import type { Limits } from './limits.js';
import type { BareNewlinePolicy } from './line-reader.js';
import type { TraceStore } from '../../trace/trace-store.js';
import { tracedPolicy, type DomainDescriber } from '../../trace/traced-policy.js';
import type { WireRecorder } from '../../trace/recorder.js';
import { ACCEPT_ALL, Session, type ListenerMode, type MessageStore, type SessionDeps, type SessionPolicy, type SessionSettings } from './session.js';
import type { Logger } from '../../log.js';
import { MIN_TLS_VERSION, type TlsCredentials } from '../../tls-context.js';

/** How long a client refused for a connection limit may keep the connection before it is cut. */
const REFUSAL_LINGER_MS = 2000;

export interface ListenerOptions {
  host: string;
  port: number;
  mode: ListenerMode;
  refuse: 'close' | 'stay';
  /** STARTTLS offered (RFC 3207), or TLS from the first byte (RFC 8314). */
  tls: 'none' | 'starttls' | 'implicit';
  /** A submission listener (RFC 6409, RFC 8314): MAIL only after AUTH, AUTH only under TLS. */
  authRequired?: boolean;
  /** This listener's own limits; by default the server's. */
  limits?: Limits;
}

export interface ServerOptions {
  hostname: string;
  postmaster: string;
  listeners: ListenerOptions[];
  limits: Limits;
  /** Where relay listeners put what they accept. */
  store: MessageStore;
  /** Where capture listeners put what they accept: kept, never delivered. */
  captureStore: MessageStore;
  policy: SessionPolicy;
  log: Logger;
  /** Certificate and key for STARTTLS and implicit-TLS listeners. */
  tls?: TlsCredentials;
  /** AUTH (RFC 4954): how credentials are checked; absent, AUTH is not offered. */
  auth?: { authenticate: SessionDeps['authenticate']; requireTls: boolean; senderOwned?: SessionDeps['senderOwned'] };
  /** Wraps every session (the fault rules for tests, src/faults/); absent, the session is used as it is. */
  decorateSession?: SessionDecorator;
  /** Clients never held to limits.maxConnectionsPerIp (relay.networks, as Postfix exempts $mynetworks). */
  exemptFromPerIpLimit?: (ip: string) => boolean;
  /** smtp.strictEnvelopes: MAIL and RCPT paths only with angle brackets. */
  strictEnvelopes?: boolean;
  /** smtp.bareNewline: a bare LF refused (default) or taken as CRLF. */
  bareNewline?: BareNewlinePolicy;
  /** Transcripts (config trace): where they go, and how DNS verdicts are described in them. */
  trace?: { store: TraceStore; describeDomain?: DomainDescriber };
  /** Told of connections accepted and refused, and TLS established (the metrics, src/metrics/). */
  observer?: ConnectionObserver;
}

export interface ConnectionObserver {
  accepted(): void;
  refused(reason: 'max_connections' | 'max_connections_per_ip'): void;
  tlsEstablished(mode: 'starttls' | 'implicit'): void;
}

/** Where a session runs, for a decorator that acts on the connection itself. */
export interface SessionSite {
  clientIp: string;
  listenerPort: number;
  /** Ends the connection at once, with no reply. */
  drop: () => void;
}

/**
 * Builds the connection's session around the real one: `makeSession` makes
 * the real session on the store it is given, so the decorator can also stand
 * between the session and its store.
 */
export type SessionDecorator = (makeSession: (store: MessageStore) => ConnectionSession, store: MessageStore, site: SessionSite) => ConnectionSession;

export interface BoundListener extends ListenerOptions {
  /** The port actually bound (differs from `port` when that was 0). */
  boundPort: number;
}

export class SmtpServer {
  private readonly servers: net.Server[] = [];
  private readonly connections = new Set<SmtpConnection>();
  /**
   * Connections counted per listener: a crowd on one (a relay listener
   * under load) never uses up the connection slots of another (a refuse
   * listener of the same process must keep answering 521).
   */
  private readonly counts = new Map<ListenerOptions, { connections: number; perIp: Map<string, number> }>();
  private readonly sockets = new Set<net.Socket>();
  /** Connections refused for a limit, between their 421 and their close. */
  private readonly refused = new Set<net.Socket>();
  /** The port each listener is bound to (it differs from its `port` when that was 0). */
  private readonly boundPorts = new Map<ListenerOptions, number>();
  /** Reads made on connections that are closed (clientReads). */
  private readsOfClosed = 0;
  /** What every connection to a listener shares, made at its first connection and again after reconfigure(). */
  private readonly shared = new Map<ListenerOptions, { settings: SessionSettings; connectionLimits: ConnectionLimits }>();

  constructor(private options: ServerOptions) {}

  async listen(): Promise<BoundListener[]> {
    const bound: BoundListener[] = [];
    for (const listener of this.options.listeners) {
      const server = this.createListener(listener);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(listener.port, listener.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', (err) => this.options.log('smtpd', `listener error: ${err.message}`));
      this.servers.push(server);
      const address = server.address() as net.AddressInfo;
      this.boundPorts.set(listener, address.port);
      bound.push({ ...listener, boundPort: address.port });
      this.options.log('smtpd', `listening on ${listener.host}:${address.port} (${listener.mode})`);
    }
    return bound;
  }

  /**
   * Stops listening, answers idle sessions 421 4.3.2, and gives transactions
   * under way up to `graceMs` to finish; then cuts what is left. A message
   * cut off was never answered 250, so nothing accepted is lost.
   */
  async close(graceMs = 0): Promise<void> {
    const closed = Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const socket of this.refused) socket.destroy();
    for (const connection of this.connections) connection.drain();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise((resolve) => { timer = setTimeout(resolve, graceMs); })]);
    clearTimeout(timer);
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** New settings for the connections that come from now on (SIGHUP). */
  reconfigure(changes: Pick<ServerOptions, 'policy' | 'auth' | 'tls' | 'limits' | 'postmaster' | 'bareNewline' | 'exemptFromPerIpLimit'>): void {
    Object.assign(this.options, changes);
    this.shared.clear();
    for (const server of this.servers) {
      if (server instanceof tls.Server && changes.tls) server.setSecureContext({ cert: changes.tls.cert, key: changes.tls.key, minVersion: MIN_TLS_VERSION });
    }
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  /** Reads from clients so far: it grows while clients are sending (the delivery worker's saturation gauge). */
  get clientReads(): number {
    let reads = this.readsOfClosed;
    for (const connection of this.connections) reads += connection.reads;
    return reads;
  }

  private createListener(listener: ListenerOptions): net.Server {
    if (listener.tls !== 'implicit') return net.createServer((socket) => this.accept(socket, listener));
    const server = tls.createServer({
      cert: this.options.tls?.cert,
      key: this.options.tls?.key,
      minVersion: MIN_TLS_VERSION,
      handshakeTimeout: this.options.limits.tlsHandshakeTimeoutMs,
    }, (socket) => this.accept(socket, listener));
    server.on('tlsClientError', (err, socket) => {
      this.options.log('smtpd', `TLS handshake failed with [${socket.remoteAddress ?? 'unknown'}]: ${err.message}`);
    });
    return server;
  }

  private accept(socket: net.Socket, listener: ListenerOptions): void {
    const ip = clientAddress(socket);
    const { hostname, log } = this.options;
    const limits = this.limitsOf(listener);
    const counts = this.countsOf(listener);
    socket.on('error', () => {}); // reported by the connection; a reset here must not crash the process
    // Replies are small and each one is awaited: Nagle would hold them back.
    socket.setNoDelay(true);
    const fromIp = counts.perIp.get(ip) ?? 0;
    const limitReply = counts.connections >= limits.maxConnections ? reply('tooManyConnections', { host: hostname })
      : fromIp >= limits.maxConnectionsPerIp && !this.options.exemptFromPerIpLimit?.(ip) ? reply('tooManyConnectionsFromIp', { host: hostname })
      : undefined;
    if (limitReply) {
      log('smtpd', `reject: connect from [${ip}]: ${limitReply.code} ${limitReply.enhanced} too many connections`);
      this.options.observer?.refused(counts.connections >= limits.maxConnections ? 'max_connections' : 'max_connections_per_ip');
      // The transcripts show refused connections too: a learner sees why a client got 421.
      const transcript = this.options.trace?.store.open('inbound', `[${ip}] (${listener.mode} listener, connection limit)`);
      transcript?.server(limitReply, true);
      transcript?.end('closed: too many connections');
      this.refuse(socket, limitReply);
      return;
    }
    this.sockets.add(socket);
    counts.connections++;
    counts.perIp.set(ip, fromIp + 1);
    const observer = this.options.observer;
    observer?.accepted();
    if (listener.tls === 'implicit') observer?.tlsEstablished('implicit');
    const { settings, connectionLimits } = this.sharedBy(listener, limits);
    const transcript = this.options.trace?.store.open('inbound', `[${ip}] (${listener.mode} listener)`);
    const deps = this.sessionDeps(listener, transcript);
    const makeSession = (store: MessageStore) => new Session(settings, { ip, tls: listener.tls === 'implicit' }, { ...deps, store });
    // The listener's port, known since listen(): socket.localPort would ask the kernel again.
    const site = { clientIp: ip, listenerPort: this.boundPorts.get(listener) ?? 0, drop: () => socket.destroy() };
    const session = this.options.decorateSession ? this.options.decorateSession(makeSession, deps.store, site) : makeSession(deps.store);
    const connection = new SmtpConnection(socket, session, connectionLimits, log, ip, () => {
      this.connections.delete(connection);
      this.readsOfClosed += connection.reads;
      this.sockets.delete(socket);
      counts.connections--;
      const left = (counts.perIp.get(ip) ?? 1) - 1;
      if (left > 0) counts.perIp.set(ip, left);
      else counts.perIp.delete(ip);
    }, this.options.tls?.context, transcript, observer && (() => observer.tlsEstablished('starttls')));
    this.connections.add(connection);
    connection.start();
  }

  /**
   * The 421 for a connection limit (RFC 5321 §3.8), then a real close: the
   * client gets a short while to read it and hang up, and is cut off after
   * that, so a refused client cannot hold a descriptor for as long as it likes.
   */
  private refuse(socket: net.Socket, limitReply: Reply): void {
    this.refused.add(socket);
    const linger = setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS);
    linger.unref();
    socket.once('close', () => {
      clearTimeout(linger);
      this.refused.delete(socket);
    });
    socket.end(formatReply(limitReply));
  }

  /** A capture listener judges no one and keeps what it gets apart from the mail to deliver. */
  private sessionDeps(listener: ListenerOptions, recorder?: WireRecorder): SessionDeps {
    const capture = listener.mode === 'capture';
    const auth = this.options.auth;
    const policy = capture ? ACCEPT_ALL : this.options.policy;
    return {
      policy: recorder && !capture ? tracedPolicy(policy, recorder, this.options.trace?.describeDomain) : policy,
      store: capture ? this.options.captureStore : this.options.store,
      now: () => new Date(),
      authenticate: auth ? auth.authenticate : () => { throw new Error('AUTH is not offered on this server'); },
      ...(auth?.senderOwned ? { senderOwned: auth.senderOwned } : {}),
    };
  }

  private limitsOf(listener: ListenerOptions): Limits {
    return listener.limits ?? this.options.limits;
  }

  private countsOf(listener: ListenerOptions): { connections: number; perIp: Map<string, number> } {
    let counts = this.counts.get(listener);
    if (!counts) this.counts.set(listener, counts = { connections: 0, perIp: new Map() });
    return counts;
  }

  private sharedBy(listener: ListenerOptions, limits: Limits): { settings: SessionSettings; connectionLimits: ConnectionLimits } {
    let shared = this.shared.get(listener);
    if (!shared) {
      const settings = this.sessionSettings(listener, limits);
      const connectionLimits = {
        ...limits,
        maxLineOctets: Session.longestLine(settings),
        idleTimeoutMs: listener.mode === 'refuse' ? limits.refuseIdleTimeoutMs : limits.idleTimeoutMs,
        bareNewline: this.options.bareNewline,
      };
      this.shared.set(listener, shared = { settings, connectionLimits });
    }
    return shared;
  }

  private sessionSettings(listener: ListenerOptions, limits: Limits): SessionSettings {
    return {
      ...limits,
      hostname: this.options.hostname,
      mode: listener.mode,
      refuse: listener.refuse,
      postmaster: this.options.postmaster,
      starttls: listener.tls === 'starttls' && this.options.tls !== undefined,
      auth: this.options.auth !== undefined,
      // A submission listener offers AUTH under TLS only, whatever auth.requireTls says (RFC 8314 §3).
      authRequiresTls: (this.options.auth?.requireTls ?? true) || listener.authRequired === true,
      authRequired: listener.authRequired ?? false,
      strictEnvelopes: this.options.strictEnvelopes ?? false,
    };
  }
}

/** The client's address, IPv4-mapped IPv6 shown as IPv4. */
export function clientAddress(socket: net.Socket): string {
  const ip = socket.remoteAddress ?? 'unknown';
  return ip.startsWith('::ffff:') && net.isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
}

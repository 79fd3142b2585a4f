// The running relay: the pieces wired together from a Config. `minimta serve`
// calls startRelay; the integration tests call it too, with port 0.

import { SmtpServer, type BoundListener } from './protocol/server.js';
import { RelayPolicy } from './policy/relay-policy.js';
import { Spool } from './queue/spool.js';
import { postmasterAddress, type Config } from './config.js';
import type { Logger } from './log.js';
import { loadTlsCredentials } from './tls-context.js';

export interface RunningRelay {
  listeners: BoundListener[];
  spool: Spool;
  server: SmtpServer;
  stop(): Promise<void>;
}

export async function startRelay(config: Config, log: Logger): Promise<RunningRelay> {
  const { spool, cleaned } = await Spool.open(config.spool);
  if (cleaned > 0) log('queue', `removed ${cleaned} leftover(s) of interrupted receipts from ${config.spool}`);
  const policy = new RelayPolicy({
    networks: config.relay.networks,
    domains: config.relay.domains,
    localDomains: [config.hostname],
    checkRecipients: config.dns.checkRecipients,
    checkSenders: config.dns.checkSenders,
    log,
  });
  const ms = (seconds: number): number => Math.round(seconds * 1000);
  const { limits } = config;
  const server = new SmtpServer({
    hostname: config.hostname,
    postmaster: postmasterAddress(config),
    listeners: config.listen.map(({ host, port, mode, refuse, tls }) => ({ host, port, mode, refuse, tls })),
    limits: {
      maxLineOctets: limits.maxLineLength,
      maxMessageSize: limits.maxMessageSize,
      idleTimeoutMs: ms(limits.idleTimeout),
      minDataRate: limits.minDataRate,
      dataGraceMs: ms(limits.dataGracePeriod),
      maxRecipients: limits.maxRecipients,
      maxConnections: limits.maxConnections,
      maxConnectionsPerIp: limits.maxConnectionsPerIp,
      maxErrors: limits.maxErrors,
      softErrorLimit: limits.softErrorLimit,
      errorDelayMs: ms(limits.errorDelay),
      maxJunkCommands: limits.maxJunkCommands,
      maxHops: limits.maxHops,
      refuseIdleTimeoutMs: ms(limits.refuseIdleTimeout),
      refuseMaxCommands: limits.refuseMaxCommands,
      tlsHandshakeTimeoutMs: ms(limits.tlsHandshakeTimeout),
      maxAuthFailures: limits.maxAuthFailures,
    },
    auth: config.auth ? { users: config.auth.users, requireTls: config.auth.requireTls } : undefined,
    tls: config.tls ? loadTlsCredentials(config.tls) : undefined,
    store: { begin: () => spool.beginReceipt() },
    policy,
    log,
  });
  const listeners = await server.listen();
  return {
    listeners,
    spool,
    server,
    async stop() {
      await server.close();
    },
  };
}

// A small world for delivery tests: a test DNS server with the zones a test
// needs, SMTP sinks on 127.0.0.x sharing one port (so several "MX hosts" can
// exist), and a relay that asks that DNS and delivers to that port.

import { TestDnsServer, type Zone } from './dns-server.js';
import { SmtpSink, type SinkBehaviour, type SinkOptions } from './smtp-sink.js';
import { startTestRelay, type ConfigOverrides, type TestRelay } from './test-relay.js';
import { WireClient } from './wire-client.js';
import type { RecipientOutcome } from '../../src/queue/delivery/destination.js';
import type { Reply } from '../../src/reply-codes/index.js';

export interface DeliveryWorld {
  dns: TestDnsServer;
  relay: TestRelay;
  sinks: SmtpSink[];
  port: number;
  /** Starts another sink on this loopback address, on the shared port. */
  addSink(host: string, behaviour?: SinkBehaviour, options?: Omit<SinkOptions, 'host' | 'port' | 'behaviour'>): Promise<SmtpSink>;
  /** Sends one message through the relay; returns the final reply and the queue id. */
  send(sender: string, recipients: string[], body?: string): Promise<{ reply: Reply; id: string }>;
  /** Waits for the worker's `nth` attempt (1 = first) at message `id`; resolves with its outcomes. */
  attempt(id: string, nth?: number, timeoutMs?: number): Promise<Attempt>;
  /** Every attempt so far, by queue id. */
  attempts: Map<string, Attempt[]>;
  stop(): Promise<void>;
}

export interface Attempt {
  outcomes: RecipientOutcome[];
  done: boolean;
}

export const FAST_DELIVERY = {
  retrySchedule: [0.3],
  pollInterval: 0.1,
  timeouts: { connect: 1, greeting: 2, command: 2, dataBlock: 2, dataEnd: 2 },
};

/** `overrides` may depend on the sinks' shared port (a smarthost on it, say). */
export async function startDeliveryWorld(
  zones: Record<string, Zone>,
  configure: ConfigOverrides | ((port: number) => ConfigOverrides) = {},
  parts: Parameters<typeof startTestRelay>[1] = {},
): Promise<DeliveryWorld> {
  const dns = await TestDnsServer.start(zones);
  const first = await SmtpSink.start({ host: '127.0.0.2', name: 'mx1.sink.test' });
  const overrides = typeof configure === 'function' ? configure(first.port) : configure;
  const sinks = [first];
  const relay = await startTestRelay({
    ...overrides,
    dns: { servers: [dns.address], timeout: 0.3, ...(overrides.dns as object | undefined) },
    delivery: { port: first.port, ...FAST_DELIVERY, ...(overrides.delivery as object | undefined) },
  }, parts);
  const clients: WireClient[] = [];
  const attempts = new Map<string, Attempt[]>();
  relay.worker.on('attempted', (id, outcomes, done) => {
    attempts.set(id, [...(attempts.get(id) ?? []), { outcomes, done }]);
  });
  return {
    attempts,
    dns,
    relay,
    sinks,
    port: first.port,
    async addSink(host, behaviour, options = {}) {
      const sink = await SmtpSink.start({ name: `${host}.sink.test`, ...options, host, port: first.port, behaviour });
      sinks.push(sink);
      return sink;
    },
    async send(sender, recipients, body = 'Subject: test\r\n\r\nhello\r\n') {
      const client = await WireClient.connect(relay.port);
      clients.push(client);
      await client.reply();
      await client.command('EHLO client.test');
      const reply = await client.sendMail(sender, recipients, body);
      client.send('QUIT\r\n');
      const id = /queued as (\S+)/.exec(reply.lines[0] ?? '')?.[1] ?? '';
      return { reply, id };
    },
    attempt(id, nth = 1, timeoutMs = 5000) {
      const seen = () => attempts.get(id)?.[nth - 1];
      const already = seen();
      if (already) return Promise.resolve(already);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          relay.worker.off('attempted', listener);
          reject(new Error(`no attempt #${nth} at ${id} within ${timeoutMs} ms (${attempts.get(id)?.length ?? 0} so far)`));
        }, timeoutMs);
        const listener = () => {
          const found = seen();
          if (!found) return;
          clearTimeout(timer);
          relay.worker.off('attempted', listener);
          resolve(found);
        };
        relay.worker.on('attempted', listener);
      });
    },
    async stop() {
      for (const c of clients) c.close();
      await relay.cleanup();
      await Promise.all(sinks.map((s) => s.stop()));
      await dns.stop();
    },
  };
}

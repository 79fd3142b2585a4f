// Starts a whole relay for a test: a temporary spool, listeners on ephemeral
// ports, log lines kept in memory. Stop it in after()/afterEach().

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { defaultConfig, validateConfig, type Config } from '../../src/config.js';
import { startMta, type MtaParts, type RunningMta } from '../../src/mta.js';
import { TestDnsServer, type Zone } from './dns-server.js';

/** The DNS fixtures of docs/test-vectors.md, for relays that bring no DNS of their own. */
export const CHECKLIST_ZONES: Record<string, Zone> = {
  'nullmx.test': { mx: [{ preference: 0, exchange: '.' }] },
  'mixed.test': { mx: [{ preference: 0, exchange: '.' }, { preference: 10, exchange: 'mx.mixed.test' }] },
  'mx.mixed.test': { a: ['127.0.0.1'] },
  'normal.test': { mx: [{ preference: 10, exchange: 'mx.normal.test' }] },
  'mx.normal.test': { a: ['127.0.0.1'] },
  'amx.test': { a: ['127.0.0.1'] },
  'empty.test': {},
  'servfail.test': { rcode: 'SERVFAIL' },
  'badnull.test': { mx: [{ preference: 10, exchange: '.' }] },
};

export interface TestRelay extends RunningMta {
  config: Config;
  /** The DNS server the relay asks, when the test brought none. */
  dns?: TestDnsServer;
  port: number;
  ports: number[];
  logs: string[];
  cleanup(): Promise<void>;
}

export type ConfigOverrides = Record<string, unknown>;

export async function makeTempDir(prefix = 'minimta-test-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/**
 * A relay on ephemeral ports with a temporary spool. Without a `dns` override
 * it asks a test DNS server with those zones; without a `delivery`
 * override its worker does not run (nothing is sent anywhere).
 */
export async function startTestRelay(overrides: ConfigOverrides = {}, parts: Omit<MtaParts, 'deliver'> = {}): Promise<TestRelay> {
  const spool = (overrides.spool as string | undefined) ?? path.join(await makeTempDir(), 'spool');
  const dns = overrides.dns ? undefined : await TestDnsServer.start(structuredClone(CHECKLIST_ZONES));
  const raw = {
    hostname: 'mx.minimta.test',
    listen: [{ host: '127.0.0.1', port: 0, mode: 'relay' }],
    dns: dns ? { servers: [dns.address], timeout: 0.5 } : undefined,
    ...overrides,
    spool,
    limits: { errorDelay: 0, ...(overrides.limits as object | undefined) },
  };
  if (raw.dns === undefined) delete raw.dns;
  const config = validateConfig(raw);
  const logs: string[] = [];
  const relay = await startMta(config, (component, text, id) => logs.push(`${component}: ${id ? `${id}: ` : ''}${text}`), {
    ...parts,
    deliver: overrides.delivery !== undefined,
  });
  return {
    ...relay,
    config,
    dns,
    logs,
    port: relay.listeners[0]!.boundPort,
    ports: relay.listeners.map((l) => l.boundPort),
    async cleanup() {
      await relay.stop();
      await dns?.stop();
      // A delivery cut off by the stop may still be finishing a write.
      await fs.rm(path.dirname(spool), { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    },
  };
}

export { defaultConfig };

// Starts a whole relay for a test: a temporary spool, listeners on ephemeral
// ports, log lines kept in memory. Stop it in after()/afterEach().

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { defaultConfig, validateConfig, type Config } from '../../src/config.js';
import { startRelay, type RunningRelay } from '../../src/relay.js';

export interface TestRelay extends RunningRelay {
  config: Config;
  port: number;
  ports: number[];
  logs: string[];
  cleanup(): Promise<void>;
}

export type ConfigOverrides = Record<string, unknown>;

export async function makeTempDir(prefix = 'minimta-test-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function startTestRelay(overrides: ConfigOverrides = {}): Promise<TestRelay> {
  const spool = (overrides.spool as string | undefined) ?? path.join(await makeTempDir(), 'spool');
  const raw = {
    hostname: 'mx.minimta.test',
    listen: [{ host: '127.0.0.1', port: 0, mode: 'relay' }],
    ...overrides,
    spool,
    limits: { errorDelay: 0, ...(overrides.limits as object | undefined) },
  };
  const config = validateConfig(raw);
  const logs: string[] = [];
  const relay = await startRelay(config, (component, text, id) => logs.push(`${component}: ${id ? `${id}: ` : ''}${text}`));
  return {
    ...relay,
    config,
    logs,
    port: relay.listeners[0]!.boundPort,
    ports: relay.listeners.map((l) => l.boundPort),
    async cleanup() {
      await relay.stop();
      await fs.rm(path.dirname(spool), { recursive: true, force: true });
    },
  };
}

export { defaultConfig };

import { expect } from 'chai';
import net from 'node:net';
import path from 'node:path';
import fs from 'node:fs/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { WireClient } from './helpers/wire-client.js';
import { makeTempDir, startTestRelay, type TestRelay } from './helpers/test-relay.js';
import { ControlServer } from '../src/control/control-server.js';
import type { QueueOperations } from '../src/queue/spool/queue-admin.js';
import { silentLogger } from '../src/log.js';
import { TEST_TLS } from './helpers/tls-fixtures.js';

/** Issue 8: clients that repeat, hold, flood or do not read cannot make the relay keep what they leave. */
describe('hostile clients: junk, refused connections, memory after close', function () {
  this.timeout(30_000);
  let relay: TestRelay | undefined;
  const clients: WireClient[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await relay?.cleanup();
    relay = undefined;
  });

  async function greeted(port: number): Promise<WireClient> {
    const client = await WireClient.connect(port);
    clients.push(client);
    expect((await client.reply()).code).to.equal(220);
    expect(await client.command('EHLO c.test')).to.equal('250');
    return client;
  }

  it('counts a repeated EHLO or HELO as a junk command: past limits.maxJunkCommands, 421 4.7.0 and close', async () => {
    relay = await startTestRelay({ limits: { maxJunkCommands: 4 } });
    const client = await greeted(relay.port);
    client.send('EHLO c.test\r\nHELO c.test\r\nEHLO c.test\r\nHELO c.test\r\nEHLO c.test\r\n');
    expect(await client.replyCodes(5)).to.deep.equal(['250', '250', '250', '250', '421 4.7.0']);
    await client.waitClosed();
  });

  it('starts the junk count over after each accepted message, so a long delivery session is not cut off', async () => {
    relay = await startTestRelay({ limits: { maxJunkCommands: 2 } });
    const client = await greeted(relay.port);
    for (let message = 0; message < 3; message++) {
      expect(await client.command('RSET')).to.equal('250 2.0.0');
      expect(await client.command('EHLO c.test')).to.equal('250');
      expect((await client.sendMail('a@b.test', ['u@normal.test'], 'Subject: x\r\n\r\nbody\r\n')).code).to.equal(250);
    }
    expect(await client.command('NOOP')).to.equal('250 2.0.0');
    expect(await client.command('NOOP')).to.equal('250 2.0.0');
    expect(await client.command('NOOP')).to.equal('421 4.7.0');
  });

  it('does not count the first EHLO, nor the one after STARTTLS starts the session over (RFC 3207 §4.2)', async () => {
    relay = await startTestRelay({ tls: TEST_TLS, listen: [{ host: '127.0.0.1', port: 0, mode: 'relay', tls: 'starttls' }], limits: { maxJunkCommands: 1 } });
    const client = await greeted(relay.port);
    expect(await client.command('STARTTLS')).to.equal('220 2.0.0');
    await client.startTls();
    expect(await client.command('EHLO c.test')).to.equal('250');
    expect(await client.command('NOOP')).to.equal('250 2.0.0');
    expect(await client.command('NOOP')).to.equal('421 4.7.0');
  });

  it('closes a refused connection (421 4.7.0) within a few seconds even if the client holds it open', async () => {
    // Loopback out of relay.networks, which are exempt from the per-IP limit.
    relay = await startTestRelay({ limits: { maxConnectionsPerIp: 1 }, relay: { networks: ['192.0.2.0/24'] } });
    await greeted(relay.port);
    // allowHalfOpen: our side stays open after the relay's FIN, as a client that holds on would.
    const held = net.connect({ port: relay.port, host: '127.0.0.1', allowHalfOpen: true });
    held.on('error', () => {});
    let text = '';
    held.on('data', (chunk: Buffer) => { text += chunk.toString(); });
    const closed = new Promise<void>((resolve) => held.once('close', () => resolve()));
    const started = Date.now();
    // A socket the relay has let go of answers our next bytes with a reset; one it holds takes them in silence.
    const poke = setInterval(() => { if (!held.destroyed) held.write('NOOP\r\n'); }, 100);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([closed, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('the refused connection is still open after 6 s')), 6000); })]);
    } finally {
      clearInterval(poke);
      clearTimeout(timer);
      held.destroy();
    }
    expect(text).to.match(/^421 4\.7\.0 /);
    expect(Date.now() - started).to.be.below(6000);
  });

  it('keeps nothing of a closed session: 500 sessions leave under 4 KiB of heap each once collected', async () => {
    relay = await startTestRelay({ limits: { maxConnectionsPerIp: 100 } });
    const gc = collector();
    const port = relay.port;
    const session = async () => {
      const client = await WireClient.connect(port);
      try {
        expect((await client.reply()).code).to.equal(220);
        expect(await client.command('QUIT')).to.equal('221 2.0.0');
        await client.waitClosed();
      } finally {
        client.close();
      }
    };
    await session(); // first-use allocations (code, caches) are not the sessions' to keep
    relay.logs.length = 0;
    gc();
    const before = process.memoryUsage().heapUsed;
    const sessions = 500;
    let begun = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (begun < sessions) {
        begun++;
        await session();
      }
    }));
    await waitUntil(() => relay!.server.connectionCount === 0, 'every session to be finished');
    relay.logs.length = 0;
    gc();
    const perSession = (process.memoryUsage().heapUsed - before) / sessions;
    expect(perSession, `${Math.round(perSession)} bytes of heap kept per closed session`).to.be.below(4096);
  });

  describe('control socket', () => {
    let dir: string;
    let control: ControlServer | undefined;
    afterEach(async () => {
      await control?.close();
      control = undefined;
      await fs.rm(dir, { recursive: true, force: true });
    });

    it('stops taking requests while its responses wait to be read, then answers them all in order', async () => {
      dir = await makeTempDir();
      let listed = 0;
      // A long response (about 100 KiB), so a few fill the socket's buffers.
      const listing = { messages: Array.from({ length: 1000 }, (_, i) => `message ${i} `.padEnd(100, '.')), corrupt: [] };
      const queue = { live: true, list: async () => { listed++; return listing; } } as unknown as QueueOperations;
      control = await ControlServer.start({ socketPath: path.join(dir, 'control.sock'), queue, log: silentLogger });
      const client = net.connect(control.socketPath);
      client.on('error', () => {});
      await new Promise<void>((resolve, reject) => { client.once('connect', resolve); client.once('error', reject); });
      client.pause(); // read nothing for now
      const requests = 100;
      client.write('{"command":"list"}\n'.repeat(requests));
      await waitUntil(() => listed > 0, 'the first request to be answered');
      // Nothing announces that the server has stopped: give it a moment in which,
      // without back-pressure, it would answer all 100 (10 MB held for us).
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(listed, 'requests answered while the client read nothing').to.be.below(20);

      let received = 0;
      let buffered = '';
      client.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        let end: number;
        while ((end = buffered.indexOf('\n')) !== -1) {
          const response = JSON.parse(buffered.slice(0, end)) as { ok: boolean; result: typeof listing };
          buffered = buffered.slice(end + 1);
          expect(response.ok).to.equal(true);
          expect(response.result.messages).to.have.length(1000);
          received++;
        }
      });
      client.resume();
      await waitUntil(() => received === requests, `all ${requests} responses`, 20_000);
      expect(listed).to.equal(requests);
      client.destroy();
    });
  });
});

/** The garbage collector, for measuring what stays reachable. */
function collector(): () => void {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  return () => { gc(); gc(); };
}

/** Waits for a condition that no event announces, bounded. */
async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

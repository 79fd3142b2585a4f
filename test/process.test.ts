import { expect } from 'chai';
import path from 'node:path';
import fs from 'node:fs/promises';
import { RelayProcess } from './helpers/relay-process.js';
import { TestDnsServer } from './helpers/dns-server.js';
import { SmtpSink } from './helpers/smtp-sink.js';
import { WireClient } from './helpers/wire-client.js';
import { makeTempDir } from './helpers/test-relay.js';
import { PROCESS_TEST_TIMEOUT_MS } from './helpers/process-timeouts.js';

/** A real `minimta serve` process: signals, restarts and crashes lose no accepted mail. */
describe('process life: stop, restart, crash (RFC 5321 §6.1)', function () {
  this.timeout(PROCESS_TEST_TIMEOUT_MS);
  let dir: string;
  let dns: TestDnsServer;
  let sink: SmtpSink;
  const running: RelayProcess[] = [];

  beforeEach(async () => {
    dir = await makeTempDir();
    sink = await SmtpSink.start({ host: '127.0.0.2' });
    dns = await TestDnsServer.start({
      'dest.test': { mx: [{ preference: 10, exchange: 'mx.dest.test' }] },
      'mx.dest.test': { a: ['127.0.0.2'] },
    });
  });
  afterEach(async () => {
    for (const r of running.splice(0)) await r.kill();
    await sink.stop();
    await dns.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  function config(extra: object = {}) {
    return {
      hostname: 'mx.minimta.test',
      listen: [{ host: '127.0.0.1', port: 0, mode: 'relay' }],
      spool: path.join(dir, 'spool'),
      dns: { servers: [dns.address], timeout: 0.5 },
      delivery: { port: sink.port, retrySchedule: [0.2], pollInterval: 0.1, timeouts: { connect: 1, greeting: 2, command: 2, dataBlock: 2, dataEnd: 2 } },
      limits: { errorDelay: 0 },
      shutdownTimeout: 1,
      ...extra,
    };
  }

  async function start(extra: object = {}) {
    const started = await RelayProcess.start(config(extra), path.join(dir, 'config.json'));
    running.push(started.relay);
    return started;
  }

  async function send(port: number, subject: string): Promise<string> {
    const client = await WireClient.connect(port);
    try {
      await client.reply();
      await client.command('EHLO c.test');
      const reply = await client.sendMail('a@src.test', ['u@dest.test'], `Subject: ${subject}\r\n\r\nbody\r\n`);
      expect(reply.code).to.equal(250);
      return /queued as (\S+)/.exec(reply.lines[0]!)![1]!;
    } finally {
      client.close();
    }
  }

  const deliveredIds = () => sink.messages.map((m) => /with ESMTP id (\S+)/.exec(m.data.toString())?.[1]);

  it('SIGTERM: idle sessions get 421 4.3.2, a stalled delivery is kept, and a restart delivers it exactly once', async () => {
    sink.behaviour = { stallAt: 'DOT' };
    const { relay, port } = await start();
    const id = await send(port, 'in flight');
    await relay.waitFor(/connect|to=/, 100).catch(() => undefined);
    const idle = await WireClient.connect(port);
    await idle.reply();
    await waitUntil(() => sink.connections > 0);
    relay.signal('SIGTERM');
    expect(await idle.replyCodes(1, 5000)).to.deep.equal(['421 4.3.2']);
    expect(await relay.waitForExit()).to.equal(0);
    expect(sink.messages).to.have.length(0);

    sink.behaviour = {};
    const again = await start();
    await sink.waitForMessages(1, 10_000);
    await again.relay.waitFor(new RegExp(`${id}: removed`), 5000);
    expect(deliveredIds()).to.deep.equal([id]);
  });

  it('SIGKILL in the middle of a burst: every message that got 250 is delivered after the restart', async () => {
    sink.behaviour = { stallAt: 'greeting' };
    const first = await start();
    const acked: string[] = [];
    let killed = false;
    // Three clients send at once; the process is killed while they are at it.
    const sender = async (n: number) => {
      for (let i = 0; i < 20 && !killed; i++) {
        try {
          acked.push(await send(first.port, `burst ${n}.${i}`));
        } catch {
          return; // cut off by the kill: no 250, so no promise was made
        }
      }
    };
    const senders = [sender(1), sender(2), sender(3)];
    await waitUntil(() => acked.length >= 6);
    killed = true;
    first.relay.signal('SIGKILL');
    await first.relay.waitForExit();
    await Promise.all(senders);

    sink.behaviour = {};
    await start();
    // Messages committed just before the kill, whose 250 never reached the
    // client, are delivered too; what counts is that none that got 250 is lost.
    await waitUntil(() => acked.every((id) => deliveredIds().includes(id)), 20_000);
    expect(acked.length).to.be.at.least(6);
  });

  it('SIGHUP re-reads the config, and a bad one is refused while the old one stays', async () => {
    const { relay, port } = await start();
    await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify({ ...config(), limits: { maxRecipients: 'lots' } }));
    relay.signal('SIGHUP');
    await relay.waitFor(/configuration NOT reloaded.*limits\.maxRecipients/);
    await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify({ ...config(), relay: { networks: ['192.0.2.0/24'] } }));
    relay.signal('SIGHUP');
    await relay.waitFor(/configuration reloaded/);
    const client = await WireClient.connect(port);
    await client.reply();
    await client.command('EHLO c.test');
    await client.command('MAIL FROM:<a@src.test>');
    expect(await client.command('RCPT TO:<u@dest.test>')).to.equal('550 5.7.1');
    client.close();
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

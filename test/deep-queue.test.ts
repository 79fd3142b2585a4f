// A deep queue (issue 9): 10 000 messages deferred while the next hop was
// down. A real `minimta serve` process is started on that spool; it must
// greet at once (the spool is read in the background, each envelope once),
// stay small, answer `queue list` quickly from memory, and start draining
// to the next hop at once after a flush (the first DRAINED messages are
// waited for, to keep the suite short). `npm run bench` measures the whole
// drain, at 100 000 messages.

import { expect } from 'chai';
import fs from 'node:fs/promises';
import path from 'node:path';
import { RelayProcess } from './helpers/relay-process.js';
import { SmtpSink } from './helpers/smtp-sink.js';
import { WireClient } from './helpers/wire-client.js';
import { makeTempDir } from './helpers/test-relay.js';
import { fillDeepQueue } from './helpers/deep-queue.js';
import { RemoteQueue } from '../src/control/remote-queue.js';
import { controlSocketPath } from '../src/control/control-protocol.js';

const COUNT = 10_000;
const DRAINED = 2_000;
const MIB = 1024 * 1024;

describe('a deep queue: 10 000 deferred messages (issue 9)', function () {
  this.timeout(180_000);
  let dir: string;
  let sink: SmtpSink;
  let relay: RelayProcess | undefined;

  beforeEach(async () => {
    dir = await makeTempDir();
    sink = await SmtpSink.start({ host: '127.0.0.2' });
  });
  afterEach(async () => {
    await relay?.kill();
    await sink.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('greets before the queue is read, stays under 200 MiB, lists in under 3 s, and drains after a flush', async () => {
    const spool = path.join(dir, 'spool');
    const ids = await fillDeepQueue(spool, COUNT);

    const started = Date.now();
    const { relay: running } = await RelayProcess.start({
      hostname: 'mx.minimta.test',
      listen: [{ host: '127.0.0.1', port: 0, mode: 'relay' }],
      spool,
      smarthost: { host: '127.0.0.2', port: sink.port, tls: 'none' },
      dns: { checkRecipients: false, checkSenders: false },
      delivery: { timeouts: { connect: 5, greeting: 10, command: 10, dataBlock: 10, dataEnd: 10 } },
    }, path.join(dir, 'config.json')).then(async (r) => {
      const client = await WireClient.connect(r.port);
      expect((await client.reply()).code).to.equal(220);
      client.close();
      return r;
    });
    const greetMs = Date.now() - started;
    relay = running;
    await running.waitFor(new RegExp(`queue loaded: ${COUNT} message`), 20_000);
    const rss = await running.rss();

    const queue = new RemoteQueue(controlSocketPath(spool), 10_000);
    const listStarted = Date.now();
    const { envelopes } = await queue.list();
    const listMs = Date.now() - listStarted;
    expect(envelopes.map((e) => e.id).sort()).to.deep.equal([...ids].sort());
    expect(sink.messages).to.have.length(0);

    const flushStarted = Date.now();
    expect((await queue.flush()).ids).to.have.length(COUNT);
    await sink.waitForMessages(DRAINED, 120_000);
    const drainSeconds = (Date.now() - flushStarted) / 1000;
    await running.waitFor(/qmgr: \S+: removed/, 5000);

    console.log(`      deep queue of ${COUNT}: greeted after ${greetMs} ms (process start included), RSS ${(rss / MIB).toFixed(0)} MiB, ` +
      `queue list ${listMs} ms, drained at ${(DRAINED / drainSeconds).toFixed(0)} msg/s`);
    // The target is 5 s on a quiet machine (npm run bench measures it); what must hold
    // under any load is that the greeting does not wait for the queue to be read.
    expect(running.output.indexOf('minimta started'), 'greeting before the load ends')
      .to.be.below(running.output.indexOf('queue loaded:'));
    expect(greetMs, 'greeting after a restart').to.be.below(15_000);
    expect(rss, 'RSS with the queue loaded').to.be.below(200 * MIB);
    expect(listMs, 'queue list').to.be.below(3000);
    const delivered = sink.messages.flatMap((m) => m.recipients);
    expect(new Set(delivered).size, 'each message once').to.equal(delivered.length);
    // A delivered message leaves the spool with its state file.
    const removed = running.output.match(/qmgr: (\S+): removed/)![1]!;
    expect(await fs.readdir(path.join(spool, 'queue')), 'removed from queue/').to.not.include(removed);
    expect(await fs.readdir(path.join(spool, 'state')), 'its state file too').to.not.include(removed);
  });
});

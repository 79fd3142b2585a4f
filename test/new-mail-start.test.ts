// When new mail starts (src/queue/delivery/new-mail-start.ts): with no
// client connected, in the next turn of the event loop; while clients are
// connected, when one of them next waits for the disk (another message's
// commit), or a short while later at the latest.

import { expect } from 'chai';
import { performance } from 'node:perf_hooks';
import { NewMailStart } from '../src/queue/delivery/new-mail-start.js';
import { startDeliveryWorld, type DeliveryWorld } from './helpers/delivery-env.js';
import { WireClient } from './helpers/wire-client.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('new mail start: the rule', () => {
  let clients = 0;
  let starts = 0;
  const gate = (waitMs?: number): NewMailStart => new NewMailStart(() => clients, () => { starts++; }, waitMs);

  beforeEach(() => {
    clients = 0;
    starts = 0;
  });

  it('with no client connected, starts in the next turn, never in this one (the 250 goes first), once for all due in the turn', async () => {
    const start = gate();
    start.due();
    start.due();
    expect(starts, 'not in this turn').to.equal(0);
    await nextTurn();
    expect(starts).to.equal(1);
  });

  it('while clients are connected, waits for one of them to wait for the disk, and starts then', async () => {
    clients = 1;
    const start = gate(60_000);
    start.due();
    await nextTurn();
    expect(starts, 'not in the next turn').to.equal(0);
    start.clientWaitsForDisk();
    expect(starts, 'at the disk wait').to.equal(1);
    start.clientWaitsForDisk();
    expect(starts, 'a disk wait with no new mail starts nothing').to.equal(1);
  });

  it('starts at the latest waitMs later, when no client waits for the disk meanwhile', async () => {
    clients = 1;
    let started!: () => void;
    const startedNow = new Promise<void>((resolve) => { started = resolve; });
    const start = new NewMailStart(() => clients, () => started(), 100);
    const dueAt = performance.now();
    start.due();
    await startedNow;
    expect(performance.now() - dueAt).to.be.at.least(95);
  });

  it('forgets a wait when cancelled (the worker stops)', () => {
    clients = 1;
    const start = gate(60_000);
    start.due();
    start.cancel();
    start.clientWaitsForDisk();
    expect(starts).to.equal(0);
  });
});

describe('new mail start: through the relay', function () {
  this.timeout(20_000);
  let world: DeliveryWorld;
  let staying: WireClient | undefined;

  async function start(newMailWaitMs: number): Promise<void> {
    world = await startDeliveryWorld({
      'normal.test': { mx: [{ preference: 10, exchange: 'mx.normal.test' }] },
      'mx.normal.test': { a: ['127.0.0.2'] },
    // Nothing else may start what is due meanwhile: no look at the spool for
    // other processes' mail, and no hold for the clients (a loaded machine
    // can look saturated), whose look again a window later would start it.
    }, { delivery: { pollInterval: 3600, concurrency: { holdWhenBusy: 0 } } }, { newMailWaitMs });
  }

  /** A client that sends one message and stays connected; resolves once its 250 and a NOOP after it are answered. */
  async function sendAndStay(recipient: string): Promise<void> {
    staying = await WireClient.connect(world.relay.port);
    await staying.reply();
    await staying.command('EHLO stays.test');
    const reply = await staying.sendMail('a@src.test', [recipient], 'Subject: stays\r\n\r\nhello\r\n');
    expect(reply.code).to.equal(250);
    expect(await staying.command('NOOP')).to.match(/^250/);
  }

  async function waitUntil(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!condition()) {
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  afterEach(async () => {
    staying?.close();
    staying = undefined;
    await world.stop();
  });

  it('starts a message whose client stays connected when another client\'s message goes to the disk', async () => {
    await start(60_000);
    await sendAndStay('first@normal.test');
    // The old rule started it in the turn after its 250: under way, or at the sink, by now.
    expect(world.relay.worker.delivering, 'not started while its client is connected').to.equal(0);
    expect(world.sinks[0]!.transcript, 'the next hop not even connected to').to.deep.equal([]);

    const second = await world.send('a@src.test', ['second@normal.test']);
    expect(second.reply.code).to.equal(250);
    // Only the second message's commit can have started it: the longest wait is a minute.
    // (Once it is delivered, the worker starts what else is due: the second may follow at once.)
    const first = (): boolean => world.sinks[0]!.messages.some((m) => m.recipients.includes('first@normal.test'));
    await waitUntil(first, 'the first message at the next hop');
  });

  it('starts it at the latest newMailWaitMs later, when no other message comes', async () => {
    await start(300);
    const sentAt = performance.now();
    await sendAndStay('only@normal.test');
    await waitUntil(() => world.sinks[0]!.messages.length >= 1, 'the message at the next hop');
    // The wait began before the 250 was sent: a little of it may have passed before sentAt.
    expect(performance.now() - sentAt).to.be.at.least(250);
  });
});

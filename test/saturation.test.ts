// Clients first when the relay is saturated (src/queue/delivery/saturation.ts):
// while clients are sending to an event loop that is busy all the time, mail
// that falls due waits `delivery.concurrency.holdWhenBusy` seconds, and then
// the worker starts at most `whenBusy` messages at once; once the loop has
// room, or the clients fall silent, it goes back to full concurrency.
// The loop is saturated for real here (it is kept spinning), and a
// client keeps sending (a NOOP every 20 ms).

import { expect } from 'chai';
import { performance } from 'node:perf_hooks';
import { startDeliveryWorld, type DeliveryWorld } from './helpers/delivery-env.js';
import { WireClient } from './helpers/wire-client.js';
import { nextSaturated } from '../src/queue/delivery/saturation.js';
import { validateConfig } from '../src/config.js';

describe('saturation: when to hold deliveries back', () => {
  it('is saturation from a window at least 90% busy, with clients sending', () => {
    expect(nextSaturated(false, 0.95, true)).to.equal(true);
    expect(nextSaturated(false, 0.85, true)).to.equal(false);
    expect(nextSaturated(false, 1, false), 'no client: nobody to put first').to.equal(false);
  });

  it('lasts until a window is less than half busy, or one without a read from any client', () => {
    expect(nextSaturated(true, 0.6, true), 'hysteresis: no flapping at the edge').to.equal(true);
    expect(nextSaturated(true, 0.4, true)).to.equal(false);
    expect(nextSaturated(true, 1, false)).to.equal(false);
  });

  it('is configured by delivery.concurrency.whenBusy (default 2, at least 1) and holdWhenBusy (default 5 s)', () => {
    expect(validateConfig({}).delivery.concurrency).to.deep.equal({ total: 100, perDestination: 20, whenBusy: 2, holdWhenBusy: 5 });
    expect(validateConfig({ delivery: { concurrency: { whenBusy: 5, holdWhenBusy: 0.5 } } }).delivery.concurrency)
      .to.deep.equal({ total: 100, perDestination: 20, whenBusy: 5, holdWhenBusy: 0.5 });
    expect(() => validateConfig({ delivery: { concurrency: { whenBusy: 0 } } })).to.throw(/delivery\.concurrency\.whenBusy/);
    expect(() => validateConfig({ delivery: { concurrency: { holdWhenBusy: -1 } } })).to.throw(/delivery\.concurrency\.holdWhenBusy/);
  });
});

describe('saturation: clients first', function () {
  this.timeout(20_000);
  let world: DeliveryWorld;
  let spinning = false;
  let chatter: NodeJS.Timeout | undefined;
  let client: WireClient;

  /** A relay with these clients-first settings, and a client that keeps sending. */
  async function start(concurrency: { whenBusy: number; holdWhenBusy: number }, parts: { now?: () => Date } = {}): Promise<void> {
    world = await startDeliveryWorld({
      'normal.test': { mx: [{ preference: 10, exchange: 'mx.normal.test' }] },
      'mx.normal.test': { a: ['127.0.0.2'] },
    }, {
      delivery: { concurrency, timeouts: { connect: 5, greeting: 5, command: 5, dataBlock: 5, dataEnd: 30 } },
      limits: { maxJunkCommands: 10_000 },
    }, parts);
    // Each delivery stays under way (no reply to its final dot) until the sink is stopped.
    world.sinks[0]!.behaviour = { stallAt: 'DOT' };
    client = await WireClient.connect(world.relay.port);
    await client.reply();
    // A client that keeps sending (the replies pile up unread in its buffer).
    chatter = setInterval(() => client.send('NOOP\r\n'), 20);
  }

  afterEach(async () => {
    spinning = false;
    clearInterval(chatter);
    client.close();
    await world.sinks[0]!.stop();
    await world.stop();
  });

  /**
   * Keeps the event loop busy all the time, as a flood of clients would: in
   * slices of 20 ms, each queued with setImmediate, so the loop never sleeps
   * between them (a timer would leave it idle until the timer is due, and
   * longer on a loaded machine) and still reads its sockets in between.
   */
  function saturate(): void {
    spinning = true;
    const slice = (): void => {
      if (!spinning) return;
      const until = performance.now() + 20;
      while (performance.now() < until) { /* busy */ }
      setImmediate(slice);
    };
    setImmediate(slice);
  }

  /** Waits until the worker says it is saturated (it looks when it would start a delivery). */
  async function untilSaturated(): Promise<void> {
    const deadline = performance.now() + 10_000;
    while (!world.relay.worker.saturated) {
      if (performance.now() > deadline) throw new Error('the worker never saw the loop saturated');
      await world.relay.worker.rescan();
    }
  }

  /** Final dots the sink has seen: deliveries that got as far as the end of their data. */
  const dotsAtSink = (): number => world.sinks[0]!.transcript.filter((line) => line === '.').length;

  async function waitUntil(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!condition()) {
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async function sendThree(): Promise<void> {
    for (const n of [1, 2, 3]) {
      const { reply } = await world.send('a@src.test', [`u${n}@normal.test`]);
      expect(reply.code).to.equal(250);
    }
  }

  it('starts one message at a time while the loop is saturated, then the rest once it has room', async () => {
    await start({ whenBusy: 1, holdWhenBusy: 0 });
    saturate();
    await untilSaturated();
    await sendThree();
    await waitUntil(() => dotsAtSink() >= 1, 'the first delivery');
    expect(world.relay.worker.delivering, 'whenBusy: 1').to.equal(1);
    expect(world.relay.logs.some((l) => /saturated while clients are sending: clients first, new mail waits up to 0 s, then at most 1 message/.test(l))).to.equal(true);

    spinning = false;
    await waitUntil(() => dotsAtSink() === 3, 'the two held back to go out');
    expect(world.relay.worker.saturated).to.equal(false);
    expect(world.relay.worker.delivering).to.equal(3);
    expect(world.relay.logs.some((l) => /no longer saturated: full delivery concurrency/.test(l))).to.equal(true);
  });

  it('goes back to full concurrency once the clients fall silent, busy or not', async () => {
    await start({ whenBusy: 1, holdWhenBusy: 0 });
    saturate();
    await untilSaturated();
    await sendThree();
    await waitUntil(() => dotsAtSink() >= 1, 'the first delivery');
    expect(world.relay.worker.delivering).to.equal(1);

    // Still spinning, and the client still connected: only its silence ends it.
    clearInterval(chatter);
    await waitUntil(() => dotsAtSink() === 3, 'the two held back to go out');
    expect(world.relay.worker.delivering).to.equal(3);
  });

  it('holds mail that falls due while saturated for holdWhenBusy, then starts whenBusy at once', async () => {
    const holdMs = 1000;
    await start({ whenBusy: 1, holdWhenBusy: holdMs / 1000 });
    saturate();
    await untilSaturated();
    const sentAt = Date.now();
    await sendThree();
    await waitUntil(() => dotsAtSink() >= 1, 'the first delivery after the hold');
    // Each message is due from its commit, after sentAt: none may start sooner than the hold after it.
    expect(Date.now() - sentAt, 'held back for the hold').to.be.at.least(holdMs);
    expect(world.relay.worker.delivering, 'whenBusy: 1').to.equal(1);
    expect(world.relay.logs.some((l) => /new mail waits up to 1 s, then at most 1 message/.test(l))).to.equal(true);

    spinning = false;
    await waitUntil(() => dotsAtSink() === 3, 'the two held back to go out');
    expect(world.relay.worker.delivering).to.equal(3);
  });

  it('still delivers a message that waited in the due queue while the clock stepped back', async () => {
    let stepBack = 0;
    await start({ whenBusy: 1, holdWhenBusy: 1 }, { now: () => new Date(Date.now() - stepBack) });
    world.sinks[0]!.behaviour = {};
    saturate();
    await untilSaturated();
    const { reply } = await world.send('a@src.test', ['u1@normal.test']);
    expect(reply.code).to.equal(250);
    expect(world.relay.worker.delivering, 'held in the due queue for the clients').to.equal(0);
    // Due since its arrival by the old clock: 300 ms in the future by the new one.
    stepBack = 300;
    spinning = false;
    await waitUntil(() => world.sinks[0]!.messages.length === 1, 'the message to be delivered once the clock reaches its time again');
  });
});

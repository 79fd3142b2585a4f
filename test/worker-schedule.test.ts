// The worker's schedule in memory (issue 9: a deep queue; docs/queue.md).
// A look at the spool reads only the messages the worker does not know yet,
// so it costs O(new messages), not a read of every envelope. Past the
// envelopes it keeps (10 000; none here, to see it at work), a deferred
// message's envelope is not held in memory: the spool has it, and it is read
// again when needed (a delivery, `queue list`, `queue show`).

import { expect } from 'chai';
import fs from 'node:fs/promises';
import path from 'node:path';
import { startDeliveryWorld, type DeliveryWorld } from './helpers/delivery-env.js';
import { fillDeepQueue } from './helpers/deep-queue.js';
import { validateEnvelope } from '../src/queue/spool/envelope.js';

/**
 * A relay whose next hop defers every recipient (451 at RCPT), keeping at
 * most `keptEnvelopes` envelopes in memory; retries and polls far away.
 */
async function deferringWorld(keptEnvelopes: number): Promise<DeliveryWorld> {
  const world = await startDeliveryWorld({
    'normal.test': { mx: [{ preference: 10, exchange: 'mx.normal.test' }] },
    'mx.normal.test': { a: ['127.0.0.2'] },
  }, { delivery: { retrySchedule: [600], pollInterval: 600 } }, { keptEnvelopes });
  world.sinks[0]!.behaviour = { replies: { RCPT: '451 4.3.0 try again later' } };
  return world;
}

describe("the worker's schedule in memory", () => {
  let world: DeliveryWorld;
  beforeEach(async () => { world = await deferringWorld(0); });
  afterEach(async () => { await world.stop(); });

  /** A message sent through the relay and deferred once by the next hop. */
  async function deferredMessage(): Promise<{ id: string; statePath: string }> {
    const { id } = await world.send('a@src.test', ['u@normal.test']);
    expect((await world.attempt(id)).done).to.equal(false);
    return { id, statePath: path.join(world.relay.spool.dir, 'state', id) };
  }

  it('looks at the spool for new messages only, and picks up one put there by another process', async () => {
    const { statePath } = await deferredMessage();
    // Were the known message read again, this envelope would be reported unreadable.
    await fs.writeFile(statePath, 'not an envelope\n');
    const [added] = await fillDeepQueue(world.relay.spool.dir, 1);

    await world.relay.worker.rescan();

    expect(world.relay.logs.filter((l) => l.includes('unreadable')), 'nothing re-read').to.deep.equal([]);
    expect(world.relay.worker.envelope(added!)?.sender, 'the new message is scheduled').to.equal('sender@deep.test');
    expect(world.relay.worker.sizes()).to.deep.equal({ queued: 0, deferred: 2, held: 0, captured: 0 });
  });

  it('does not hold a deferred message\'s envelope: it is read from the spool when needed', async () => {
    const { id, statePath } = await deferredMessage();
    const onDisk = validateEnvelope(JSON.parse(await fs.readFile(statePath, 'utf8')));
    expect(world.relay.worker.envelope(id)).to.deep.equal(onDisk);
    // A change made on disk (as a crash and restart would find it) is what the worker sees.
    onDisk.recipients[0]!.lastReply = '421 4.4.2 changed on disk';
    await fs.writeFile(statePath, JSON.stringify(onDisk) + '\n');
    expect(world.relay.worker.envelope(id)?.recipients[0]?.lastReply).to.equal('421 4.4.2 changed on disk');
    // And the next attempt starts from it: the sink takes the message now, and it leaves the spool.
    world.sinks[0]!.behaviour = {};
    world.relay.worker.makeAllDue();
    expect((await world.attempt(id, 2)).done).to.equal(true);
    expect(await world.relay.spool.list()).to.deep.equal([]);
  });

  it('drops a message whose envelope became unreadable from the schedule, says so once, sends nothing, and counts it as corrupt until it is gone', async () => {
    const { id, statePath } = await deferredMessage();
    await fs.writeFile(statePath, 'not an envelope\n');
    world.sinks[0]!.behaviour = {};

    expect(world.relay.worker.makeAllDue()).to.deep.equal([id]);
    await world.relay.worker.rescan();

    expect(world.relay.worker.envelope(id)).to.equal(undefined);
    expect(world.relay.logs.filter((l) => l.includes(`unreadable queue entry ${id}`))).to.have.length(1);
    expect(world.sinks[0]!.messages).to.have.length(0);
    expect(await world.relay.spool.list(), 'left in place for the operator').to.deep.equal([id]);
    // The operator sees it: in `queue list` and in the queue gauge.
    expect((await world.relay.queue.list()).corrupt.map((entry) => entry.name)).to.deep.equal([id]);
    expect(await world.relay.metrics.render()).to.include('minimta_queue_messages{state="corrupt"} 1');
    // Removed by the operator, it is gone from both after the next look at the spool.
    await fs.rm(path.join(world.relay.spool.dir, 'queue', id), { force: true });
    await fs.rm(statePath, { force: true });
    await world.relay.worker.rescan();
    expect((await world.relay.queue.list()).corrupt).to.deep.equal([]);
    expect(await world.relay.metrics.render()).to.include('minimta_queue_messages{state="corrupt"} 0');
  });
});

describe('the worker keeps the envelopes of the first keptEnvelopes messages', () => {
  let world: DeliveryWorld;
  beforeEach(async () => { world = await deferringWorld(1); });
  afterEach(async () => { await world.stop(); });

  it('holds one deferred envelope in memory and reads the other from the spool', async () => {
    const ids: string[] = [];
    for (const rcpt of ['u@normal.test', 'v@normal.test']) {
      const { id } = await world.send('a@src.test', [rcpt]);
      expect((await world.attempt(id)).done).to.equal(false);
      ids.push(id);
    }
    for (const id of ids) {
      const statePath = path.join(world.relay.spool.dir, 'state', id);
      const onDisk = validateEnvelope(JSON.parse(await fs.readFile(statePath, 'utf8')));
      onDisk.recipients[0]!.lastReply = '421 4.4.2 changed on disk';
      await fs.writeFile(statePath, JSON.stringify(onDisk) + '\n');
    }
    const seen = ids.map((id) => world.relay.worker.envelope(id)?.recipients[0]?.lastReply);
    expect(seen.filter((reply) => reply === '421 4.4.2 changed on disk'), 'one read from the spool').to.have.length(1);
    expect(seen.filter((reply) => reply?.startsWith('451 ')), 'one held').to.have.length(1);
  });
});

// The worker's look at the spool while it runs (issue 9: a deep queue): it
// reads only the messages it does not know yet, so a rescan costs O(new
// messages), not a read of every envelope in the queue.

import { expect } from 'chai';
import fs from 'node:fs/promises';
import path from 'node:path';
import { startDeliveryWorld, type DeliveryWorld } from './helpers/delivery-env.js';
import { fillDeepQueue } from './helpers/deep-queue.js';

describe('the worker looks at the spool for new messages only', () => {
  let world: DeliveryWorld;
  beforeEach(async () => {
    world = await startDeliveryWorld({
      'normal.test': { mx: [{ preference: 10, exchange: 'mx.normal.test' }] },
      'mx.normal.test': { a: ['127.0.0.2'] },
    }, { delivery: { retrySchedule: [600], pollInterval: 600 } });
    world.sinks[0]!.behaviour = { replies: { RCPT: '451 4.3.0 try again later' } };
  });
  afterEach(async () => { await world.stop(); });

  it('does not read a known message again, and picks up one put there by another process', async () => {
    const { id } = await world.send('a@src.test', ['u@normal.test']);
    expect((await world.attempt(id)).done).to.equal(false);
    const spool = world.relay.spool.dir;
    // Were the known message read again, this envelope would be reported unreadable.
    await fs.writeFile(path.join(spool, 'state', id), 'not an envelope\n');
    const [added] = await fillDeepQueue(spool, 1);

    await world.relay.worker.rescan();

    expect(world.relay.logs.filter((l) => l.includes('unreadable')), 'nothing re-read').to.deep.equal([]);
    expect(world.relay.worker.envelope(id)?.recipients[0]?.lastReply).to.match(/^451 /);
    expect(world.relay.worker.envelope(added!)?.sender, 'the new message is scheduled').to.equal('sender@deep.test');
  });
});

// A delivered message leaves the worker's memory only once its files are
// gone from the spool: a look at the spool while the removal is under way
// (the poll, or `minimta sendmail` waking the worker) must not take the
// message for a new one and deliver it again.

import { expect } from 'chai';
import { startDeliveryWorld, type DeliveryWorld } from './helpers/delivery-env.js';

/** Waits, at most timeoutMs, until `done()` holds. */
async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('the worker and a removal under way', () => {
  let world: DeliveryWorld;
  beforeEach(async () => {
    world = await startDeliveryWorld({
      'normal.test': { mx: [{ preference: 10, exchange: 'mx.normal.test' }] },
      'mx.normal.test': { a: ['127.0.0.2'] },
    }, { delivery: { pollInterval: 600 } });
  });
  afterEach(async () => { await world.stop(); });

  it('does not deliver a message again when the spool is looked at while its files are being removed', async () => {
    const { spool, worker } = world.relay;
    const remove = spool.remove.bind(spool);
    let removal: Promise<void> | undefined;
    // The removal starts only after a rescan has looked at the spool: queue/<id> is still there.
    spool.remove = (id, hasState) => {
      removal = worker.rescan().then(() => remove(id, hasState));
      return removal;
    };
    const { id } = await world.send('a@src.test', ['u@normal.test']);
    expect((await world.attempt(id)).done).to.equal(true);
    await removal;
    await until(() => !worker.busy, 5000, 'the worker idle');

    expect(world.attempts.get(id), 'one attempt').to.have.length(1);
    expect(world.sinks[0]!.messages, 'one copy delivered').to.have.length(1);
    expect(worker.envelope(id), 'gone from the schedule').to.equal(undefined);
  });

  it('does not deliver a message again while a queue delete is removing it', async () => {
    const { spool, worker } = world.relay;
    world.sinks[0]!.behaviour = { replies: { RCPT: '451 4.3.0 try again later' } };
    const { id } = await world.send('a@src.test', ['u@normal.test']);
    expect((await world.attempt(id)).done).to.equal(false);
    world.sinks[0]!.behaviour = {};
    const remove = spool.remove.bind(spool);
    spool.remove = (removed, hasState) => worker.rescan().then(() => {
      // Were the message scheduled again by the rescan, a flush would send it now.
      worker.makeDue(removed);
      return remove(removed, hasState);
    });
    expect(await worker.remove(id)).to.equal(true);
    await until(() => !worker.busy, 5000, 'the worker idle');

    expect(world.attempts.get(id), 'no attempt after the delete').to.have.length(1);
    expect(world.sinks[0]!.messages).to.have.length(0);
    expect(worker.envelope(id)).to.equal(undefined);
  });
});

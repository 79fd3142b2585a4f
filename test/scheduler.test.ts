import { expect } from 'chai';
import { isExpired, nextAttemptAt } from '../src/queue/delivery/scheduler.js';
import { DeliverySlots } from '../src/queue/delivery/concurrency.js';

describe('scheduler: when to try again (RFC 5321 §4.5.4.1)', () => {
  const policy = { retrySchedule: [300, 900, 3600], maxQueueLifetime: 432000 };
  const t0 = new Date('2026-11-28T12:00:00Z');

  it('waits the scheduled time before each retry, the last interval repeating', () => {
    const waits = [1, 2, 3, 4, 9].map((n) => (nextAttemptAt(n, policy, t0).getTime() - t0.getTime()) / 1000);
    expect(waits).to.deep.equal([300, 900, 3600, 3600, 3600]);
  });

  it('expires a message once it has been queued for its whole lifetime', () => {
    expect(isExpired('2026-11-23T12:00:01Z', policy, t0)).to.equal(false);
    expect(isExpired('2026-11-23T12:00:00Z', policy, t0)).to.equal(true);
  });
});

describe('delivery slots: a global and a per-destination limit', () => {
  it('never lets one destination take more than its share', async () => {
    const slots = new DeliverySlots(3, 2);
    const a1 = await slots.acquire('a.test');
    await slots.acquire('a.test');
    let third = false;
    const a3 = slots.acquire('a.test').then((release) => { third = true; return release; });
    // Another destination still gets a slot while a.test waits.
    const b1 = await slots.acquire('b.test');
    expect(slots.inUse).to.equal(3);
    expect(third).to.equal(false);
    a1();
    (await a3)();
    expect(third).to.equal(true);
    b1();
  });

  it('keeps the global limit across destinations, waking waiters in order', async () => {
    const slots = new DeliverySlots(1, 1);
    const first = await slots.acquire('a.test');
    const order: string[] = [];
    const b = slots.acquire('b.test').then((r) => { order.push('b'); return r; });
    const c = slots.acquire('c.test').then((r) => { order.push('c'); return r; });
    first();
    (await b)();
    (await c)();
    expect(order).to.deep.equal(['b', 'c']);
    expect(slots.inUse).to.equal(0);
  });

  it('ignores a second release of the same slot', async () => {
    const slots = new DeliverySlots(2, 2);
    const release = await slots.acquire('a.test');
    release();
    release();
    expect(slots.inUse).to.equal(0);
  });
});

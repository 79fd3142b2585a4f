// What one delivery attempt writes into an envelope (src/queue/delivery/attempt-outcomes.ts): pure units.

import { expect } from 'chai';
import type { Envelope } from '../src/queue/spool/envelope.js';
import { dsnRequest, expirePending, groupByDestination, recordOutcomes, retryPolicyOf } from '../src/queue/delivery/attempt-outcomes.js';

function envelope(overrides: Partial<Envelope> = {}): Envelope {
  return {
    version: 1,
    id: '0MX2276FX4YV0M',
    arrivedAt: '2026-11-29T10:00:00.000Z',
    client: { ip: '127.0.0.1', ehlo: 'client.example', protocol: 'ESMTP' },
    sender: 'alice@example.org',
    recipients: [
      { address: 'bob@Example.COM', state: 'pending', attempts: 0 },
      { address: 'carol@example.net', state: 'pending', attempts: 0 },
      { address: 'dave@example.com', state: 'pending', attempts: 0 },
    ],
    size: 100,
    body: '7BIT',
    smtputf8: false,
    capture: false,
    held: false,
    attempts: 0,
    nextAttemptAt: '2026-11-29T10:00:00.000Z',
    ...overrides,
  };
}

const NOW = new Date('2026-11-29T11:00:00.000Z');

describe('attempt outcomes', () => {
  it('groups recipients by domain, case-insensitively, or all together for a smarthost', () => {
    const { recipients } = envelope();
    expect(groupByDestination(recipients).map(([d, rs]) => [d, rs.map((r) => r.address)])).to.deep.equal([
      ['example.com', ['bob@Example.COM', 'dave@example.com']],
      ['example.net', ['carol@example.net']],
    ]);
    expect(groupByDestination(recipients, 'smarthost.test').map(([d, rs]) => [d, rs.length])).to.deep.equal([['smarthost.test', 3]]);
  });

  it('records each outcome in its pending recipient: final ones leave pending, deferred ones stay', () => {
    const env = envelope();
    recordOutcomes(env, [
      { address: 'bob@Example.COM', kind: 'delivered', reply: { code: 250, enhanced: '2.0.0', lines: ['Ok'] }, remoteMta: 'mx.example.com', relay: 'mx.example.com[192.0.2.1]:25' },
      { address: 'carol@example.net', kind: 'deferred', reply: { code: 451, enhanced: '4.3.0', lines: ['later'] }, relay: 'mx.example.net[192.0.2.2]:25' },
      { address: 'dave@example.com', kind: 'failed', reply: { code: 550, enhanced: '5.1.1', lines: ['no such user'] }, relay: 'mx.example.com[192.0.2.1]:25' },
    ], NOW);
    expect(env.recipients.map((r) => [r.state, r.attempts, r.lastReply])).to.deep.equal([
      ['delivered', 1, '250 2.0.0 Ok'],
      ['pending', 1, '451 4.3.0 later'],
      ['failed', 1, '550 5.1.1 no such user'],
    ]);
    expect(env.recipients[0]!.remoteMta).to.equal('mx.example.com');
    expect(env.recipients[0]!.finalAt).to.equal(NOW.toISOString());
    expect(env.recipients[1]!.finalAt).to.equal(undefined);
  });

  it('expires the pending recipients with their last reply, or a 4.4.7 when they never got one (RFC 5321 §4.5.4.1)', () => {
    const env = envelope();
    env.recipients[0]!.lastReply = '451 4.4.1 no answer';
    env.recipients[2]!.state = 'delivered';
    const expired = expirePending(env, NOW);
    expect(expired.map((r) => r.address)).to.deep.equal(['bob@Example.COM', 'carol@example.net']);
    expect(env.recipients.map((r) => r.state)).to.deep.equal(['failed', 'failed', 'delivered']);
    expect(env.recipients[0]!.lastReply).to.equal('451 4.4.1 no answer');
    expect(env.recipients[1]!.lastReply).to.match(/^4\d\d 4\.4\.7 /);
  });

  it('gives bounces the shorter of the two lifetimes', () => {
    const retry = { retrySchedule: [300], maxQueueLifetime: 432_000, bounceLifetime: 86_400 };
    expect(retryPolicyOf(envelope(), retry).maxQueueLifetime).to.equal(432_000);
    expect(retryPolicyOf(envelope({ bounce: true, sender: '' }), retry).maxQueueLifetime).to.equal(86_400);
  });

  it('passes on the DSN request only when the sender made one (RFC 3461)', () => {
    expect(dsnRequest(envelope(), ['bob@Example.COM'])).to.equal(undefined);
    const env = envelope({ ret: 'HDRS', envid: 'abc' });
    env.recipients[0]!.notify = ['FAILURE'];
    expect(dsnRequest(env, ['bob@Example.COM', 'dave@example.com'])).to.deep.equal({
      ret: 'HDRS', envid: 'abc', recipients: [{ notify: ['FAILURE'] }, {}],
    });
  });
});

import { expect } from 'chai';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startDeliveryWorld, type DeliveryWorld } from './helpers/delivery-env.js';
import type { Zone } from './helpers/dns-server.js';
import { readStoredTranscript } from '../src/trace/trace-store.js';

const ZONES: Record<string, Zone> = {
  'dest.test': { mx: [{ preference: 10, exchange: 'mx1.dest.test' }, { preference: 20, exchange: 'mx2.dest.test' }] },
  'mx1.dest.test': { a: ['127.0.0.2'] },
  'mx2.dest.test': { a: ['127.0.0.3'] },
};

describe('trace: outbound transcripts (delivery)', () => {
  let world: DeliveryWorld;
  afterEach(async () => { await world.stop(); });

  it('records the MX choice, a 521 host passed over, the dialogue with the next, and the outcome', async () => {
    world = await startDeliveryWorld(structuredClone(ZONES), { trace: { enabled: true } });
    world.sinks[0]!.behaviour = { greeting: '521 5.3.2 mx1.dest.test does not accept mail' };
    const second = await world.addSink('127.0.0.3');
    const { id } = await world.send('a@normal.test', ['bob@dest.test'], 'Subject: relayed\r\n\r\nhi\r\n');
    expect((await world.attempt(id)).done).to.equal(true);
    expect(second.messages).to.have.length(1);
    await world.relay.trace!.flushed();
    const out = world.relay.trace!.recent().find((t) => t.direction === 'outbound')!;
    const text = world.relay.trace!.get(out.id)!.text;
    expect(text).to.include('** DNS dest.test: MX 10 mx1.dest.test [127.0.0.2]').and.include('** DNS dest.test: MX 20 mx2.dest.test [127.0.0.3]');
    expect(text).to.include('** connecting to mx1.dest.test[127.0.0.2]:');
    expect(text).to.include('S: 521 5.3.2 mx1.dest.test does not accept mail').and.include('~ 521 Host does not accept mail; 5.3.2 Permanent failure: System not accepting network messages');
    expect(text).to.match(/\*\* mx1\.dest\.test\[127\.0\.0\.2\]:\d+ did not take the message \(at greeting\): 521 5\.3\.2/);
    expect(text).to.include('** connecting to mx2.dest.test[127.0.0.3]:');
    expect(text).to.include('C: MAIL FROM:<a@normal.test>').and.include('C: RCPT TO:<bob@dest.test>').and.include('S: 250');
    expect(text).to.match(/\*\* outcome: <bob@dest\.test> delivered via mx2\.dest\.test\[127\.0\.0\.3\]:\d+: 250/);
    if (process.env.SHOW_TRACE) console.log(text);
    // Delivered, the message left the queue and its stored transcripts with it
    // (the arrival's too, however late its session ended: bounded wait).
    for (let i = 0; world.relay.trace!.recent().some((t) => !t.finished); i++) {
      if (i > 250) throw new Error('sessions not finished within 5 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    await world.relay.trace!.flushed();
    expect(await readStoredTranscript(world.relay.config.spool, id)).to.equal(undefined);
    expect(await readdir(join(world.relay.config.spool, 'transcripts'))).to.deep.equal([]);
  });
});

// Upgrading a spool written by the previous release (queue/<id>/message and
// queue/<id>/envelope.json) to the one-file format (docs/queue.md).

import { expect } from 'chai';
import fs from 'node:fs/promises';
import path from 'node:path';
import { newQueueId } from '../src/queue/spool/queue-id.js';
import { startDeliveryWorld, type DeliveryWorld } from './helpers/delivery-env.js';
import type { Zone } from './helpers/dns-server.js';
import { makeTempDir } from './helpers/test-relay.js';

const ZONES: Record<string, Zone> = {
  'dest.test': { mx: [{ preference: 10, exchange: 'mx.dest.test' }] },
  'mx.dest.test': { a: ['127.0.0.2'] },
};

const MESSAGE = Buffer.from('Received: from client.test by old.minimta.test; Sun, 29 Nov 2026 10:00:00 +0000\r\nSubject: queued before the upgrade\r\n\r\nbody\r\n');

/** The envelope as the previous release stored it: the current state, one recipient already delivered. */
function oldEnvelope(id: string) {
  const arrived = new Date(Date.now() - 60_000).toISOString();
  return {
    version: 1,
    id,
    arrivedAt: arrived,
    client: { ip: '192.0.2.1', ehlo: 'client.test', protocol: 'ESMTP' },
    sender: 'alice@sender.test',
    recipients: [
      { address: 'done@dest.test', state: 'delivered', attempts: 1, lastReply: '250 2.0.0 ok', remoteMta: 'mx.dest.test', lastAttemptAt: arrived, finalAt: arrived },
      { address: 'bob@dest.test', state: 'pending', attempts: 1, lastReply: '451 4.3.0 try later', lastAttemptAt: arrived },
    ],
    body: '7BIT',
    smtputf8: false,
    size: MESSAGE.length,
    capture: false,
    held: false,
    attempts: 1,
    nextAttemptAt: arrived,
  };
}

/** A spool as the previous release wrote it: directories 0700, files 0600, envelope.json pretty-printed. */
async function oldSpool(): Promise<{ spool: string; id: string }> {
  const spool = path.join(await makeTempDir('minimta-upgrade-'), 'spool');
  const id = newQueueId();
  for (const dir of [spool, path.join(spool, 'tmp'), path.join(spool, 'queue'), path.join(spool, 'queue', id)]) {
    await fs.mkdir(dir, { mode: 0o700 });
  }
  await fs.writeFile(path.join(spool, 'queue', id, 'message'), MESSAGE, { mode: 0o600 });
  await fs.writeFile(path.join(spool, 'queue', id, 'envelope.json'), JSON.stringify(oldEnvelope(id), null, 2) + '\n', { mode: 0o600 });
  return { spool, id };
}

async function exists(p: string): Promise<boolean> {
  return fs.lstat(p).then(() => true, () => false);
}

describe('upgrading a spool in the previous directory layout', function () {
  let world: DeliveryWorld | undefined;
  let spool = '';
  afterEach(async () => {
    await world?.stop();
    world = undefined;
    await fs.rm(path.dirname(spool), { recursive: true, force: true });
  });

  async function deliverOnce(id: string): Promise<void> {
    world = await startDeliveryWorld(structuredClone(ZONES), { spool });
    expect((await world.attempt(id, 1, 10_000)).done).to.equal(true);
    const sink = world.sinks[0]!;
    // Only the recipient still pending: the old envelope's per-recipient state was kept.
    expect(sink.messages.map((m) => m.recipients)).to.deep.equal([['bob@dest.test']]);
    expect(sink.messages[0]!.data.equals(MESSAGE)).to.equal(true);
    expect(world.attempts.get(id)).to.have.length(1);
    // Nothing is left that could be delivered again.
    expect(await fs.readdir(path.join(spool, 'queue'))).to.deep.equal([]);
    expect(await exists(path.join(spool, 'upgrade'))).to.equal(false);
  }

  it('converts queue/<id>/ into queue/<id>, logs it, and delivers it exactly once', async () => {
    const built = await oldSpool();
    spool = built.spool;
    await deliverOnce(built.id);
    expect(world!.relay.logs.filter((line) => line.includes('converted from the previous release'))).to.deep.equal([
      `queue: ${built.id}: converted from the previous release's spool layout`,
    ]);
  });

  it('finishes a conversion a crash interrupted after the rename without delivering twice', async () => {
    const built = await oldSpool();
    spool = built.spool;
    const { id } = built;
    // The state a crash between steps 3 and 4 leaves: the queue file is in place, the old directory aside.
    await fs.mkdir(path.join(spool, 'upgrade'), { mode: 0o700 });
    await fs.rename(path.join(spool, 'queue', id), path.join(spool, 'upgrade', id));
    const line = JSON.stringify(oldEnvelope(id)) + '\n';
    await fs.writeFile(path.join(spool, 'queue', id), Buffer.concat([MESSAGE, Buffer.from(line)]), { mode: 0o600 });
    await deliverOnce(id);
    expect(world!.relay.logs.filter((l) => l.includes('converted from the previous release'))).to.deep.equal([]);
  });

  it('finishes a conversion a crash interrupted after moving the old directory aside', async () => {
    const built = await oldSpool();
    spool = built.spool;
    await fs.mkdir(path.join(spool, 'upgrade'), { mode: 0o700 });
    await fs.rename(path.join(spool, 'queue', built.id), path.join(spool, 'upgrade', built.id));
    await deliverOnce(built.id);
  });
});

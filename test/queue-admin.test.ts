import { expect } from 'chai';
import { statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool } from '../src/queue/spool/spool.js';
import type { Envelope } from '../src/queue/spool/envelope.js';
import {
  QUEUE_ADMIN_CODES, QueueAdmin, QueueAdminError, attachOrCreateSpool, attachSpool,
} from '../src/queue/spool/queue-admin.js';

const NOW = new Date('2026-11-28T17:40:00.000Z');
const LATER = '2026-11-28T18:00:00.000Z';
const HEAD = 'Received: from c.test ([127.0.0.1]) by mx.test with ESMTP id X; Sat, 28 Nov 2026 17:34:12 +0000\r\nSubject: hi\r\n';

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection, but it resolved');
}

/** Queues a message through a receipt, as the SMTP server does. */
async function queue(spool: Spool, change: Partial<Envelope> = {}): Promise<string> {
  const receipt = await spool.beginReceipt();
  receipt.write(Buffer.from(`${HEAD}\r\nbody\r\n`));
  const arrivedAt = change.arrivedAt ?? '2026-11-28T17:34:12.000Z';
  await receipt.commit({
    version: 1,
    id: receipt.id,
    arrivedAt,
    client: { ip: '127.0.0.1', ehlo: 'c.test', protocol: 'ESMTP' },
    sender: 'a@src.test',
    recipients: [{ address: 'u@dest.test', state: 'pending', attempts: 1, lastReply: '451 4.4.3 try later' }],
    body: '7BIT',
    smtputf8: false,
    capture: false,
    held: false,
    attempts: 1,
    nextAttemptAt: LATER,
    ...change,
  });
  return receipt.id;
}

describe('queue administration on a spool (queue list, show, flush, retry, delete, hold, release)', () => {
  let dir: string;
  let spool: Spool;
  let wakes: number;
  let admin: QueueAdmin;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'minimta-admin-'));
    ({ spool } = await Spool.open(join(dir, 'spool')));
    wakes = 0;
    admin = new QueueAdmin(spool, { wake: () => { wakes++; }, now: () => NOW });
  });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('lists every message oldest first, by arrival time', async () => {
    const newer = await queue(spool, { arrivedAt: '2026-11-28T17:35:00.000Z' });
    const older = await queue(spool, { arrivedAt: '2026-11-28T17:30:00.000Z' });
    const listing = await admin.list();
    expect(listing.envelopes.map((e) => e.id)).to.deep.equal([older, newer]);
    expect(listing.corrupt).to.deep.equal([]);
  });

  it('reports an unreadable entry beside the readable ones, as text', async () => {
    const id = await queue(spool);
    await mkdir(join(spool.dir, 'queue', 'not-an-id'));
    const listing = await admin.list();
    expect(listing.envelopes.map((e) => e.id)).to.deep.equal([id]);
    expect(listing.corrupt).to.have.length(1);
    expect(listing.corrupt[0]!.name).to.equal('not-an-id');
    expect(listing.corrupt[0]!.problem).to.be.a('string').and.include('not a message file');
  });

  it('shows the envelope and the header section of a message', async () => {
    const id = await queue(spool);
    const view = await admin.show(id);
    expect(view.envelope.id).to.equal(id);
    expect(view.head).to.equal(HEAD);
  });

  it('flush makes every message due now but held and captured ones, and wakes the worker', async () => {
    const plain = await queue(spool);
    const held = await queue(spool, { held: true });
    const captured = await queue(spool, { capture: true });
    const { ids } = await admin.flush();
    expect(ids).to.deep.equal([plain]);
    expect((await spool.readEnvelope(plain)).nextAttemptAt).to.equal(NOW.toISOString());
    expect((await spool.readEnvelope(held)).nextAttemptAt).to.equal(LATER);
    expect((await spool.readEnvelope(captured)).nextAttemptAt).to.equal(LATER);
    expect(wakes).to.equal(1);
  });

  it('retry makes one message due now and wakes the worker', async () => {
    const id = await queue(spool);
    const other = await queue(spool);
    const envelope = await admin.retry(id);
    expect(envelope.nextAttemptAt).to.equal(NOW.toISOString());
    expect((await spool.readEnvelope(id)).nextAttemptAt).to.equal(NOW.toISOString());
    expect((await spool.readEnvelope(other)).nextAttemptAt).to.equal(LATER);
    expect(wakes).to.equal(1);
  });

  it('hold sets held on disk; release clears it, makes the message due and wakes the worker', async () => {
    const id = await queue(spool);
    expect((await admin.hold(id)).held).to.equal(true);
    expect((await spool.readEnvelope(id)).held).to.equal(true);
    expect(wakes).to.equal(0);
    const released = await admin.release(id);
    expect(released).to.deep.include({ held: false, nextAttemptAt: NOW.toISOString() });
    expect(await spool.readEnvelope(id)).to.deep.include({ held: false, nextAttemptAt: NOW.toISOString() });
    expect(wakes).to.equal(1);
  });

  it('delete removes the message and touches no other', async () => {
    const id = await queue(spool);
    const other = await queue(spool);
    expect(await admin.delete(id)).to.deep.equal({ id });
    expect(await spool.list()).to.deep.equal([other]);
    expect(await readdir(join(spool.dir, 'tmp'))).to.deep.equal([]);
  });

  it('answers ENOMSG "no message ID" for a well-formed id that is not queued', async () => {
    const id = await queue(spool);
    await admin.delete(id);
    const operations: Array<(id: string) => Promise<unknown>> = [
      (i) => admin.show(i), (i) => admin.retry(i), (i) => admin.delete(i), (i) => admin.hold(i), (i) => admin.release(i),
    ];
    for (const operation of operations) {
      const err = await rejectionOf(operation(id));
      expect(err).to.be.instanceOf(QueueAdminError);
      expect(err).to.include({ code: QUEUE_ADMIN_CODES.noMessage, message: `no message ${id}` });
    }
  });

  it('answers EBADID for a string that is not a queue id, without touching the disk', async () => {
    const err = await rejectionOf(admin.delete('../../etc'));
    expect(err).to.be.instanceOf(QueueAdminError).and.include({ code: QUEUE_ADMIN_CODES.badId });
  });

  it('is not live without a worker to wake', () => {
    expect(new QueueAdmin(spool).live).to.equal(false);
    expect(admin.live).to.equal(true);
  });
});

describe('attaching to a spool from the command line', () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'minimta-attach-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('uses an existing spool without deleting what is in tmp/ (a running relay may be receiving there)', async () => {
    const { spool } = await Spool.open(join(dir, 'spool'));
    const receipt = await spool.beginReceipt();
    const attached = await attachSpool(join(dir, 'spool'));
    expect(attached.dir).to.equal(spool.dir);
    expect(await readdir(join(dir, 'spool', 'tmp'))).to.deep.equal([receipt.id]);
    await receipt.abort();
  });

  it('refuses a directory that is not a spool, and creates nothing there', async () => {
    const err = await rejectionOf(attachSpool(join(dir, 'typo')));
    expect(err).to.be.instanceOf(QueueAdminError).and.include({ code: QUEUE_ADMIN_CODES.noSpool });
    expect((err as Error).message).to.include('queue/ is missing');
    expect(await readdir(dir)).to.deep.equal([]);
  });

  it('creates a missing spool for local submission, mode 0700', async () => {
    const spool = await attachOrCreateSpool(join(dir, 'new'));
    expect(statSync(join(spool.dir, 'queue')).mode & 0o777).to.equal(0o700);
    expect(statSync(join(spool.dir, 'tmp')).isDirectory()).to.equal(true);
  });
});

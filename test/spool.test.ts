import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdirSync, openSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, readlink, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { isFinished, pendingRecipients, validateEnvelope, type Envelope } from '../src/queue/spool/envelope.js';
import { isQueueId, newQueueId, queueIdTime } from '../src/queue/spool/queue-id.js';
import { Receipt, Spool, SpoolError } from '../src/queue/spool/spool.js';
import { GroupSync } from '../src/queue/spool/group-sync.js';

// ---- helpers ---------------------------------------------------------------

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves to the rejection of `promise`, failing if it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await withTimeout(promise, 5000, 'expected rejection');
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection, but it resolved');
}

function envelopeFor(id: string, overrides: Partial<Envelope> = {}): Omit<Envelope, 'size'> {
  const arrivedAt = queueIdTime(id).toISOString();
  return {
    version: 1,
    id,
    arrivedAt,
    client: { ip: '127.0.0.1', ehlo: 'client.example', protocol: 'ESMTP' },
    sender: 'alice@example.org',
    recipients: [
      { address: 'bob@example.com', state: 'pending', attempts: 0 },
      { address: 'carol@example.net', state: 'pending', attempts: 0 },
    ],
    body: '8BITMIME',
    smtputf8: false,
    capture: false,
    held: false,
    attempts: 0,
    nextAttemptAt: arrivedAt,
    ...overrides,
  };
}

const MESSAGE = Buffer.from(
  'Received: from client.example ([127.0.0.1])\r\n\tby mx.test with ESMTP id X; Mon, 1 Jan 2024 00:00:00 +0000\r\n' +
  'From: <alice@example.org>\r\nSubject: hello\r\n\r\nbody line 1\r\n\r\nbody line 3\r\n',
);

async function commitMessage(spool: Spool, bytes: Buffer = MESSAGE): Promise<string> {
  const receipt = await spool.beginReceipt();
  receipt.write(bytes);
  await withTimeout(receipt.commit(envelopeFor(receipt.id)), 5000, 'commit');
  return receipt.id;
}

/** V8's gc(), so memory can be measured without garbage still waiting to be collected. */
function collectGarbage(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

function retainedBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const MB = 1024 * 1024;

// ---- queue ids -------------------------------------------------------------

describe('queue ids', () => {
  it('are unique over 10 000 calls and come out in increasing order', () => {
    const ids = Array.from({ length: 10_000 }, () => newQueueId());
    expect(new Set(ids).size).to.equal(ids.length);
    expect([...ids].sort()).to.deep.equal(ids);
  });

  it('sort as strings in the order of their times, across digit counts', () => {
    const times = [0, 35, 36, 1_295, 1_296, 1_700_000_000_000, 1_700_000_000_001, 4_102_444_800_000];
    const ids = times.map((t) => newQueueId(t));
    expect([...ids].sort()).to.deep.equal(ids);
  });

  it('are 14 characters of [0-9A-Z] and give back their time', () => {
    const now = Date.parse('2024-05-06T07:08:09.010Z');
    const id = newQueueId(now);
    expect(id).to.match(/^[0-9A-Z]{14}$/);
    expect(isQueueId(id)).to.equal(true);
    expect(queueIdTime(id).toISOString()).to.equal('2024-05-06T07:08:09.010Z');
  });

  it('isQueueId rejects anything that could escape the spool dir or is not an id', () => {
    const id = newQueueId();
    for (const bad of ['../x', 'a/b', '..', '../../../../..', `${id.slice(0, 13)}/`, id.toLowerCase(),
      id.slice(0, 13), `${id}0`, '', `${id.slice(0, 13)}.`]) {
      expect(isQueueId(bad), JSON.stringify(bad)).to.equal(false);
    }
  });
});

// ---- envelope --------------------------------------------------------------

describe('envelope', () => {
  const valid = (): Envelope => ({ ...envelopeFor(newQueueId()), size: 10 });

  it('accepts a well-formed envelope and returns it', () => {
    const env = valid();
    expect(validateEnvelope(env)).to.equal(env);
  });

  it('refuses a bad shape with a SpoolError EBADENVELOPE naming the field', () => {
    const cases: [unknown, string][] = [
      [null, 'envelope is not an object'],
      [{ ...valid(), version: 2 }, 'envelope.version'],
      [{ ...valid(), id: '../etc' }, 'envelope.id'],
      [{ ...valid(), arrivedAt: 'yesterday' }, 'envelope.arrivedAt'],
      [{ ...valid(), size: -1 }, 'envelope.size'],
      [{ ...valid(), body: 'BINARYMIME' }, 'envelope.body'],
      [{ ...valid(), client: { ip: '::1', ehlo: 'x' } }, 'envelope.client.protocol'],
      [{ ...valid(), recipients: [] }, 'envelope.recipients'],
      [{ ...valid(), recipients: [{ address: 'a@b', state: 'lost', attempts: 0 }] }, 'envelope.recipients[0].state'],
    ];
    for (const [value, field] of cases) {
      expect(() => validateEnvelope(value), field).to.throw(SpoolError, field)
        .with.property('code', 'EBADENVELOPE');
    }
  });

  it('is finished when every recipient is delivered or failed', () => {
    const env = valid();
    expect(pendingRecipients(env).map((r) => r.address)).to.deep.equal(['bob@example.com', 'carol@example.net']);
    env.recipients[0]!.state = 'delivered';
    expect(isFinished(env)).to.equal(false);
    expect(pendingRecipients(env).map((r) => r.address)).to.deep.equal(['carol@example.net']);
    env.recipients[1]!.state = 'failed';
    expect(isFinished(env)).to.equal(true);
  });
});

// ---- spool -----------------------------------------------------------------

describe('spool', () => {
  let root: string;
  let spoolDir: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'minimta-spool-'));
    spoolDir = join(root, 'spool');
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const openSpool = async (): Promise<Spool> => (await Spool.open(spoolDir)).spool;
  const entries = async (sub: string): Promise<string[]> => (await readdir(join(spoolDir, sub))).sort();

  describe('open', () => {
    it('creates the spool, tmp/, queue/ and state/ owner-only (0700)', async () => {
      const { spool, cleaned } = await Spool.open(spoolDir);
      expect(cleaned).to.equal(0);
      expect(spool.dir).to.equal(spoolDir);
      for (const dir of [spoolDir, join(spoolDir, 'tmp'), join(spoolDir, 'queue'), join(spoolDir, 'state')]) {
        expect(statSync(dir).mode & 0o777, dir).to.equal(0o700);
      }
    });

    it('makes an existing spool directory owner-only', async () => {
      mkdirSync(spoolDir, { mode: 0o755 });
      await openSpool();
      expect(statSync(spoolDir).mode & 0o777).to.equal(0o700);
    });

    it('deletes what interrupted receipts, state writes and removals left behind, and reports how many', async () => {
      const spool = await openSpool();
      const committed = await commitMessage(spool);
      const unfinished = await spool.beginReceipt();
      unfinished.write(Buffer.from('half a message'));
      await withTimeout(unfinished.waitForDrain(), 5000, 'drain');
      await writeFile(join(spoolDir, 'tmp', `${committed}.state`), '{"half":');
      // A removal cut short between unlinking the message and its state file.
      await writeFile(join(spoolDir, 'state', newQueueId()), '{}');

      const { spool: reopened, cleaned } = await Spool.open(spoolDir);
      expect(cleaned).to.equal(3);
      expect(await entries('tmp')).to.deep.equal([]);
      expect(await entries('state')).to.deep.equal([]);
      expect(await reopened.list()).to.deep.equal([committed]);
      await unfinished.abort();
    });
  });

  describe('receipts', () => {
    it('syncs queue/ through one descriptor kept open from one commit to the next, which close() releases', async () => {
      const spool = await openSpool();
      const queueDir = await realpath(join(spoolDir, 'queue'));
      const descriptorsOnQueue = async (): Promise<number> => {
        const targets = await Promise.all((await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
        return targets.filter((target) => target === queueDir).length;
      };
      for (let i = 0; i < 3; i++) {
        const receipt = await spool.beginReceipt();
        receipt.write(MESSAGE);
        await withTimeout(receipt.commit(envelopeFor(receipt.id)), 5000, 'commit');
      }
      expect(await descriptorsOnQueue()).to.equal(1);
      await spool.close();
      expect(await descriptorsOnQueue()).to.equal(0);
    });

    it('commits exactly the bytes written, with an envelope that reads back equal and its size set', async () => {
      const spool = await openSpool();
      const receipt = await spool.beginReceipt();
      expect(isQueueId(receipt.id)).to.equal(true);
      receipt.write(MESSAGE.subarray(0, 50));
      receipt.write(MESSAGE.subarray(50));
      expect(receipt.bytesWritten).to.equal(MESSAGE.length);
      const envelope = envelopeFor(receipt.id, { client: { ip: '::1', ehlo: 'c', protocol: 'ESMTPSA', authUser: 'alice' } });
      await withTimeout(receipt.commit(envelope), 5000, 'commit');

      expect(await spool.readMessage(receipt.id)).to.deep.equal(MESSAGE);
      expect(await spool.readEnvelope(receipt.id)).to.deep.equal({ ...envelope, size: MESSAGE.length });
      expect(await spool.list()).to.deep.equal([receipt.id]);
      expect(await spool.exists(receipt.id)).to.equal(true);
      expect(await entries('tmp')).to.deep.equal([]);
      expect(await entries('queue')).to.deep.equal([receipt.id]);
      // One file a person can read: the message as received, then the envelope as one JSON line.
      const file = await readFile(spool.queueFilePath(receipt.id), 'utf8');
      expect(file).to.equal(`${MESSAGE.toString()}${JSON.stringify({ ...envelope, size: MESSAGE.length })}\n`);
      expect(statSync(spool.queueFilePath(receipt.id)).mode & 0o777).to.equal(0o600);
    });

    it('shows nothing in list() before commit', async () => {
      const spool = await openSpool();
      const receipt = await spool.beginReceipt();
      receipt.write(MESSAGE);
      await withTimeout(receipt.waitForDrain(), 5000, 'drain');
      expect(await spool.list()).to.deep.equal([]);
      expect(await spool.exists(receipt.id)).to.equal(false);
      await receipt.abort();
    });

    it('leaves nothing in tmp/ or queue/ after abort(), which may be called twice', async () => {
      const spool = await openSpool();
      const receipt = await spool.beginReceipt();
      receipt.write(MESSAGE);
      expect(await entries('tmp')).to.deep.equal([receipt.id]);
      await receipt.abort();
      await receipt.abort();
      expect(await entries('tmp')).to.deep.equal([]);
      expect(await entries('queue')).to.deep.equal([]);
      expect(() => receipt.write(MESSAGE)).to.throw(SpoolError).with.property('code', 'ECLOSED');
      expect(await rejectionOf(receipt.commit(envelopeFor(receipt.id)))).to.have.property('code', 'ECLOSED');
    });

    it('keeps a committed message when abort() comes after the commit', async () => {
      const spool = await openSpool();
      const receipt = await spool.beginReceipt();
      receipt.write(MESSAGE);
      await receipt.commit(envelopeFor(receipt.id));
      await receipt.abort();
      expect(await spool.list()).to.deep.equal([receipt.id]);
    });

    it('refuses to commit an envelope of another id, and queues nothing', async () => {
      const spool = await openSpool();
      const receipt = await spool.beginReceipt();
      receipt.write(MESSAGE);
      const err = await rejectionOf(receipt.commit(envelopeFor(newQueueId())));
      expect(err).to.be.instanceOf(SpoolError).with.property('code', 'EBADENVELOPE');
      await receipt.abort();
      expect(await entries('queue')).to.deep.equal([]);
      expect(await entries('tmp')).to.deep.equal([]);
    });

    it('commits a 20 MB message written in 64 KiB chunks without holding it in memory', async function () {
      this.timeout(60_000);
      const gc = collectGarbage();
      const spool = await openSpool();
      const chunkSize = 64 * 1024;
      const chunks = (20 * MB) / chunkSize;
      const expected = createHash('sha256');
      gc();
      const before = process.memoryUsage().heapUsed;
      const baseline = retainedBytes();
      let peak = 0;

      const receipt = await spool.beginReceipt();
      for (let i = 0; i < chunks; i++) {
        const chunk = Buffer.alloc(chunkSize, i % 251); // a fresh buffer each time: keeping them would show
        expected.update(chunk);
        if (!receipt.write(chunk)) await withTimeout(receipt.waitForDrain(), 5000, 'drain');
        if (i % 32 === 31) { gc(); peak = Math.max(peak, retainedBytes() - baseline); }
      }
      await withTimeout(receipt.commit(envelopeFor(receipt.id)), 30_000, 'commit');
      gc();
      const heapGrowth = process.memoryUsage().heapUsed - before;

      expect(receipt.bytesWritten).to.equal(20 * MB);
      expect((await spool.readEnvelope(receipt.id)).size).to.equal(20 * MB);
      const stored = createHash('sha256');
      for await (const chunk of spool.openMessage(receipt.id, 20 * MB)) stored.update(chunk);
      expect(stored.digest('hex')).to.equal(expected.digest('hex'));
      expect(peak, 'memory held while writing').to.be.below(10 * MB);
      expect(heapGrowth, 'heap growth').to.be.below(10 * MB);
    });
  });

  describe('storage failures', () => {
    it('captures a write error (ENOSPC) while streaming and rejects commit with a "storage full" SpoolError', async () => {
      // /dev/full fails every write with ENOSPC, even for root.
      const spool = await openSpool();
      const id = newQueueId();
      const dirs = { tmp: join(spoolDir, 'tmp'), queue: join(spoolDir, 'queue'), queueSync: GroupSync.ofDirectory(join(spoolDir, 'queue')), committing: new Set<string>() };
      const receipt = new Receipt(id, dirs, openSync('/dev/full', 'w'));

      receipt.write(Buffer.alloc(128 * 1024));
      await withTimeout(receipt.waitForDrain(), 5000, 'drain after a write error');
      expect(receipt.failed).to.be.instanceOf(SpoolError).with.property('code', 'ENOSPC');
      expect(receipt.write(Buffer.from('the rest of the DATA\r\n')), 'keeps accepting the rest').to.equal(true);

      const err = await rejectionOf(receipt.commit(envelopeFor(id)));
      expect(err).to.be.instanceOf(SpoolError);
      expect(err).to.include({ code: 'ENOSPC', storageFull: true });
      expect((err as SpoolError).reply).to.include({ code: 452, enhanced: '4.3.1' });
      expect(await spool.list()).to.deep.equal([]);
      await receipt.abort();
      expect(await entries('tmp')).to.deep.equal([]);
    });

    it('rejects commit with a SpoolError when the rename into queue/ fails (ENOTDIR), and shows nothing', async () => {
      const spool = await openSpool();
      const receipt = await spool.beginReceipt();
      receipt.write(MESSAGE);
      await rm(join(spoolDir, 'queue'), { recursive: true });
      await writeFile(join(spoolDir, 'queue'), 'not a directory');

      const err = await rejectionOf(receipt.commit(envelopeFor(receipt.id)));
      expect(err).to.be.instanceOf(SpoolError);
      expect(err).to.include({ code: 'ENOTDIR', storageFull: false });
      expect((err as SpoolError).reply).to.include({ code: 451, enhanced: '4.3.0' });
      await receipt.abort();
      expect(await entries('tmp')).to.deep.equal([]);
      await rm(join(spoolDir, 'queue'));
      await mkdir(join(spoolDir, 'queue'));
      expect(await spool.list()).to.deep.equal([]);
    });

    it('rejects beginReceipt with a SpoolError when tmp/ is unusable', async () => {
      const spool = await openSpool();
      await rm(join(spoolDir, 'tmp'), { recursive: true });
      await writeFile(join(spoolDir, 'tmp'), 'not a directory');
      const err = await rejectionOf(spool.beginReceipt());
      expect(err).to.be.instanceOf(SpoolError).with.property('code', 'ENOTDIR');
    });

    it('puts a prefix (DKIM-Signature) in front of a message already partly on disk: a synced copy takes its place', async () => {
      const spool = await openSpool();
      const receipt = await spool.beginReceipt();
      const chunk = Buffer.from('x'.repeat(998) + '\r\n');
      const body = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), ...Array.from({ length: 200 }, () => chunk)]);
      // More than 64 KiB: the first bytes reach the file before the prefix is known.
      for (let at = 0; at < body.length; at += 16 * 1024) {
        if (!receipt.write(body.subarray(at, at + 16 * 1024))) await receipt.waitForDrain();
      }
      const prefix = Buffer.from('DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s1; b=abc\r\n');
      const stored = await receipt.commit(envelopeFor(receipt.id), prefix);

      expect(stored.size).to.equal(prefix.length + body.length);
      expect((await spool.readMessage(receipt.id)).equals(Buffer.concat([prefix, body]))).to.equal(true);
      expect((await spool.listAll()).envelopes.map((e) => e.id)).to.deep.equal([receipt.id]);
      expect(await entries('tmp'), 'neither the original nor the copy is left').to.deep.equal([]);
    });

    it('answers only after the syncs: renamed into queue/ but not listed while they run', async () => {
      const spool = await openSpool();
      const id = newQueueId();
      let release: () => void = () => undefined;
      let state!: { dirs: { committing: Set<string> }; commit: Promise<void>; isCommitted: () => boolean };
      const syncStarted = new Promise<void>((started) => {
        const queueSync = new GroupSync(() => { started(); return new Promise<void>((resolve) => { release = resolve; }); });
        const dirs = { tmp: join(spoolDir, 'tmp'), queue: join(spoolDir, 'queue'), queueSync, committing: new Set<string>() };
        const receipt = new Receipt(id, dirs, openSync(join(spoolDir, 'tmp', id), 'wx', 0o600));
        receipt.write(MESSAGE);
        let committed = false;
        const commit = receipt.commit(envelopeFor(id)).then(() => { committed = true; });
        state = { dirs, commit, isCommitted: () => committed };
      });
      await withTimeout(syncStarted, 5000, 'the directory sync to start');

      expect(await entries('queue'), 'the name is in queue/ already').to.deep.equal([id]);
      expect(state.dirs.committing.has(id), 'marked as committing').to.equal(true);
      expect(state.isCommitted(), 'no success before the directory sync').to.equal(false);
      release();
      await withTimeout(state.commit, 5000, 'the commit');
      expect(state.dirs.committing.size, 'no longer committing').to.equal(0);
      expect((await spool.listAll()).envelopes.map((e) => e.id)).to.deep.equal([id]);
    });

    it('moves the file back to tmp/ and rejects with 451 when the directory sync fails', async () => {
      await openSpool();
      const id = newQueueId();
      const queueSync = new GroupSync(() => Promise.reject(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' })));
      const dirs = { tmp: join(spoolDir, 'tmp'), queue: join(spoolDir, 'queue'), queueSync, committing: new Set<string>() };
      const receipt = new Receipt(id, dirs, openSync(join(spoolDir, 'tmp', id), 'wx', 0o600));
      receipt.write(MESSAGE);

      const err = await rejectionOf(receipt.commit(envelopeFor(id)));
      expect(err).to.be.instanceOf(SpoolError).with.property('code', 'EIO');
      expect((err as SpoolError).reply).to.include({ code: 451 });
      expect(await entries('queue'), 'not queued').to.deep.equal([]);
      expect(dirs.committing.size).to.equal(0);
      await receipt.abort();
      expect(await entries('tmp')).to.deep.equal([]);
    });

    it('reports a queue file cut short by a crash during its syncs as corrupt, never as a message', async () => {
      const spool = await openSpool();
      const receipt = await spool.beginReceipt();
      receipt.write(MESSAGE);
      await receipt.commit(envelopeFor(receipt.id));
      // What a crash before the fdatasync finished can leave: the name, and fewer bytes.
      const path = join(spoolDir, 'queue', receipt.id);
      const whole = await readFile(path);
      await writeFile(path, whole.subarray(0, whole.length - 20));

      const listing = await spool.listAll();
      expect(listing.envelopes).to.deep.equal([]);
      expect(listing.corrupt.map((c) => c.name)).to.deep.equal([receipt.id]);
    });
  });

  describe('committed messages', () => {
    it('lists ids oldest first', async () => {
      const spool = await openSpool();
      const ids = [await commitMessage(spool), await commitMessage(spool), await commitMessage(spool)];
      expect(await spool.list()).to.deep.equal(ids);
    });

    it('replaces an envelope atomically with a state file, leaving nothing in tmp/', async () => {
      const spool = await openSpool();
      const id = await commitMessage(spool);
      const env = await spool.readEnvelope(id);
      env.recipients[0] = { ...env.recipients[0]!, state: 'failed', attempts: 1, lastReply: '556 5.1.10 null MX', remoteMta: 'mx.example.com' };
      env.attempts = 1;
      await spool.writeEnvelope(env);
      expect(await spool.readEnvelope(id)).to.deep.equal(env);
      expect(await entries('state')).to.deep.equal([id]);
      expect(await entries('tmp')).to.deep.equal([]);
      expect(await spool.readMessage(id)).to.deep.equal(MESSAGE);
    });

    it('applies concurrent envelope writes of one id in order', async () => {
      const spool = await openSpool();
      const id = await commitMessage(spool);
      const env = await spool.readEnvelope(id);
      await Promise.all([1, 2, 3, 4, 5].map((n) => spool.writeEnvelope({ ...env, attempts: n })));
      expect((await spool.readEnvelope(id)).attempts).to.equal(5);
      expect(await entries('tmp')).to.deep.equal([]);
    });

    it('refuses to write an envelope for a message that is not queued', async () => {
      const spool = await openSpool();
      const err = await rejectionOf(spool.writeEnvelope({ ...envelopeFor(newQueueId()), size: 1 }));
      expect(err).to.be.instanceOf(SpoolError).with.property('code', 'ENOENT');
      expect(await entries('queue')).to.deep.equal([]);
    });

    it('removes a message: gone from list() and from disk; removing it again is ENOENT', async () => {
      const spool = await openSpool();
      const keep = await commitMessage(spool);
      const id = await commitMessage(spool);
      await spool.writeEnvelope({ ...(await spool.readEnvelope(id)), attempts: 1 });
      await spool.remove(id);
      expect(await spool.list()).to.deep.equal([keep]);
      expect(await spool.exists(id)).to.equal(false);
      expect(await entries('tmp')).to.deep.equal([]);
      expect(await entries('state')).to.deep.equal([]);
      const err = await rejectionOf(spool.remove(id));
      expect(err).to.be.instanceOf(SpoolError).with.property('code', 'ENOENT');
    });

    it('removes the stored transcripts with the message, also in a relay that stores none now but found some left', async () => {
      const spool = await openSpool();
      const [traced, untraced] = [await commitMessage(spool), await commitMessage(spool)];
      await mkdir(join(spoolDir, 'transcripts'));
      await writeFile(join(spoolDir, 'transcripts', `${traced}.in.txt`), 'S: 220\r\n');
      await writeFile(join(spoolDir, 'transcripts', `${traced}.out.txt`), 'C: EHLO\r\n');
      spool.storesNoTranscripts();
      await spool.remove(traced);
      expect(await entries('transcripts')).to.deep.equal([]);
      // None kept and no transcripts/ (removed here): a removal does not look for them, and works.
      await rm(join(spoolDir, 'transcripts'), { recursive: true });
      spool.storesNoTranscripts();
      await spool.remove(untraced);
      expect(await spool.list()).to.deep.equal([]);
      await spool.close();
    });

    it('refuses ids that are not queue ids (no path can escape the spool)', async () => {
      const spool = await openSpool();
      for (const bad of ['../x', 'a/b', '..']) {
        expect(() => spool.queueFilePath(bad)).to.throw(SpoolError).with.property('code', 'EBADID');
        expect(await rejectionOf(spool.remove(bad))).to.have.property('code', 'EBADID');
        expect(await rejectionOf(spool.readEnvelope(bad))).to.have.property('code', 'EBADID');
        expect(await rejectionOf(spool.exists(bad))).to.have.property('code', 'EBADID');
      }
    });

    it('reads the header section of a message, up to the empty line or maxBytes', async () => {
      const spool = await openSpool();
      const id = await commitMessage(spool);
      const head = await spool.readMessageHead(id);
      const headerEnd = MESSAGE.indexOf('\r\n\r\n') + 2;
      expect(head.toString()).to.equal(MESSAGE.subarray(0, headerEnd).toString());
      expect((await spool.readMessageHead(id, 20)).toString()).to.equal(MESSAGE.subarray(0, 20).toString());
      const bare = await commitMessage(spool, Buffer.from('\r\nno header at all\r\n'));
      expect(await spool.readMessageHead(bare)).to.have.length(0);
    });

    it('finds the end of a header section that straddles a read boundary', async () => {
      const spool = await openSpool();
      // 16 KiB - 1 bytes: the empty line's CR is the last byte of the first 16 KiB read, its LF the first of the next.
      const header = `X-Long: ${'a'.repeat(16 * 1024 - 11)}\r\n`;
      const message = Buffer.from(`${header}\r\nbody\r\n`);
      expect(header.length).to.equal(16 * 1024 - 1);
      const id = await commitMessage(spool, message);
      expect((await spool.readMessageHead(id)).toString()).to.equal(header);
    });

    it('lists every envelope and reports corrupt entries without failing', async () => {
      const spool = await openSpool();
      const good = await commitMessage(spool);
      const changed = await commitMessage(spool);
      await spool.writeEnvelope({ ...(await spool.readEnvelope(changed)), attempts: 3 });
      const broken = await commitMessage(spool);
      await writeFile(join(spoolDir, 'queue', broken), `${MESSAGE.toString()}{"version": 1, "id": \n`);
      const noEnvelope = await commitMessage(spool);
      await writeFile(join(spoolDir, 'queue', noEnvelope), MESSAGE);
      const badState = await commitMessage(spool);
      await writeFile(join(spoolDir, 'state', badState), 'not json\n');
      await mkdir(join(spoolDir, 'queue', 'stray'));

      const { envelopes, corrupt, withState } = await spool.listAll();
      expect(envelopes.map((e) => [e.id, e.attempts])).to.deep.equal([[good, 0], [changed, 3]]);
      expect([...withState].sort()).to.deep.equal([changed, badState].sort());
      expect(corrupt.map((c) => [c.name, c.error.code])).to.deep.equal([
        [broken, 'EBADENVELOPE'],
        [noEnvelope, 'EBADENVELOPE'],
        [badState, 'EBADENVELOPE'],
        ['stray', 'EBADID'],
      ]);
      expect(await rejectionOf(spool.readEnvelope(broken))).to.be.instanceOf(SpoolError).with.property('code', 'EBADENVELOPE');
    });
  });
});

// A spool that someone else can write into must never be used: a planted
// queue/<id> -> /etc/shadow would be mailed out (issue 8, defect 1).
// These tests run as root, as the attack needs: directories are given to
// another uid with chown, and spool files are swapped for links.

import { expect } from 'chai';
import { chmod, chown, link, mkdir, open, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { captureIo, runCli } from './helpers/cli-io.js';
import { makeTempDir, startTestRelay } from './helpers/test-relay.js';
import { startDeliveryWorld, type DeliveryWorld } from './helpers/delivery-env.js';
import type { Zone } from './helpers/dns-server.js';
import { queueCommand } from '../src/cli/queue-command.js';
import { sendmailCommand } from '../src/cli/sendmail-command.js';
import { Spool, UnsafeSpoolError } from '../src/queue/spool/spool.js';
import { checkSpoolOwnership, fileProblem } from '../src/queue/spool/spool-safety.js';
import { PROCESS_TEST_TIMEOUT_MS } from './helpers/process-timeouts.js';

/** Another user: the attacker. */
const OTHER_UID = 65534;
const SECRET = 'root:$6$very-secret-hash:19000:0:99999:7:::';

async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection, but it resolved');
}

async function commitMessage(spool: Spool): Promise<string> {
  const receipt = await spool.beginReceipt();
  receipt.write(Buffer.from('Subject: hello\r\n\r\nbody\r\n'));
  const arrivedAt = new Date().toISOString();
  await receipt.commit({
    version: 1,
    id: receipt.id,
    arrivedAt,
    client: { ip: '127.0.0.1', ehlo: 'c.test', protocol: 'ESMTP' },
    sender: 'root@mx.test',
    recipients: [{ address: 'attacker@dest.test', state: 'pending', attempts: 0 }],
    body: '7BIT',
    smtputf8: false,
    capture: false,
    held: false,
    attempts: 0,
    nextAttemptAt: arrivedAt,
  });
  return receipt.id;
}

describe('spool ownership and safe opens (issue 8, defect 1)', () => {
  let dir: string;
  let spoolDir: string;
  let secretFile: string;
  beforeEach(async () => {
    dir = await makeTempDir();
    spoolDir = join(dir, 'spool');
    secretFile = join(dir, 'shadow');
    await writeFile(secretFile, SECRET, { mode: 0o600 });
  });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  /** The set-up: a user made the directory and filled it; root is asked to use it. */
  async function plantSpool(): Promise<string> {
    const id = '0MX0OWGKC01M3M';
    await mkdir(join(spoolDir, 'queue'), { recursive: true, mode: 0o700 });
    await mkdir(join(spoolDir, 'tmp'), { mode: 0o700 });
    await symlink(secretFile, join(spoolDir, 'queue', id));
    for (const path of [spoolDir, join(spoolDir, 'queue'), join(spoolDir, 'tmp')]) {
      await chown(path, OTHER_UID, OTHER_UID);
    }
    return id;
  }

  describe('the spool and its directories', () => {
    it('refuses a spool directory owned by another user, naming it, and creates nothing in it', async () => {
      await mkdir(spoolDir, { mode: 0o700 });
      await chown(spoolDir, OTHER_UID, OTHER_UID);
      const err = await rejectionOf(Spool.open(spoolDir));
      expect(err).to.be.instanceOf(UnsafeSpoolError);
      expect(err.message).to.include(`${spoolDir} is owned by uid ${OTHER_UID}`);
      expect(existsSync(join(spoolDir, 'queue'))).to.equal(false);
    });

    it('refuses a spool writable by group or others, even when it is ours', async () => {
      for (const mode of [0o770, 0o707, 0o777]) {
        await mkdir(spoolDir, { recursive: true });
        await chmod(spoolDir, mode);
        const err = await rejectionOf(Spool.open(spoolDir));
        expect(err, mode.toString(8)).to.be.instanceOf(UnsafeSpoolError);
        expect(err.message).to.include(`${spoolDir} is writable by group or others (mode 0${mode.toString(8)})`);
      }
    });

    it('refuses a queue/ or state/ of another user inside a spool of ours, and never reads a message file of theirs', async () => {
      const { spool } = await Spool.open(spoolDir);
      const id = await commitMessage(spool);
      await chown(join(spoolDir, 'queue', id), OTHER_UID, OTHER_UID);
      const { envelopes, corrupt } = await spool.listAll();
      expect(envelopes).to.deep.equal([]);
      expect(corrupt[0]!.error.message).to.include(`${join(spoolDir, 'queue', id)}: it is owned by uid ${OTHER_UID}`);
      await chown(join(spoolDir, 'queue', id), 0, 0);
      for (const sub of ['queue', 'state']) {
        await chown(join(spoolDir, sub), OTHER_UID, OTHER_UID);
        const refused = await rejectionOf(Spool.open(spoolDir));
        expect(refused.message).to.include(`${join(spoolDir, sub)} is owned by uid ${OTHER_UID}`);
        await chown(join(spoolDir, sub), 0, 0);
      }
    });

    it('refuses a queue/ that is a symbolic link, even to a directory of ours', async () => {
      await Spool.open(spoolDir);
      await mkdir(join(dir, 'elsewhere'), { mode: 0o700 });
      await rm(join(spoolDir, 'queue'), { recursive: true });
      await symlink(join(dir, 'elsewhere'), join(spoolDir, 'queue'));
      const err = await rejectionOf(Spool.open(spoolDir));
      expect(err.message).to.include(`${join(spoolDir, 'queue')} is a symbolic link`);
    });

    it('accepts a spool path that is our own symbolic link to a directory of ours', async () => {
      await mkdir(join(dir, 'real'), { mode: 0o700 });
      await symlink(join(dir, 'real'), spoolDir);
      const { spool } = await Spool.open(spoolDir);
      await commitMessage(spool);
      expect(await spool.list()).to.have.length(1);
      await checkSpoolOwnership(spoolDir);
    });

    it('refuses a spool path that is a link to a directory of another user', async () => {
      await mkdir(join(dir, 'theirs'), { mode: 0o700 });
      await chown(join(dir, 'theirs'), OTHER_UID, OTHER_UID);
      await symlink(join(dir, 'theirs'), spoolDir);
      const err = await rejectionOf(Spool.open(spoolDir));
      expect(err.message).to.include(`${spoolDir} (through its symbolic link) is owned by uid ${OTHER_UID}`);
    });
  });

  describe('spool files (O_NOFOLLOW, then fstat)', () => {
    let spool: Spool;
    let id: string;
    beforeEach(async () => {
      ({ spool } = await Spool.open(spoolDir));
      id = await commitMessage(spool);
    });

    const messageFile = () => join(spoolDir, 'queue', id);

    it('does not read a message file that is a symbolic link', async () => {
      await rm(messageFile());
      await symlink(secretFile, messageFile());
      const head = await rejectionOf(spool.readMessageHead(id));
      expect(head).to.be.instanceOf(UnsafeSpoolError);
      expect(head.message).to.include(`${messageFile()}: it is a symbolic link`);
      const chunks: Buffer[] = [];
      const streamed = await rejectionOf((async () => { for await (const c of spool.openMessage(id, 100)) chunks.push(c); })());
      expect(streamed).to.be.instanceOf(UnsafeSpoolError);
      expect(Buffer.concat(chunks).toString()).to.not.include('secret');
    });

    it('does not read a message file with a second hard link, or owned by another user', async () => {
      await rm(messageFile());
      await link(secretFile, messageFile());
      expect((await rejectionOf(spool.readMessageHead(id))).message).to.include('has 2 hard links');
      await rm(messageFile());
      await writeFile(messageFile(), 'Subject: theirs\r\n\r\n');
      await chown(messageFile(), OTHER_UID, OTHER_UID);
      expect((await rejectionOf(spool.readMessageHead(id))).message).to.include(`is owned by uid ${OTHER_UID}`);
    });

    it('lists a message whose state file is a symbolic link as corrupt, without reading the target', async () => {
      await spool.update(id, (env) => { env.attempts = 1; });
      const envelopeFile = join(spoolDir, 'state', id);
      await writeFile(join(dir, 'fake.json'), await readFile(envelopeFile));
      await rm(envelopeFile);
      await symlink(join(dir, 'fake.json'), envelopeFile);
      const { envelopes, corrupt } = await spool.listAll();
      expect(envelopes).to.deep.equal([]);
      expect(corrupt.map((c) => c.name)).to.deep.equal([id]);
      expect(corrupt[0]!.error.message).to.include('is a symbolic link');
    });

    it('reads a file replaced or removed while it was open (0 links): no attack, the version that was there', async () => {
      const path = join(dir, 'removed');
      await writeFile(path, 'x', { mode: 0o600 });
      const handle = await open(path, 'r');
      await rm(path);
      const stats = await handle.stat();
      await handle.close();
      expect(stats.nlink).to.equal(0);
      expect(fileProblem(stats)).to.equal(undefined);
    });

    it('never writes an envelope through a symbolic link', async () => {
      const victim = join(dir, 'victim');
      await writeFile(victim, 'untouched');
      await symlink(victim, join(spoolDir, 'tmp', `${id}.state`));
      const err = await rejectionOf(spool.update(id, (env) => { env.held = true; }));
      // Created with O_CREAT | O_EXCL | O_NOFOLLOW: a name already there, link or not, is never opened.
      expect(err.message).to.include(`tmp/${id}.state`);
      expect(await readFile(victim, 'utf8')).to.equal('untouched');
    });
  });

  describe('the queue commands and the relay', () => {
    it('queue flush and queue list refuse a planted spool, naming it (exit 2)', async () => {
      await plantSpool();
      for (const sub of ['flush', 'list']) {
        const captured = captureIo('', { controlTimeoutMs: 1000 });
        const code = await queueCommand([sub, '--spool', spoolDir], captured.io);
        expect(code, sub).to.equal(2);
        expect(captured.stderr()).to.include(`refusing the spool: ${spoolDir} is owned by uid ${OTHER_UID}`);
        expect(captured.stdout()).to.equal('');
      }
    });

    it('sendmail refuses a planted spool, writing nothing into it', async () => {
      await plantSpool();
      const captured = captureIo('Subject: private\r\n\r\nroot only\r\n');
      const code = await sendmailCommand(['--spool', spoolDir, 'root@example.com'], captured.io);
      expect(code).to.equal(2);
      expect(captured.stderr()).to.include(`${spoolDir} is owned by uid ${OTHER_UID}`);
    });

    it('the relay refuses to start on a planted spool', async () => {
      await plantSpool();
      const err = await rejectionOf(startTestRelay({ spool: spoolDir }));
      expect(err).to.be.instanceOf(UnsafeSpoolError);
      expect(err.message).to.include(spoolDir);
    });

    it('minimta serve exits 2 on a planted spool, naming the path', async function () {
      this.timeout(PROCESS_TEST_TIMEOUT_MS);
      await plantSpool();
      const result = await runCli(['serve', '--listen', '127.0.0.1:0', '--spool', spoolDir]);
      expect(result.code).to.equal(2);
      expect(result.stderr).to.include(`minimta: refusing the spool: ${spoolDir} is owned by uid ${OTHER_UID}`);
      expect(result.stdout).to.not.include('minimta started');
    });
  });

  describe('delivery of a message file swapped for a link', () => {
    const ZONES: Record<string, Zone> = {
      'dest.test': { mx: [{ preference: 10, exchange: 'mx.dest.test' }] },
      'mx.dest.test': { a: ['127.0.0.2'] },
    };
    let world: DeliveryWorld;
    afterEach(async () => { await world.stop(); });

    it('sends nothing of the link target, and keeps the message deferred', async () => {
      world = await startDeliveryWorld(structuredClone(ZONES));
      const sink = world.sinks[0]!;
      sink.behaviour = { replies: { RCPT: '451 4.3.0 try later' } };
      const { id } = await world.send('root@mx.minimta.test', ['attacker@dest.test']);
      await world.attempt(id, 1);
      const message = join(world.relay.spool.dir, 'queue', id);
      await rm(message);
      await symlink(secretFile, message);
      sink.behaviour = {};
      await world.relay.queue.retry(id);
      const second = await world.attempt(id, 2, 8000);
      expect(second.done).to.equal(false);
      expect(second.outcomes.map((o) => o.kind)).to.deep.equal(['deferred']);
      expect(sink.messages.map((m) => m.data.toString()).join('')).to.not.include('very-secret');
    });
  });
});

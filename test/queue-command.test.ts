import { expect } from 'chai';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { join } from 'node:path';
import { captureIo, runCli } from './helpers/cli-io.js';
import { makeTempDir, startTestRelay, type TestRelay } from './helpers/test-relay.js';
import { queueCommand } from '../src/cli/queue-command.js';
import { formatListing } from '../src/cli/queue-format.js';
import { controlSocketPath } from '../src/control/control-protocol.js';
import { Spool } from '../src/queue/spool/spool.js';
import type { Envelope } from '../src/queue/spool/envelope.js';
import { PROCESS_TEST_TIMEOUT_MS } from './helpers/process-timeouts.js';

const UNKNOWN_ID = '0MX0OWGKC01M3M';

async function queueMessage(spool: Spool, change: Partial<Envelope> = {}): Promise<string> {
  const receipt = await spool.beginReceipt();
  receipt.write(Buffer.from('Received: from c.test ([127.0.0.1]) by mx.test with ESMTP id X; Sat, 28 Nov 2026 17:34:12 +0000\r\nSubject: hello\r\n\r\nbody\r\n'));
  await receipt.commit({
    version: 1,
    id: receipt.id,
    arrivedAt: '2026-11-28T17:34:12.435Z',
    client: { ip: '127.0.0.1', ehlo: 'c.test', protocol: 'ESMTP' },
    sender: 'me@example.com',
    recipients: [
      { address: 'u@normal.test', state: 'pending', attempts: 2, lastReply: '451 4.4.3 DNS lookup failed' },
      { address: 'v@normal.test', state: 'delivered', attempts: 1, lastReply: '250 2.0.0 Ok: queued as 4F1A' },
    ],
    body: '7BIT',
    smtputf8: false,
    capture: false,
    held: false,
    attempts: 2,
    nextAttemptAt: '2026-11-28T17:39:12.000Z',
    ...change,
  });
  return receipt.id;
}

describe('minimta queue (the command)', () => {
  let dir: string;
  let spoolDir: string;
  let spool: Spool;
  beforeEach(async () => {
    dir = await makeTempDir();
    spoolDir = join(dir, 'spool');
    ({ spool } = await Spool.open(spoolDir));
  });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  async function run(...args: string[]) {
    const captured = captureIo('', { controlTimeoutMs: 1000 });
    const code = await queueCommand([...args, '--spool', spoolDir], captured.io);
    return { code, stdout: captured.stdout(), stderr: captured.stderr() };
  }

  describe('with no relay running: on the spool directly', () => {
    it('lists like mailq: each message with its recipients, then the totals', async () => {
      const id = await queueMessage(spool);
      const bounce = await queueMessage(spool, {
        arrivedAt: '2026-11-28T17:50:00.000Z', sender: '', bounce: true, held: true,
        recipients: [{ address: 'me@example.com', state: 'pending', attempts: 0 }],
      });
      const { code, stdout } = await run('list');
      expect(code).to.equal(0);
      expect(stdout).to.equal([
        `${id}  2026-11-28T17:34:12Z  ${(await spool.readEnvelope(id)).size} bytes  <me@example.com>`,
        '  pending    <u@normal.test>  attempts=2  next=2026-11-28T17:39:12Z  last: 451 4.4.3 DNS lookup failed',
        '  delivered  <v@normal.test>  attempts=1  last: 250 2.0.0 Ok: queued as 4F1A',
        '',
        `${bounce}  2026-11-28T17:50:00Z  ${(await spool.readEnvelope(bounce)).size} bytes  <>  [held, bounce]`,
        '  pending    <me@example.com>  attempts=0  next=2026-11-28T17:39:12Z',
        '',
        '2 messages, 2 recipients pending',
        '',
      ].join('\n'));
    });

    it('says "Mail queue is empty" for an empty queue', async () => {
      expect(await run('list')).to.deep.equal({ code: 0, stdout: 'Mail queue is empty\n', stderr: '' });
    });

    it('prints the envelopes as a JSON array with --json', async () => {
      const id = await queueMessage(spool);
      const { code, stdout } = await run('list', '--json');
      expect(code).to.equal(0);
      const envelopes = JSON.parse(stdout) as Envelope[];
      expect(envelopes).to.deep.equal([await spool.readEnvelope(id)]);
    });

    it('shows one message: the envelope, then its header section', async () => {
      const id = await queueMessage(spool, { held: true });
      const { code, stdout } = await run('show', id);
      expect(code).to.equal(0);
      expect(stdout).to.match(new RegExp(`^id: +${id}\\n`));
      expect(stdout).to.include('sender:       <me@example.com>\n');
      expect(stdout).to.include('flags:        held\n');
      expect(stdout).to.include('client:       [127.0.0.1] (ehlo c.test) with ESMTP\n');
      expect(stdout).to.include('  pending    <u@normal.test>  attempts=2');
      expect(stdout.endsWith('\n\nReceived: from c.test ([127.0.0.1]) by mx.test with ESMTP id X; Sat, 28 Nov 2026 17:34:12 +0000\nSubject: hello\n')).to.equal(true);
    });

    it('shows what a client sent with its control characters as "?", so no ESC sequence reaches the terminal', async () => {
      const receipt = await spool.beginReceipt();
      receipt.write(Buffer.from('Subject: \x1b]0;owned\x07hi\x1b[2J\r\nX-Folded: a\r\n\tb\r\n\r\nbody\r\n'));
      await receipt.commit({
        version: 1, id: receipt.id, arrivedAt: '2026-11-28T17:34:12.435Z',
        client: { ip: '127.0.0.1', ehlo: 'evil\x1b[31m.test', protocol: 'ESMTP' },
        sender: 'me@example.com', recipients: [{ address: 'u@normal.test', state: 'pending', attempts: 0 }],
        body: '7BIT', smtputf8: false, capture: false, held: false, attempts: 0, nextAttemptAt: '2026-11-28T17:39:12.000Z',
      });
      const { code, stdout } = await run('show', receipt.id);
      expect(code).to.equal(0);
      expect(stdout).to.not.match(/[\x00-\x08\x0b-\x1f\x7f]/);
      expect(stdout).to.include('client:       [127.0.0.1] (ehlo evil?[31m.test) with ESMTP\n');
      expect(stdout).to.include('Subject: ?]0;owned?hi?[2J\nX-Folded: a\n\tb\n');
    });

    it('holds, releases, retries, flushes and deletes, saying that the relay will act when it starts', async () => {
      const id = await queueMessage(spool);
      expect((await run('hold', id)).stdout).to.equal(`${id}: held\n`);
      expect((await spool.readEnvelope(id)).held).to.equal(true);
      expect((await run('retry', id)).stdout).to.equal(`${id}: held; release it to deliver it\n`);
      expect((await run('flush')).stdout).to.equal('0 messages will be tried when the relay starts\n');
      expect((await run('release', id)).stdout).to.equal(`${id}: released; it will be tried when the relay starts\n`);
      expect((await spool.readEnvelope(id)).held).to.equal(false);
      expect((await run('flush')).stdout).to.equal('1 message will be tried when the relay starts\n');
      expect((await run('delete', id)).stdout).to.equal(`${id}: deleted\n`);
      expect(await spool.list()).to.deep.equal([]);
    });

    it('delete --all removes every message, captured ones too; --all goes with delete only', async () => {
      await queueMessage(spool);
      await queueMessage(spool, { capture: true });
      expect((await run('delete', '--all')).stdout).to.equal('2 messages deleted\n');
      expect(await spool.list()).to.deep.equal([]);
      expect((await run('hold', '--all')).code).to.equal(2);
      expect((await run('delete', '--all', UNKNOWN_ID)).code).to.equal(2);
    });

    it('exits 1 with "no message ID" for an id that is not queued', async () => {
      expect(await run('hold', UNKNOWN_ID)).to.deep.equal({ code: 1, stdout: '', stderr: `minimta: queue: no message ${UNKNOWN_ID}\n` });
    });

    it('exits 2 for a malformed id, before looking at the spool', async () => {
      const captured = captureIo();
      const code = await queueCommand(['delete', '../etc', '--spool', join(dir, 'nowhere')], captured.io);
      expect(code).to.equal(2);
      expect(captured.stderr()).to.equal('minimta: queue: not a queue id: "../etc"\n');
    });

    it('exits 1 with a clear message when the spool is not there, and creates nothing', async () => {
      const captured = captureIo();
      const code = await queueCommand(['list', '--spool', join(dir, 'typo')], captured.io);
      expect(code).to.equal(1);
      expect(captured.stderr()).to.equal(`minimta: queue: cannot use the spool at ${join(dir, 'typo')}: queue/ is missing\n`);
      expect(existsSync(join(dir, 'typo'))).to.equal(false);
    });

    it('exits 2 with the usage for an unknown subcommand, a missing id, or --json where it does not belong', async () => {
      for (const args of [['purge'], ['hold'], ['flush', UNKNOWN_ID], ['show', UNKNOWN_ID, '--json']]) {
        const { code, stderr } = await run(...args);
        expect(code, args.join(' ')).to.equal(2);
        expect(stderr).to.include('usage: minimta queue');
      }
    });

    it('takes the spool from the config file', async () => {

      await queueMessage(spool);
      const config = join(dir, 'config.json');
      await writeFile(config, JSON.stringify({ spool: spoolDir }));
      const captured = captureIo();
      expect(await queueCommand(['list', '--config', config], captured.io)).to.equal(0);
      expect(captured.stdout()).to.include('1 message, 1 recipient pending');
    });
  });

  describe('with a relay on the spool', () => {
    let relay: TestRelay | undefined;
    afterEach(async () => { await relay?.cleanup(); relay = undefined; });

    it('goes through the control socket, and says the worker acts now', async () => {
      relay = await startTestRelay({ spool: spoolDir });
      const id = await queueMessage(relay.spool);
      expect((await run('release', id)).stdout).to.equal(`${id}: released; it will be tried now\n`);
      expect((await run('flush')).stdout).to.equal('1 message will be tried now\n');
      // purge over the control socket
      expect((await run('delete', '--all')).stdout).to.equal('1 message deleted\n');
      expect(await relay.spool.list()).to.deep.equal([]);
    });

    it('exits 1 with "server not reachable" when the socket is there but nobody answers', async () => {
      const mute = net.createServer(() => { /* accepts, never answers */ }).listen(controlSocketPath(spoolDir));
      await once(mute, 'listening');
      try {
        const captured = captureIo('', { controlTimeoutMs: 200 });
        const code = await queueCommand(['list', '--spool', spoolDir], captured.io);
        expect(code).to.equal(1);
        expect(captured.stderr()).to.match(/^minimta: queue: server not reachable at .*control\.sock: no answer within 200 ms\n$/);
      } finally {
        mute.close();
      }
    });
  });

  describe('as a process (end to end)', function () {
    this.timeout(PROCESS_TEST_TIMEOUT_MS);
    let relay: TestRelay | undefined;
    afterEach(async () => { await relay?.cleanup(); relay = undefined; });

    it('prints "Mail queue is empty" for an empty spool', async () => {
      expect(await runCli(['queue', 'list', '--spool', spoolDir])).to.deep.equal({ code: 0, stdout: 'Mail queue is empty\n', stderr: '' });
    });

    it('lists a running relay\'s queue as JSON', async () => {
      relay = await startTestRelay({ spool: spoolDir });
      const id = await queueMessage(relay.spool);
      const result = await runCli(['queue', 'list', '--json', '--spool', spoolDir]);
      expect(result.code, result.stderr).to.equal(0);
      expect(JSON.parse(result.stdout)).to.deep.equal([await relay.spool.readEnvelope(id)]);
    });

    it('exits 1 with "no message ID" when deleting an id that is not queued', async () => {
      expect(await runCli(['queue', 'delete', UNKNOWN_ID, '--spool', spoolDir]))
        .to.deep.equal({ code: 1, stdout: '', stderr: `minimta: queue: no message ${UNKNOWN_ID}\n` });
    });

    it('exits 2 with the usage when no subcommand is given', async () => {
      const result = await runCli(['queue']);
      expect(result.code).to.equal(2);
      expect(result.stderr).to.include('minimta: queue: no subcommand given\nusage: minimta queue');
    });
  });
});

describe('queue list format', () => {
  it('counts in the singular and plural', () => {
    const envelope = {
      version: 1, id: UNKNOWN_ID, arrivedAt: '2026-11-28T17:34:12.000Z', client: { ip: '127.0.0.1', ehlo: 'c', protocol: 'ESMTP' },
      sender: 'a@b.test', recipients: [{ address: 'u@x.test', state: 'pending', attempts: 0 }], body: '7BIT', smtputf8: false,
      size: 10, capture: true, held: false, attempts: 0, nextAttemptAt: '2026-11-28T17:34:12.000Z',
    } satisfies Envelope;
    const text = formatListing({ envelopes: [envelope], corrupt: [] });
    expect(text).to.include(`${UNKNOWN_ID}  2026-11-28T17:34:12Z  10 bytes  <a@b.test>  [capture]\n  captured   <u@x.test>  attempts=0\n`);
    expect(text.endsWith('\n1 message, 0 recipients pending, 1 captured\n')).to.equal(true);
    const queued = formatListing({ envelopes: [{ ...envelope, capture: false }], corrupt: [] });
    expect(queued).to.include('\n  pending    <u@x.test>  attempts=0  next=2026-11-28T17:34:12Z\n');
    expect(queued.endsWith('\n1 message, 1 recipient pending\n')).to.equal(true);
  });
});

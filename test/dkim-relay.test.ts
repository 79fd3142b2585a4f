import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDeliveryWorld, type DeliveryWorld } from './helpers/delivery-env.js';
import type { Zone } from './helpers/dns-server.js';
import { WireClient } from './helpers/wire-client.js';
import { dkimVerifyAll } from './helpers/dkim-verify.js';
import { recordsOf, testKey, testKeyPems, writeKeyFiles } from './helpers/dkim-keys.js';
import { hashPassword } from '../src/auth/password-hash.js';

const ZONES: Record<string, Zone> = {
  'normal.test': { mx: [{ preference: 10, exchange: 'mx.normal.test' }] },
  'mx.normal.test': { a: ['127.0.0.2'] },
  // Where bounces to our own users go.
  'example.org': { mx: [{ preference: 10, exchange: 'mx.normal.test' }] },
};

const message = (from: string, subject = 'hello') =>
  `From: ${from}\r\nTo: u@normal.test\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.org>\r\n\r\nHi  there \r\n\r\n`;

describe('DKIM signing in the relay: which mail is signed, and it passes python3-dkim', function () {
  this.timeout(30_000);
  let keyDir: string;
  let records: Record<string, string>;

  before(() => {
    keyDir = mkdtempSync(join(tmpdir(), 'minimta-dkim-keys-'));
    const { rsaPem, ed25519Pem } = testKeyPems();
    records = recordsOf([testKey('example.org', 'rsa1', rsaPem), testKey('example.org', 'ed1', ed25519Pem)]);
  });
  after(() => rmSync(keyDir, { recursive: true, force: true }));

  describe('with the client in relay.networks (loopback)', () => {
    let world: DeliveryWorld;
    beforeEach(async () => {
      world = await startDeliveryWorld(structuredClone(ZONES), {
        hostname: 'mx.example.org',
        dkim: { domains: { 'example.org': writeKeyFiles(keyDir, 'example.org') } },
      });
    });
    afterEach(async () => { await world.stop(); });

    it('signs mail whose From: domain has keys, twice (rsa-sha256, ed25519-sha256), and it verifies as delivered', async () => {
      const { id } = await world.send('alice@example.org', ['u@normal.test'], message('Alice <alice@example.org>'));
      const [delivered] = await world.sinks[0]!.waitForMessages(1);
      const text = delivered!.data.toString('latin1');
      expect(text.match(/^DKIM-Signature:/gm)).to.have.length(2);
      expect(text.indexOf('DKIM-Signature:')).to.equal(0);
      const [verdict] = await dkimVerifyAll([delivered!.data], records);
      expect(verdict!.lines).to.deep.equal(['pass d=example.org s=rsa1 a=rsa-sha256', 'pass d=example.org s=ed1 a=ed25519-sha256']);
      expect(world.relay.logs).to.include(`dkim: ${id}: signed d=example.org s=rsa1 a=rsa-sha256, d=example.org s=ed1 a=ed25519-sha256`);
    });

    it('does not sign mail from a domain without a key', async () => {
      await world.send('bob@example.com', ['u@normal.test'], message('bob@example.com'));
      const [delivered] = await world.sinks[0]!.waitForMessages(1);
      expect(delivered!.data.toString()).to.not.include('DKIM-Signature');
    });

    it('signs before queueing: the spool holds the signature, and a retry sends the same bytes', async () => {
      let dots = 0;
      world.sinks[0]!.behaviour = { replies: { DOT: () => (++dots === 1 ? '451 4.3.0 try again later' : undefined) } };
      const { id } = await world.send('alice@example.org', ['u@normal.test'], message('alice@example.org', 'retry'));
      const first = await world.attempt(id, 1);
      expect(first.done).to.equal(false);
      const head = (await world.relay.spool.readMessageHead(id)).toString('latin1');
      expect(head.startsWith('DKIM-Signature: v=1; a=rsa-sha256;')).to.equal(true);
      const [delivered] = await world.sinks[0]!.waitForMessages(1, 10_000);
      const signatureLines = (lines: string[]) => lines.filter((l) => l.startsWith('DKIM-Signature:'));
      // The transcript holds both attempts' data: the same signatures (same t=) went out twice.
      const sent = signatureLines(world.sinks[0]!.transcript);
      expect(sent).to.have.length(4);
      expect(sent.slice(0, 2)).to.deep.equal(sent.slice(2));
      expect((await dkimVerifyAll([delivered!.data], records))[0]!.passed).to.equal(true);
    });

    it('signs its own bounces when the host name\'s domain has a key', async () => {
      world.sinks[0]!.behaviour = { replies: { RCPT: (arg) => (arg.includes('gone@') ? '550 5.1.1 no such user' : undefined) } };
      await world.send('alice@example.org', ['gone@normal.test'], message('alice@example.org', 'bounced'));
      const [bounce] = await world.sinks[0]!.waitForMessages(1, 10_000);
      expect(bounce!.sender).to.equal('');
      expect(bounce!.recipients).to.deep.equal(['alice@example.org']);
      const text = bounce!.data.toString('latin1');
      expect(text).to.match(/^From: .*<MAILER-DAEMON@mx\.example\.org>/m);
      const [verdict] = await dkimVerifyAll([bounce!.data], records);
      expect(verdict!.lines).to.deep.equal(['pass d=example.org s=rsa1 a=rsa-sha256', 'pass d=example.org s=ed1 a=ed25519-sha256']);
    });
  });

  describe('with the client outside relay.networks', () => {
    let world: DeliveryWorld;
    before(async () => {
      world = await startDeliveryWorld(structuredClone(ZONES), {
        hostname: 'mx.example.org',
        // 127.0.0.1 is an outsider; normal.test takes mail from anyone; alice may authenticate.
        relay: { networks: ['192.0.2.0/24'], domains: ['normal.test'] },
        auth: { users: { alice: await hashPassword('correct horse') }, requireTls: false },
        dkim: { domains: { 'example.org': writeKeyFiles(keyDir, 'example.org') } },
      });
    });
    after(async () => { await world.stop(); });

    it('never signs mail relayed from elsewhere, even with our domain in From:', async () => {
      await world.send('alice@example.org', ['u@normal.test'], message('alice@example.org', 'outsider'));
      const [delivered] = await world.sinks[0]!.waitForMessages(1);
      expect(delivered!.data.toString()).to.not.include('DKIM-Signature');
    });

    it('signs mail from an authenticated client', async () => {
      const client = await WireClient.connect(world.relay.port);
      try {
        await client.reply();
        await client.command('EHLO laptop.test');
        const credentials = Buffer.from('\0alice\0correct horse').toString('base64');
        expect(await client.command(`AUTH PLAIN ${credentials}`)).to.equal('235 2.7.0');
        expect((await client.sendMail('alice@example.org', ['u@normal.test'], message('alice@example.org', 'authenticated'))).code).to.equal(250);
      } finally {
        client.close();
      }
      const messages = await world.sinks[0]!.waitForMessages(2);
      const delivered = messages.find((m) => m.data.toString().includes('Subject: authenticated'))!;
      expect((await dkimVerifyAll([delivered.data], records))[0]!.passed).to.equal(true);
    });
  });
});

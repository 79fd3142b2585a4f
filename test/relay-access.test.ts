// "vector N" in a title is row N of docs/test-vectors.md.

import { expect } from 'chai';
import { WireClient } from './helpers/wire-client.js';
import { startTestRelay, type TestRelay } from './helpers/test-relay.js';
import { TestDnsServer } from './helpers/dns-server.js';
import { CHECKLIST_ZONES } from './helpers/test-relay.js';
import { TEST_TLS } from './helpers/tls-fixtures.js';
import { hashPassword } from '../src/auth/password-hash.js';

describe('relay access: never an open relay (RFC 5321 §3.6.2, §7.9; RFC 2505)', function () {
  let relay: TestRelay;
  let dns: TestDnsServer;
  const clients: WireClient[] = [];

  /** An untrusted client, greeted, after STARTTLS and a fresh EHLO (RFC 3207 §4.2). */
  async function outsiderUnderTls(): Promise<WireClient> {
    const client = await WireClient.connect(relay.port);
    clients.push(client);
    await client.reply();
    await client.command('EHLO outsider.test');
    expect(await client.command('STARTTLS')).to.equal('220 2.0.0');
    await client.startTls();
    await client.command('EHLO outsider.test');
    return client;
  }

  before(async () => {
    dns = await TestDnsServer.start({ ...structuredClone(CHECKLIST_ZONES), 'ours.test': { mx: [{ preference: 10, exchange: 'mx.normal.test' }] } });
    relay = await startTestRelay({
      dns: { servers: [dns.address], timeout: 0.5 },
      // The test client on 127.0.0.1 is outside the trusted networks.
      relay: { networks: ['192.0.2.0/24', '2001:db8::/32'], domains: ['ours.test'] },
      tls: TEST_TLS,
      listen: [{ host: '127.0.0.1', port: 0, mode: 'relay', tls: 'starttls' }],
      auth: { users: { alice: await hashPassword('correct horse') } },
    });
  });
  after(async () => {
    for (const c of clients) c.close();
    await relay.cleanup();
    await dns.stop();
  });

  async function inTransaction(): Promise<WireClient> {
    const client = await WireClient.connect(relay.port);
    clients.push(client);
    await client.reply();
    await client.command('EHLO outsider.test');
    expect(await client.command('MAIL FROM:<someone@outside.test>')).to.equal('250 2.1.0');
    return client;
  }

  /** Ends a session and waits until the relay has let it go (limits.maxConnectionsPerIp). */
  async function quit(client: WireClient): Promise<void> {
    expect(await client.command('QUIT')).to.equal('221 2.0.0');
    await client.waitClosed();
  }

  /** A path as written, without its angle brackets, and with a root dot on its domain (issue 15). */
  function everyForm(path: string): string[] {
    return [path, path.slice(1, -1), `${path.slice(0, -1)}.>`];
  }

  it('refuses every RFC 2505 §2.1 trick, and looks nothing up in DNS (vectors 13, 15)', async () => {
    dns.queries.length = 0;
    const cases: Array<[string, string]> = [
      ['<u@normal.test>', '550 5.7.1'],
      ['<u@nullmx.test>', '550 5.7.1'],
      ['<@mx.minimta.test:u@normal.test>', '550 5.7.1'],
      ['<@mx.minimta.test,@a.test:u@normal.test>', '550 5.7.1'],
      ['<u%normal.test@mx.minimta.test>', '550 5.1.1'],
      ['<normal.test!u@mx.minimta.test>', '550 5.1.1'],
      ['<"u@normal.test"@mx.minimta.test>', '550 5.1.1'],
      ['<u@normal.test@mx.minimta.test>', '501 5.1.3'],
    ];
    // Issue 15: each trick again without its angle brackets, and with a root
    // dot, gets the same answer: lenient syntax never changes the policy.
    for (const form of [0, 1, 2]) {
      const client = await inTransaction();
      for (const [path, expected] of cases) {
        const written = everyForm(path)[form]!;
        expect(await client.command(`RCPT TO:${written}`), written).to.equal(expected);
      }
      expect(await client.command('DATA')).to.equal('554 5.5.1');
      await quit(client);
    }
    // Only the sender's domain was looked up (the null MX check at MAIL).
    expect(dns.queries.filter((q) => q.type === 'MX' && q.name !== 'outside.test')).to.deep.equal([]);
    expect(await relay.spool.list()).to.deep.equal([]);
  });

  it('accepts postmaster from anyone (RFC 5321 §4.5.1, vector 14)', async () => {
    const client = await inTransaction();
    expect(await client.command('RCPT TO:<Postmaster>')).to.equal('250 2.1.5');
    expect(await client.command('RCPT TO:<postmaster@mx.minimta.test>')).to.equal('250 2.1.5');
    expect(await client.command('RCPT TO:<POSTMASTER@MX.MINIMTA.TEST>')).to.equal('250 2.1.5');
  });

  it('accepts mail for relay.domains from anyone, with or without brackets and root dot', async () => {
    const client = await inTransaction();
    for (const form of [...everyForm('<u@ours.test>'), 'u@OURS.test.']) {
      expect(await client.command(`RCPT TO:${form}`), form).to.equal('250 2.1.5');
    }
  });

  // Postfix allow_untrusted_routing = no (issue 8, defect 7).
  const ROUTING_TRICKS = [
    '<user%victim.test@ours.test>',
    '<victim.test!user@ours.test>',
    '<"user@victim.test"@ours.test>',
    '<"user%victim.test"@ours.test>',
    '<"victim.test!user"@ours.test>',
    '<"user\\@victim.test"@ours.test>',
  ];

  it('refuses sender-specified routing through relay.domains from an untrusted client with 550 5.7.1, both ways', async () => {
    for (const form of [0, 1, 2]) {
      const client = await inTransaction();
      for (const path of ROUTING_TRICKS) {
        const written = everyForm(path)[form]!;
        expect(await client.command(`RCPT TO:${written}`), written).to.equal('550 5.7.1');
      }
      expect(await client.command('DATA')).to.equal('554 5.5.1');
      await quit(client);
    }
    expect(relay.logs.some((l) => l.includes('sender-specified routing') && l.includes('to=<user%victim.test@ours.test>'))).to.equal(true);
    expect(await relay.spool.list()).to.deep.equal([]);
  });

  it('lets an authenticated client use sender-specified routing, as a trusted one may', async () => {
    const client = await outsiderUnderTls();
    expect(await client.command(`AUTH PLAIN ${Buffer.from('\0alice\0correct horse').toString('base64')}`)).to.equal('235 2.7.0');
    await client.command('MAIL FROM:<alice@outside.test>');
    for (const path of ROUTING_TRICKS) expect(await client.command(`RCPT TO:${path}`), path).to.equal('250 2.1.5');
  });

  it('logs every denial with the client address, sender and recipient', async () => {
    expect(relay.logs.some((l) => l.includes('[127.0.0.1]') && /relay access denied/i.test(l) && l.includes('from=<someone@outside.test>') && l.includes('to=<u@normal.test>'))).to.equal(true);
  });

  it('lets the same client relay after AUTH under TLS', async () => {
    const client = await outsiderUnderTls();
    expect(await client.command(`AUTH PLAIN ${Buffer.from('\0alice\0correct horse').toString('base64')}`)).to.equal('235 2.7.0');
    await client.command('MAIL FROM:<alice@outside.test>');
    expect(await client.command('RCPT TO:<u@normal.test>')).to.equal('250 2.1.5');
    expect(await client.command('RCPT TO:<u@nullmx.test>')).to.equal('556 5.1.10');
  });

  it('refuses a wrong password with 535 5.7.8 and keeps refusing to relay', async () => {
    const client = await outsiderUnderTls();
    expect(await client.command(`AUTH PLAIN ${Buffer.from('\0alice\0wrong').toString('base64')}`, 5000)).to.equal('535 5.7.8');
    await client.command('MAIL FROM:<alice@outside.test>');
    expect(await client.command('RCPT TO:<u@normal.test>')).to.equal('550 5.7.1');
    expect(relay.logs.join('\n')).to.not.include('wrong');
  });
});

describe('relay access: sender-specified routing from a trusted network (issue 8, defect 7)', () => {
  let relay: TestRelay;
  const clients: WireClient[] = [];
  before(async () => {
    // 127.0.0.1 is in the default relay.networks: a trusted client.
    relay = await startTestRelay({ relay: { networks: ['127.0.0.0/8'], domains: ['normal.test'] } });
  });
  after(async () => {
    for (const c of clients) c.close();
    await relay.cleanup();
  });

  it('is accepted, as Postfix accepts it from mynetworks', async () => {
    const client = await WireClient.connect(relay.port);
    clients.push(client);
    await client.reply();
    await client.command('EHLO inside.test');
    expect(await client.command('MAIL FROM:<someone@inside.test>')).to.equal('250 2.1.0');
    for (const path of ['<user%victim.test@normal.test>', 'victim.test!user@normal.test', '<"user@victim.test"@normal.test.>']) {
      expect(await client.command(`RCPT TO:${path}`), path).to.equal('250 2.1.5');
    }
  });
});

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

  it('refuses every RFC 2505 §2.1 trick, and looks nothing up in DNS (vectors 13, 15)', async () => {
    const client = await inTransaction();
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
    for (const [path, expected] of cases) expect(await client.command(`RCPT TO:${path}`), path).to.equal(expected);
    expect(dns.queries.filter((q) => q.type === 'MX')).to.deep.equal([]);
    expect(await client.command('DATA')).to.equal('554 5.5.1');
    expect(await relay.spool.list()).to.deep.equal([]);
  });

  it('accepts postmaster from anyone (RFC 5321 §4.5.1, vector 14)', async () => {
    const client = await inTransaction();
    expect(await client.command('RCPT TO:<Postmaster>')).to.equal('250 2.1.5');
    expect(await client.command('RCPT TO:<postmaster@mx.minimta.test>')).to.equal('250 2.1.5');
    expect(await client.command('RCPT TO:<POSTMASTER@MX.MINIMTA.TEST>')).to.equal('250 2.1.5');
  });

  it('accepts mail for relay.domains from anyone', async () => {
    const client = await inTransaction();
    expect(await client.command('RCPT TO:<u@ours.test>')).to.equal('250 2.1.5');
  });

  it('logs every denial with the client address, sender and recipient', async () => {
    expect(relay.logs.some((l) => l.includes('[127.0.0.1]') && /relay access denied/i.test(l) && l.includes('from=<someone@outside.test>') && l.includes('to=<u@normal.test>'))).to.equal(true);
  });

  it('lets the same client relay after AUTH under TLS', async () => {
    const client = await WireClient.connect(relay.port);
    clients.push(client);
    await client.reply();
    await client.command('EHLO outsider.test');
    expect(await client.command('STARTTLS')).to.equal('220 2.0.0');
    await client.startTls();
    await client.command('EHLO outsider.test');
    expect(await client.command(`AUTH PLAIN ${Buffer.from('\0alice\0correct horse').toString('base64')}`)).to.equal('235 2.7.0');
    await client.command('MAIL FROM:<alice@outside.test>');
    expect(await client.command('RCPT TO:<u@normal.test>')).to.equal('250 2.1.5');
    expect(await client.command('RCPT TO:<u@nullmx.test>')).to.equal('556 5.1.10');
  });

  it('refuses a wrong password with 535 5.7.8 and keeps refusing to relay', async () => {
    const client = await WireClient.connect(relay.port);
    clients.push(client);
    await client.reply();
    await client.command('EHLO outsider.test');
    await client.command('STARTTLS');
    await client.startTls();
    await client.command('EHLO outsider.test');
    expect(await client.command(`AUTH PLAIN ${Buffer.from('\0alice\0wrong').toString('base64')}`, 5000)).to.equal('535 5.7.8');
    await client.command('MAIL FROM:<alice@outside.test>');
    expect(await client.command('RCPT TO:<u@normal.test>')).to.equal('550 5.7.1');
    expect(relay.logs.join('\n')).to.not.include('wrong');
  });
});

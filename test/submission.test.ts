// Submission listeners (RFC 6409, RFC 8314): MAIL only after AUTH, AUTH only
// under TLS, and sender binding (auth.senders). Real sockets: a relay with a
// relay listener, a STARTTLS submission listener (587) and an implicit-TLS
// one (465), a test DNS server and an SMTP sink as the remote MX.

import { expect } from 'chai';
import { startDeliveryWorld, type DeliveryWorld } from './helpers/delivery-env.js';
import { WireClient } from './helpers/wire-client.js';
import { TEST_TLS } from './helpers/tls-fixtures.js';
import { hashPassword } from '../src/auth/password-hash.js';
import { senderOwned } from '../src/auth/sender-binding.js';
import { ConfigError, validateConfig } from '../src/config.js';
import type { Reply } from '../src/reply-codes/index.js';

const ZONES = {
  'dest.test': { mx: [{ preference: 10, exchange: 'mx.dest.test' }] },
  'mx.dest.test': { a: ['127.0.0.2'] },
};

const PLAIN_ALICE = `AUTH PLAIN ${Buffer.from('\0alice\0correct horse').toString('base64')}`;
const BODY = 'Subject: submitted\r\n\r\nhello from alice\r\n';

function full(r: Reply): string {
  return `${r.code} ${r.enhanced ?? ''} ${r.lines.join(' ')}`.replace(/ +/g, ' ');
}

describe('submission listeners (RFC 6409, RFC 8314): listen[].auth "required"', function () {
  let world: DeliveryWorld;
  let relayPort: number;
  let startTlsPort: number;
  let implicitPort: number;
  const clients: WireClient[] = [];

  before(async () => {
    world = await startDeliveryWorld(ZONES, {
      tls: TEST_TLS,
      // 127.0.0.1 is not trusted: only AUTH lets it relay.
      relay: { networks: ['192.0.2.0/24'], domains: [] },
      listen: [
        { host: '127.0.0.1', port: 0, mode: 'relay', tls: 'starttls' },
        { host: '127.0.0.1', port: 0, mode: 'relay', tls: 'starttls', auth: 'required' },
        { host: '127.0.0.1', port: 0, mode: 'relay', tls: 'implicit', auth: 'required' },
      ],
      auth: {
        users: { alice: await hashPassword('correct horse') },
        senders: { alice: ['alice@example.org', 'team.example'] },
      },
    });
    [relayPort, startTlsPort, implicitPort] = world.relay.ports as [number, number, number];
  });
  after(async () => {
    for (const c of clients.splice(0)) c.close();
    await world.stop();
  });

  async function connect(port: number, implicitTls = false): Promise<WireClient> {
    const client = implicitTls ? await WireClient.connectTls(port) : await WireClient.connect(port);
    clients.push(client);
    expect((await client.reply()).code).to.equal(220);
    return client;
  }

  async function ehlo(client: WireClient): Promise<string[]> {
    client.send('EHLO laptop.test\r\n');
    const r = await client.reply();
    expect(r.code).to.equal(250);
    return r.lines.slice(1);
  }

  /** Port 587: STARTTLS, EHLO again, AUTH. */
  async function authenticatedOn587(): Promise<WireClient> {
    const client = await connect(startTlsPort);
    await ehlo(client);
    expect(await client.command('STARTTLS')).to.equal('220 2.0.0');
    await client.startTls();
    await ehlo(client);
    expect(await client.command(PLAIN_ALICE, 5000)).to.equal('235 2.7.0');
    return client;
  }

  it('on 587 offers no AUTH before STARTTLS, refuses AUTH there (538) and MAIL with 530 5.7.0', async () => {
    const client = await connect(startTlsPort);
    const keywords = await ehlo(client);
    expect(keywords).to.include('STARTTLS');
    expect(keywords.filter((k) => k.startsWith('AUTH'))).to.deep.equal([]);
    expect(await client.command(PLAIN_ALICE)).to.equal('538 5.7.11');
    client.send('MAIL FROM:<alice@example.org>\r\n');
    expect(full(await client.reply())).to.equal('530 5.7.0 Authentication required');
  });

  it('on 587 after STARTTLS offers AUTH, still refuses MAIL before it, then relays to a remote domain', async () => {
    const client = await connect(startTlsPort);
    await ehlo(client);
    expect(await client.command('STARTTLS')).to.equal('220 2.0.0');
    await client.startTls();
    expect(await ehlo(client)).to.include('AUTH PLAIN LOGIN');
    expect(await client.command('MAIL FROM:<alice@example.org>')).to.equal('530 5.7.0');
    expect(await client.command(PLAIN_ALICE, 5000)).to.equal('235 2.7.0');
    const queued = await client.sendMail('alice@example.org', ['bob@dest.test'], BODY);
    expect(queued.code).to.equal(250);
    const [message] = await world.sinks[0]!.waitForMessages(1, 10_000);
    expect(message!.sender).to.equal('alice@example.org');
    expect(message!.recipients).to.deep.equal(['bob@dest.test']);
    expect(message!.data.toString()).to.contain('hello from alice');
    // RFC 3848: authenticated and encrypted.
    expect(message!.data.toString()).to.match(/with ESMTPSA/);
    expect(world.relay.logs.some((l) => /reject: MAIL FROM:<alice@example\.org>.*530 5\.7\.0/.test(l))).to.equal(true);
  });

  it('on 465 (implicit TLS) offers AUTH at once, refuses MAIL before it, accepts after it', async () => {
    const client = await connect(implicitPort, true);
    const keywords = await ehlo(client);
    expect(keywords).to.include('AUTH PLAIN LOGIN');
    expect(keywords).to.not.include('STARTTLS');
    expect(await client.command('MAIL FROM:<alice@example.org>')).to.equal('530 5.7.0');
    expect(await client.command(PLAIN_ALICE, 5000)).to.equal('235 2.7.0');
    expect(await client.command('MAIL FROM:<alice@example.org>')).to.equal('250 2.1.0');
    expect(await client.command('RCPT TO:<carol@dest.test>')).to.equal('250 2.1.5');
  });

  it('binds senders: own address and own domain accepted, another address and <> refused with 553 5.7.1', async () => {
    const client = await authenticatedOn587();
    client.send('MAIL FROM:<mallory@elsewhere.test>\r\n');
    expect(full(await client.reply())).to.equal('553 5.7.1 <mallory@elsewhere.test>: Sender address not owned by user alice');
    expect(await client.command('MAIL FROM:<>')).to.equal('553 5.7.1');
    expect(await client.command('MAIL FROM:<Alice@Example.ORG>')).to.equal('250 2.1.0');
    expect(await client.command('RSET')).to.equal('250 2.0.0');
    expect(await client.command('MAIL FROM:<anyone@team.example>')).to.equal('250 2.1.0');
  });

  it('leaves a relay listener as it was: MAIL without AUTH is accepted, relaying is not', async () => {
    const client = await connect(relayPort);
    await ehlo(client);
    expect(await client.command('MAIL FROM:<someone@outside.test>')).to.equal('250 2.1.0');
    expect(await client.command('RCPT TO:<bob@dest.test>')).to.equal('550 5.7.1');
  });
});

describe('submission config checks and sender binding', () => {
  let users: Record<string, string>;
  before(async () => { users = { alice: await hashPassword('correct horse') }; });

  function configError(raw: Record<string, unknown>): string {
    try {
      validateConfig({ spool: '/tmp/x', ...raw });
    } catch (err) {
      if (err instanceof ConfigError) return err.message;
      throw err;
    }
    throw new Error('no ConfigError');
  }

  it('refuses a submission listener without TLS, without users, or on a refuse listener', () => {
    expect(configError({ listen: [{ port: 587, auth: 'required' }], auth: { users } })).to.match(/listen\[0\]\.auth.*starttls/);
    expect(configError({ listen: [{ port: 465, tls: 'implicit', auth: 'required' }], tls: TEST_TLS })).to.match(/listen\[0\]\.auth.*auth\.users/);
    expect(configError({ listen: [{ port: 25, mode: 'refuse', tls: 'starttls', auth: 'required' }], tls: TEST_TLS, auth: { users } })).to.match(/refuse/);
    expect(configError({ listen: [{ port: 587, auth: 'sometimes' }] })).to.match(/listen\[0\]\.auth/);
  });

  it('refuses auth.senders for an unknown user or with a bad entry', () => {
    expect(configError({ auth: { users, senders: { bob: ['bob@example.org'] } } })).to.match(/auth\.senders\.bob/);
    expect(configError({ auth: { users, senders: { alice: ['alice@'] } } })).to.match(/auth\.senders\.alice\[0\]/);
    expect(configError({ auth: { users, senders: { alice: 'example.org' } } })).to.match(/auth\.senders\.alice/);
  });

  it('matches addresses exactly and domains by the part after the last @, case-insensitively', () => {
    const table = { alice: ['alice@example.org', 'team.example'] };
    expect(senderOwned(table, 'alice', 'ALICE@example.org')).to.equal(true);
    expect(senderOwned(table, 'alice', 'x@team.example')).to.equal(true);
    expect(senderOwned(table, 'alice', 'x@sub.team.example')).to.equal(false);
    expect(senderOwned(table, 'alice', 'bob@example.org')).to.equal(false);
    expect(senderOwned(table, 'alice', '')).to.equal(false);
    expect(senderOwned(table, 'bob', 'bob@example.org')).to.equal(false);
  });
});

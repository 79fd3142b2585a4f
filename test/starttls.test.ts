// "vector N" in a title is row N of docs/test-vectors.md.

import { expect } from 'chai';
import fs from 'node:fs/promises';
import { WireClient } from './helpers/wire-client.js';
import { startTestRelay, type TestRelay } from './helpers/test-relay.js';
import { TEST_TLS } from './helpers/tls-fixtures.js';


describe('STARTTLS and implicit TLS (RFC 3207, RFC 8314)', () => {
  let relay: TestRelay;
  const clients: WireClient[] = [];
  async function connect(port = relay.port): Promise<WireClient> {
    const client = await WireClient.connect(port);
    clients.push(client);
    expect((await client.reply()).code).to.equal(220);
    return client;
  }

  beforeEach(async () => {
    relay = await startTestRelay({
      tls: TEST_TLS,
      listen: [
        { host: '127.0.0.1', port: 0, mode: 'relay', tls: 'starttls' },
        { host: '127.0.0.1', port: 0, mode: 'relay', tls: 'implicit' },
        { host: '127.0.0.1', port: 0, mode: 'relay' },
      ],
    });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await relay.cleanup();
  });

  async function ehloLines(client: WireClient): Promise<string[]> {
    client.send('EHLO c.test\r\n');
    const r = await client.reply();
    expect(r.code).to.equal(250);
    return r.lines.slice(1);
  }

  it('offers STARTTLS before TLS and not after; the session starts over (vector 33)', async () => {
    const client = await connect();
    expect(await ehloLines(client)).to.include('STARTTLS');
    expect(await client.command('STARTTLS')).to.equal('220 2.0.0');
    await client.startTls();
    expect(await client.command('MAIL FROM:<a@b.test>')).to.equal('503 5.5.1');
    expect(await ehloLines(client)).to.not.include('STARTTLS');
    expect(await client.command('STARTTLS')).to.equal('503 5.5.1');
  });

  it('refuses STARTTLS inside a mail transaction with 503 5.5.1, saying so, and keeps the transaction', async () => {
    const client = await connect();
    await ehloLines(client);
    expect(await client.command('MAIL FROM:<a@b.test>')).to.equal('250 2.1.0');
    client.send('STARTTLS\r\n');
    const refused = await client.reply();
    expect(`${refused.code} ${refused.enhanced} ${refused.lines.join(' ')}`).to.equal('503 5.5.1 Error: MAIL transaction in progress');
    expect(await client.command('RCPT TO:<u@normal.test>')).to.equal('250 2.1.5');
  });

  it('refuses STARTTLS with an argument with 501 5.5.4 (vector 34)', async () => {
    const client = await connect();
    await ehloLines(client);
    expect(await client.command('STARTTLS extra')).to.equal('501 5.5.4');
  });

  it('throws away commands pipelined after STARTTLS (CVE-2011-0411, vector 32)', async () => {
    const client = await connect();
    await ehloLines(client);
    client.send('STARTTLS\r\nRSET\r\n');
    expect(await client.replyCodes(1)).to.deep.equal(['220 2.0.0']);
    await client.startTls();
    // If the injected RSET had run, its single-line "250 2.0.0 Ok" would come first.
    const first = await client.command('EHLO c.test');
    expect(first).to.equal('250');
  });

  it('records ESMTPS in the Received: line of a message sent under TLS (RFC 3848)', async () => {
    const client = await connect();
    await ehloLines(client);
    await client.command('STARTTLS');
    await client.startTls();
    await ehloLines(client);
    const done = await client.sendMail('a@b.test', ['u@normal.test'], 'hi\r\n');
    const id = /queued as (\S+)/.exec(done.lines[0]!)![1]!;
    const stored = (await relay.spool.readMessage(id)).toString('utf8');
    expect(stored.split('\r\n')[0]).to.include('with ESMTPS id');
  });

  it('speaks TLS from the first byte on an implicit-TLS listener', async () => {
    const client = await WireClient.connectTls(relay.ports[1]!);
    clients.push(client);
    expect((await client.reply()).code).to.equal(220);
    expect(await ehloLines(client)).to.not.include('STARTTLS');
    const done = await client.sendMail('a@b.test', ['u@normal.test'], 'hi\r\n');
    expect(done.code).to.equal(250);
  });

  it('does not offer STARTTLS where TLS is not configured, and answers it 502', async () => {
    const client = await connect(relay.ports[2]);
    expect(await ehloLines(client)).to.not.include('STARTTLS');
    expect(await client.command('STARTTLS')).to.equal('502 5.5.1');
  });

  it('closes a connection whose TLS handshake never comes, after limits.tlsHandshakeTimeout', async () => {
    await relay.cleanup();
    relay = await startTestRelay({ tls: TEST_TLS, listen: [{ host: '127.0.0.1', port: 0, mode: 'relay', tls: 'starttls' }], limits: { tlsHandshakeTimeout: 0.2 } });
    const client = await connect();
    await ehloLines(client);
    expect(await client.command('STARTTLS')).to.equal('220 2.0.0');
    await client.waitClosed(3000);
    expect(relay.logs.some((l) => l.includes('TLS handshake timeout'))).to.equal(true);
  });

  it('a failed handshake closes that connection only', async () => {
    const client = await connect();
    await ehloLines(client);
    await client.command('STARTTLS');
    client.send('this is not a TLS client hello\r\n\r\n');
    await client.waitClosed();
    const other = await connect();
    expect(await client.closed).to.equal(true);
    expect(await other.command('NOOP')).to.equal('250 2.0.0');
  });
});

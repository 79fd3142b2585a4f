// "vector N" in a title is row N of docs/test-vectors.md.

import { expect } from 'chai';
import { startDeliveryWorld, type DeliveryWorld } from './helpers/delivery-env.js';
import type { Zone } from './helpers/dns-server.js';
import { replyToString } from '../src/reply-codes/index.js';

const ZONES: Record<string, Zone> = {
  'normal.test': { mx: [{ preference: 10, exchange: 'mx.normal.test' }] },
  'mx.normal.test': { a: ['127.0.0.2'] },
  'nullmx.test': { mx: [{ preference: 0, exchange: '.' }] },
  'mixed.test': { mx: [{ preference: 0, exchange: '.' }, { preference: 10, exchange: 'mx.mixed.test' }] },
  'mx.mixed.test': { a: ['127.0.0.2'] },
  'amx.test': { a: ['127.0.0.2'] },
  'empty.test': {},
  'badnull.test': { mx: [{ preference: 10, exchange: '.' }] },
  'servfail.test': { rcode: 'SERVFAIL' },
  'failover.test': { mx: [{ preference: 10, exchange: 'down.failover.test' }, { preference: 20, exchange: 'up.failover.test' }] },
  'down.failover.test': { a: ['127.0.0.9'] },
  'up.failover.test': { a: ['127.0.0.3'] },
  'sender.test': { mx: [{ preference: 10, exchange: 'mx.sender.test' }] },
  'mx.sender.test': { a: ['127.0.0.4'] },
};

describe('delivery: client → minimta → spool → worker → sink', function () {
  let world: DeliveryWorld;
  beforeEach(async () => { world = await startDeliveryWorld(structuredClone(ZONES)); });
  afterEach(async () => { await world.stop(); });

  it('delivers to the MX host named in DNS, byte for byte with the Received: line on top', async () => {
    const body = 'Subject: hello\r\n\r\nline\r\n..dot-stuffed on the wire\r\n';
    const { reply, id } = await world.send('a@sender.test', ['u@normal.test'], body.replace('\r\n..', '\r\n...'));
    expect(reply.code).to.equal(250);
    const [message] = await world.sinks[0]!.waitForMessages(1);
    expect(message!.recipients).to.deep.equal(['u@normal.test']);
    expect(message!.sender).to.equal('a@sender.test');
    const data = message!.data.toString();
    expect(data.split('\r\n')[0]).to.match(/^Received: from client\.test \(\[127\.0\.0\.1\]\) by mx\.minimta\.test with ESMTP id /);
    expect(data.slice(data.indexOf('\r\n') + 2)).to.equal(body.replace('\r\n..', '\r\n..'));
    const attempt = await world.attempt(id);
    expect(attempt.done).to.equal(true);
    expect(await world.relay.spool.list()).to.deep.equal([]);
    expect(world.relay.logs.some((l) => l.includes(`${id}: to=<u@normal.test>, relay=mx.normal.test[127.0.0.2]:${world.port}, delay=`) && l.includes('status=sent (250'))).to.equal(true);
  });

  it('answers 556 5.1.10 to RCPT for a domain with a null MX, and connects nowhere (vector 8)', async () => {
    const client = await import('./helpers/wire-client.js').then((m) => m.WireClient.connect(world.relay.port));
    await client.reply();
    await client.command('EHLO c.test');
    await client.command('MAIL FROM:<a@sender.test>');
    expect(await client.command('RCPT TO:<u@nullmx.test>')).to.equal('556 5.1.10');
    expect(await client.command('RCPT TO:<u@NullMX.Test>')).to.equal('556 5.1.10');
    expect(await client.command('RCPT TO:<u@nx.test>')).to.equal('550 5.1.2');
    expect(await client.command('RCPT TO:<u@empty.test>')).to.equal('550 5.1.2');
    expect(await client.command('RCPT TO:<u@badnull.test>')).to.equal('550 5.1.2');
    expect(await client.command('RCPT TO:<u@servfail.test>')).to.equal('250 2.1.5');
    client.close();
    expect(world.sinks[0]!.connections).to.equal(0);
  });

  it('keeps pipelined replies in order while the RCPT lookups run (vector 17)', async () => {
    const { WireClient } = await import('./helpers/wire-client.js');
    const client = await WireClient.connect(world.relay.port);
    await client.reply();
    await client.command('EHLO c.test');
    client.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<x@nullmx.test>\r\nRCPT TO:<y@normal.test>\r\nDATA\r\n');
    expect(await client.replyCodes(4)).to.deep.equal(['250 2.1.0', '556 5.1.10', '250 2.1.5', '354']);
    client.close();
  });

  it('refuses a sender whose domain has a null MX with 550 5.7.27, never <> (vector 16)', async () => {
    const { WireClient } = await import('./helpers/wire-client.js');
    const client = await WireClient.connect(world.relay.port);
    await client.reply();
    await client.command('EHLO c.test');
    expect(await client.command('MAIL FROM:<a@nullmx.test>')).to.equal('550 5.7.27');
    expect(await client.command('MAIL FROM:<>')).to.equal('250 2.1.0');
    client.close();
  });

  it('ignores a "." record beside real MX records (vector 9)', async () => {
    const { id } = await world.send('a@sender.test', ['u@mixed.test']);
    await world.sinks[0]!.waitForMessages(1);
    expect((await world.attempt(id)).outcomes[0]!.kind).to.equal('delivered');
  });

  it('uses the domain\'s own address when it has no MX (implicit MX, vector 10)', async () => {
    const { id } = await world.send('a@sender.test', ['u@amx.test']);
    const [message] = await world.sinks[0]!.waitForMessages(1);
    expect(message!.recipients).to.deep.equal(['u@amx.test']);
    expect((await world.attempt(id)).done).to.equal(true);
  });

  it('fails over to the next MX when the first host is down', async () => {
    const second = await world.addSink('127.0.0.3');
    const { id } = await world.send('a@sender.test', ['u@failover.test']);
    await second.waitForMessages(1);
    const { outcomes } = await world.attempt(id);
    expect(outcomes[0]).to.deep.include({ kind: 'delivered', remoteMta: 'up.failover.test' });
  });

  it('sends one copy per destination with all of its recipients', async () => {
    const { id } = await world.send('a@sender.test', ['u@normal.test', 'v@normal.test', 'w@amx.test']);
    await world.attempt(id);
    const recipients = world.sinks[0]!.messages.map((m) => m.recipients.sort());
    expect(recipients).to.have.deep.members([['u@normal.test', 'v@normal.test'], ['w@amx.test']]);
  });

  it('fails a recipient whose domain turned into a null MX after acceptance: no connection, no retry (vector 45)', async () => {
    const senderSink = await world.addSink('127.0.0.4');
    // Accepted while DNS for the domain was failing (a temporary failure accepts, vector 12)…
    world.dns.setZone('later.test', { rcode: 'SERVFAIL' });
    const { reply, id } = await world.send('a@sender.test', ['u@later.test']);
    expect(reply.code).to.equal(250);
    expect((await world.attempt(id)).done).to.equal(false);
    // …then the domain publishes a null MX: the next attempt fails it for good.
    world.dns.setZone('later.test', { mx: [{ preference: 0, exchange: '.' }] });
    world.relay.resolver.clearCache();
    const { outcomes, done } = await world.attempt(id, 2);
    expect(done).to.equal(true);
    expect(outcomes[0]).to.deep.include({ kind: 'failed', relay: 'none' });
    expect(replyToString(outcomes[0]!.reply)).to.match(/^556 5\.1\.10 /);
    expect(world.sinks[0]!.connections).to.equal(0);
    const [bounce] = await senderSink.waitForMessages(1);
    const text = bounce!.data.toString();
    expect(text).to.include('Status: 5.1.10');
    expect(text).to.match(/Diagnostic-Code: smtp; 556 5\.1\.10 /);
    expect(text).to.not.include('Remote-MTA');
  });

  it('retries after SERVFAIL and delivers once DNS recovers (vector 12)', async () => {
    const { id } = await world.send('a@sender.test', ['u@servfail.test']);
    const first = await world.attempt(id);
    expect(first.done).to.equal(false);
    expect(replyToString(first.outcomes[0]!.reply)).to.match(/^451 4\.4\.3 /);
    world.dns.setZone('servfail.test', { mx: [{ preference: 10, exchange: 'mx.normal.test' }] });
    world.relay.resolver.clearCache();
    const second = await world.attempt(id, 2);
    expect(second.done).to.equal(true);
    expect(second.outcomes[0]!.kind).to.equal('delivered');
    await world.sinks[0]!.waitForMessages(1);
  });

  it('bounces at once when the only MX greets 521 (vector 44)', async () => {
    const senderSink = await world.addSink('127.0.0.4');
    world.sinks[0]!.behaviour = { greeting: '521 5.3.2 mx.normal.test does not accept mail' };
    const { id } = await world.send('a@sender.test', ['u@normal.test']);
    const { outcomes, done } = await world.attempt(id);
    expect(done).to.equal(true);
    expect(replyToString(outcomes[0]!.reply)).to.equal('521 5.3.2 mx.normal.test does not accept mail');
    const [bounce] = await senderSink.waitForMessages(1);
    expect(bounce!.sender).to.equal('');
    expect(bounce!.recipients).to.deep.equal(['a@sender.test']);
    const text = bounce!.data.toString();
    expect(text).to.include('Status: 5.3.2');
    expect(text).to.include('Diagnostic-Code: smtp; 521 5.3.2 mx.normal.test does not accept mail');
  });

  it('moves on to the second MX when the first greets 521 (vector 44)', async () => {
    world.dns.setZone('two.test', { mx: [{ preference: 10, exchange: 'refuser.two.test' }, { preference: 20, exchange: 'good.two.test' }] });
    world.dns.setZone('refuser.two.test', { a: ['127.0.0.2'] });
    world.dns.setZone('good.two.test', { a: ['127.0.0.3'] });
    world.sinks[0]!.behaviour = { greeting: '521 5.3.2 refuser does not accept mail' };
    const good = await world.addSink('127.0.0.3');
    const { id } = await world.send('a@sender.test', ['u@two.test']);
    await good.waitForMessages(1);
    expect((await world.attempt(id)).outcomes[0]!.remoteMta).to.equal('good.two.test');
  });

  it('falls back to HELO when EHLO is refused, and sends no ESMTP parameter (vector 46)', async () => {
    world.sinks[0]!.behaviour = { replies: { EHLO: '502 5.5.1 no EHLO here' } };
    await world.send('a@sender.test', ['u@normal.test']);
    const [message] = await world.sinks[0]!.waitForMessages(1);
    expect(message!.via).to.equal('HELO');
    expect(message!.mailParams).to.equal('');
  });

  it('delivers an 8-bit body byte for byte with BODY=8BITMIME', async () => {
    const body = Buffer.from('Subject: caf\u00e9\r\n\r\n\u00fcber gr\u00fc\u00dfe \u2603\r\n', 'utf8');
    const { WireClient } = await import('./helpers/wire-client.js');
    const client = await WireClient.connect(world.relay.port);
    await client.reply();
    await client.command('EHLO c.test');
    await client.command('MAIL FROM:<a@sender.test> BODY=8BITMIME');
    await client.command('RCPT TO:<u@normal.test>');
    await client.command('DATA');
    client.send(Buffer.concat([body, Buffer.from('.\r\n')]));
    expect((await client.reply()).code).to.equal(250);
    client.close();
    const [message] = await world.sinks[0]!.waitForMessages(1);
    expect(message!.mailParams).to.include('BODY=8BITMIME');
    expect(message!.data.subarray(message!.data.indexOf('\r\n') + 2).equals(body)).to.equal(true);
  });

  it('defers a 4xx at RCPT and retries it (vector 47)', async () => {
    let calls = 0;
    world.sinks[0]!.behaviour = { replies: { RCPT: () => (++calls === 1 ? '452 4.2.2 mailbox full, try later' : undefined) } };
    const { id } = await world.send('a@sender.test', ['u@normal.test']);
    const first = await world.attempt(id);
    expect(first.outcomes[0]!.kind).to.equal('deferred');
    const envelope = await world.relay.spool.readEnvelope(id);
    expect(envelope.recipients[0]).to.deep.include({ state: 'pending', attempts: 1, lastReply: '452 4.2.2 mailbox full, try later' });
    const second = await world.attempt(id, 2);
    expect(second.done).to.equal(true);
    await world.sinks[0]!.waitForMessages(1);
  });

  it('never bounces a bounce: a failure for sender <> is only logged (vector 48)', async () => {
    world.sinks[0]!.behaviour = { replies: { RCPT: '550 5.1.1 no such user' } };
    const { id } = await world.send('', ['u@normal.test']);
    const { done } = await world.attempt(id);
    expect(done).to.equal(true);
    expect(world.relay.logs.some((l) => l.includes(`${id}: to=<u@normal.test>: undeliverable, sender is <>`))).to.equal(true);
    expect(await world.relay.spool.list()).to.deep.equal([]);
  });
});


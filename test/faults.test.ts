import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMinimta, FaultRuleError, type Minimta, type MtaEvent, type FaultRuleSpec } from '../src/index.js';
import { validateConfig } from '../src/config.js';
import { WireClient } from './helpers/wire-client.js';
import { TEST_TLS } from './helpers/tls-fixtures.js';
import { hashPassword } from '../src/auth/password-hash.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The faults.json of README's "Fault rules" section, read from README itself. */
function readmeFaults(): FaultRuleSpec[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('This `faults.json`'));
  const block = /```json\n([\s\S]*?)```/.exec(section)![1]!;
  return (JSON.parse(block) as { faults: FaultRuleSpec[] }).faults;
}

async function greeted(port: number): Promise<WireClient> {
  const client = await WireClient.connect(port);
  expect((await client.reply()).code).to.equal(220);
  expect(await client.command('EHLO app.test')).to.equal('250');
  return client;
}

const BODY = 'Subject: test\r\n\r\nhello\r\n';

describe('fault rules over real sockets', () => {
  let minimta: Minimta;
  let log: string[];
  afterEach(async () => { await minimta?.close(); });
  const start = async (faults: FaultRuleSpec[], extra: Parameters<typeof startMinimta>[0] = {}) => {
    log = [];
    minimta = await startMinimta({ faults, log: (component, text) => log.push(`${component}: ${text}`), ...extra });
  };

  it("README's faults.json gives exactly its five failures: 550 5.1.1, 452 4.2.2 twice then 250, 554 at DATA, a drop mid-DATA, 421 after 3 messages", async () => {
    await start(readmeFaults());
    const client = await greeted(minimta.port);
    // One address gets 550 5.1.1, every time.
    expect(await client.command('MAIL FROM:<app@example.com>')).to.equal('250 2.1.0');
    expect(await client.command('RCPT TO:<nobody@example.net>')).to.equal('550 5.1.1');
    expect(await client.command('RCPT TO:<nobody@example.net>')).to.equal('550 5.1.1');
    // Another gets 452 4.2.2 twice, then succeeds.
    expect(await client.command('RCPT TO:<full@example.net>')).to.equal('452 4.2.2');
    expect(await client.command('RCPT TO:<full@example.net>')).to.equal('452 4.2.2');
    expect(await client.command('RCPT TO:<full@example.net>')).to.equal('250 2.1.5');
    expect(await client.command('DATA')).to.equal('354');
    client.send(`${BODY}.\r\n`);
    expect((await client.replyCodes(1))[0]).to.equal('250 2.0.0');
    // DATA gets 554 for a sender at spam.example.
    expect(await client.command('MAIL FROM:<bulk@spam.example>')).to.equal('250 2.1.0');
    expect(await client.command('RCPT TO:<someone@example.net>')).to.equal('250 2.1.5');
    expect(await client.command('DATA')).to.equal('554 5.7.1');
    expect(await client.command('RSET')).to.equal('250 2.0.0');
    // The connection drops mid-DATA for flaky@.
    expect(await client.command('MAIL FROM:<app@example.com>')).to.equal('250 2.1.0');
    expect(await client.command('RCPT TO:<flaky@example.net>')).to.equal('250 2.1.5');
    expect(await client.command('DATA')).to.equal('354');
    client.send(`Subject: long\r\n\r\n${'x'.repeat(70)}\r\n`.repeat(10));
    await client.waitClosed(5000);
    expect((await minimta.messages()).map((m) => m.to)).to.deep.equal([['full@example.net']]);
    // Two more messages make 3; then MAIL gets 421 4.7.0 and the connection closes.
    for (const to of ['a@example.net', 'b@example.net']) {
      const c = await greeted(minimta.port);
      expect((await c.sendMail('app@example.com', [to], BODY)).code).to.equal(250);
      c.close();
    }
    const last = await greeted(minimta.port);
    expect(await last.command('MAIL FROM:<app@example.com>')).to.equal('421 4.7.0');
    await last.waitClosed();
    expect(await minimta.messages()).to.have.length(3);
    expect(log.filter((l) => l.includes('fault: rule')).length).to.equal(7);
    expect(log).to.include.members(['smtpd: fault: rule "unknown user" stage=rcpt recipient=nobody@example.net reply=550 5.1.1 fired at rcpt for [127.0.0.1]: 550 5.1.1']);
  });

  it('connect: a reply replaces the greeting and closes; a delay holds the greeting back', async () => {
    await start([{ stage: 'connect', match: { clientIp: '127.0.0.0/8' }, times: 1, reply: { code: 554, enhanced: '5.3.2', text: 'No service' } },
      { stage: 'connect', delay: 300 }]);
    const refused = await WireClient.connect(minimta.port);
    expect(await refused.replyCodes(1)).to.deep.equal(['554 5.3.2']);
    await refused.waitClosed();
    const started = Date.now();
    const slow = await WireClient.connect(minimta.port);
    expect((await slow.reply()).code).to.equal(220);
    expect(Date.now() - started).to.be.at.least(280);
    slow.close();
  });

  it('ehlo: close before the reply leaves the client with no answer at all', async () => {
    await start([{ stage: 'helo', close: 'before-reply' }]);
    const client = await WireClient.connect(minimta.port);
    await client.reply();
    client.send('EHLO app.test\r\n');
    await client.waitClosed();
    const error = await client.reply(200).catch((err: Error) => err);
    expect(error).to.be.instanceOf(Error);
  });

  it('starttls and auth: a 454 to the first STARTTLS, then TLS; AUTH refused by a rule', async () => {
    await start([
      { stage: 'starttls', times: 1, reply: { code: 454, enhanced: '4.7.0', text: 'TLS not available now' } },
      { stage: 'auth', reply: { code: 454, enhanced: '4.7.0', text: 'Temporary authentication failure' } },
    ], {
      listeners: [{ mode: 'capture', tls: 'starttls' }],
      config: { tls: TEST_TLS, auth: { users: { alice: await hashPassword('secret') } } },
    });
    const client = await greeted(minimta.port);
    expect(await client.command('STARTTLS')).to.equal('454 4.7.0');
    expect(await client.command('STARTTLS')).to.equal('220 2.0.0');
    await client.startTls();
    expect(await client.command('EHLO app.test')).to.equal('250');
    expect(await client.command(`AUTH PLAIN ${Buffer.from('\0alice\0secret').toString('base64')}`)).to.equal('454 4.7.0');
    // The session never saw the AUTH: mail goes on without it.
    expect((await client.sendMail('a@app.test', ['b@example.net'], BODY)).code).to.equal(250);
    client.close();
  });

  it('end-of-data: a reply refuses the message after the dot, discard answers 250 and keeps nothing', async () => {
    await start([
      { stage: 'end-of-data', match: { recipient: '*@refused.example' }, reply: { code: 451, enhanced: '4.3.0', text: 'Try again' } },
      { stage: 'end-of-data', match: { recipient: '/^void-\\d+@/' }, discard: true },
    ]);
    const client = await greeted(minimta.port);
    const refused = await client.sendMail('a@app.test', ['x@refused.example'], BODY);
    expect([refused.code, refused.enhanced]).to.deep.equal([451, '4.3.0']);
    const discarded = await client.sendMail('a@app.test', ['void-12@example.net'], BODY);
    expect(discarded.code).to.equal(250);
    const kept = await client.sendMail('a@app.test', ['kept@example.net'], BODY);
    expect(kept.code).to.equal(250);
    client.close();
    expect((await minimta.messages()).map((m) => m.to)).to.deep.equal([['kept@example.net']]);
  });

  it('rate: more than N messages in the window gets 421 4.7.0', async () => {
    await start([{ stage: 'mail', rate: { messages: 2, seconds: 60 } }]);
    for (let i = 0; i < 2; i++) {
      const c = await greeted(minimta.port);
      expect((await c.sendMail('a@app.test', ['b@example.net'], BODY)).code).to.equal(250);
      c.close();
    }
    const over = await greeted(minimta.port);
    over.send('MAIL FROM:<a@app.test>\r\n');
    const reply = await over.reply();
    expect([reply.code, reply.enhanced, reply.lines[0]]).to.deep.equal([421, '4.7.0', 'minimta.test Error: too many messages, slow down']);
    await over.waitClosed();
  });

  it('matches by listener port and applies on a refuse listener too', async () => {
    await start([], { listeners: [{ mode: 'capture' }, { mode: 'refuse' }] });
    const [capture, refuse] = minimta.listeners;
    minimta.setFaults([
      { stage: 'ehlo', match: { listener: refuse!.port }, reply: { code: 421, enhanced: '4.3.2', text: 'Going away' } },
    ]);
    const other = await greeted(capture!.port);
    other.close();
    const client = await WireClient.connect(refuse!.port);
    expect((await client.reply()).code).to.equal(521);
    expect(await client.command('EHLO app.test')).to.equal('421 4.3.2');
    await client.waitClosed();
  });

  it('applies on a relay listener too, before its own DNS checks', async () => {
    await start([{ stage: 'rcpt', match: { recipient: '@example.net' }, times: 1, reply: { code: 451, enhanced: '4.3.0', text: 'Later' } }], {
      mode: 'relay',
      config: { dns: { zones: { 'example.net': { a: ['192.0.2.1'] }, 'nomail.test': { mx: [{ preference: 0, exchange: '.' }] } } } },
    });
    const client = await greeted(minimta.port);
    expect(await client.command('MAIL FROM:<a@example.net>')).to.equal('250 2.1.0');
    expect(await client.command('RCPT TO:<u@example.net>')).to.equal('451 4.3.0');
    expect(await client.command('RCPT TO:<u@example.net>')).to.equal('250 2.1.5');
    expect(await client.command('RCPT TO:<u@nomail.test>')).to.equal('556 5.1.10');
    client.close();
  });

  it('probability with a seed repeats the same pattern run after run', async () => {
    const pattern = async () => {
      minimta.setFaults([{ stage: 'rcpt', probability: 0.5, seed: 42, reply: { code: 450, enhanced: '4.2.1', text: 'Later' } }]);
      const client = await greeted(minimta.port);
      await client.command('MAIL FROM:<a@app.test>');
      const codes: string[] = [];
      for (let i = 0; i < 12; i++) codes.push(await client.command(`RCPT TO:<r${i}@example.net>`));
      client.close();
      return codes;
    };
    await start([]);
    const first = await pattern();
    expect(first).to.include('450 4.2.1').and.to.include('250 2.1.5');
    expect(await pattern()).to.deep.equal(first);
  });

  it('sends each firing on the events stream', async () => {
    await start([{ name: 'no mail', stage: 'mail', match: { sender: '@blocked.example' }, reply: { code: 550, enhanced: '5.7.1', text: 'Blocked' } }]);
    const fired = new Promise<MtaEvent>((resolve) => minimta.events.once('fault', resolve));
    const client = await greeted(minimta.port);
    expect(await client.command('MAIL FROM:<x@BLOCKED.example>')).to.equal('550 5.7.1');
    expect(await client.command('MAIL FROM:<x@fine.example>')).to.equal('250 2.1.0');
    client.close();
    expect(await fired).to.deep.include({ type: 'fault', stage: 'mail', reply: '550 5.7.1 Blocked' });
  });

  it('PUT /api/faults puts rules in force, GET shows them, a bad rule is a 400 naming the key, DELETE removes them', async () => {
    await start([], { http: true });
    const url = `${minimta.http!.url}/api/faults`;
    const rules = [{ stage: 'rcpt', match: { recipient: '@gone.example' }, reply: { code: 550, enhanced: '5.1.1', text: 'Gone' } }];
    expect((await fetch(url, { method: 'PUT', body: JSON.stringify(rules) })).status).to.equal(200);
    expect(await (await fetch(url)).json()).to.deep.equal(rules);
    const client = await greeted(minimta.port);
    await client.command('MAIL FROM:<a@app.test>');
    expect(await client.command('RCPT TO:<u@gone.example>')).to.equal('550 5.1.1');
    const bad = await fetch(url, { method: 'PUT', body: JSON.stringify([{ stage: 'rcpt', reply: { code: 250 } }]) });
    expect(bad.status).to.equal(400);
    expect(await bad.json()).to.deep.equal({
      error: 'faults[0].reply.code: 250 at stage rcpt: a fault rule\'s reply must be 4xx or 5xx (use "discard" to accept and drop)',
      code: 'EBADRULE',
    });
    expect(await (await fetch(url, { method: 'DELETE' })).json()).to.deep.equal([]);
    expect(await client.command('RCPT TO:<u@gone.example>')).to.equal('250 2.1.5');
    client.close();
  });
});

describe('fault rules are checked like real replies', () => {
  const bad = (rule: object) => {
    try {
      validateConfig({ faults: [rule] });
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('accepted');
  };

  it('refuses 2xx and 3xx replies, bad codes, an enhanced code of another class, and multi-line text', () => {
    expect(bad({ stage: 'data', reply: { code: 354 } })).to.match(/faults\[0\]\.reply\.code: 354 at stage data/);
    expect(bad({ stage: 'rcpt', reply: { code: 250 } })).to.match(/must be 4xx or 5xx/);
    expect(bad({ stage: 'rcpt', reply: { code: 599 } })).to.match(/faults\[0\]\.reply: 599 is not an SMTP reply code/);
    expect(bad({ stage: 'rcpt', reply: { code: 550, enhanced: '4.1.1' } })).to.match(/does not fit reply code 550/);
    expect(bad({ stage: 'rcpt', reply: { code: 550, text: 'a\r\n250 ok' } })).to.match(/one line of printable ASCII/);
  });

  it('refuses matches and actions that cannot apply at the stage', () => {
    expect(bad({ stage: 'ehlo', match: { sender: '@x.example' }, reply: { code: 550 } })).to.match(/faults\[0\]\.match\.sender: the sender is not known yet at stage ehlo/);
    expect(bad({ stage: 'mail', match: { recipient: 'a@b' }, reply: { code: 550 } })).to.match(/match\.recipient/);
    expect(bad({ stage: 'rcpt', discard: true })).to.match(/discard: applies at stage end-of-data only/);
    expect(bad({ stage: 'rcpt', close: { afterBytes: 10 } })).to.match(/applies at stage data only/);
    expect(bad({ stage: 'rcpt', match: { recipient: '/(/' }, reply: { code: 550 } })).to.match(/not a valid regular expression/);
    expect(bad({ stage: 'rcpt' })).to.match(/needs an action/);
    expect(bad({ stage: 'greeting', reply: { code: 554 } })).to.match(/faults\[0\]\.stage: must be one of/);
    expect(bad({ stage: 'rcpt', reply: { code: 550 }, colour: 'red' })).to.match(/faults\[0\]\.colour: unknown key/);
  });

  it('setFaults throws FaultRuleError and keeps the rules in force', async () => {
    const minimta = await startMinimta({ faults: [{ stage: 'mail', reply: { code: 421 } }] });
    try {
      expect(() => minimta.setFaults([{ stage: 'mail', reply: { code: 200 } }])).to.throw(FaultRuleError);
      expect(minimta.faults()).to.deep.equal([{ stage: 'mail', reply: { code: 421 } }]);
    } finally {
      await minimta.close();
    }
  });
});

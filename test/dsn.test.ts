import { expect } from 'chai';
import { parseMailArguments, parseRcptArguments } from '../src/protocol/server/commands.js';
import { decodeXtext, encodeXtext } from '../src/protocol/shared/xtext.js';
import { ReplyError, replyToString } from '../src/reply-codes/index.js';
import { startDeliveryWorld, type DeliveryWorld } from './helpers/delivery-env.js';
import type { Zone } from './helpers/dns-server.js';
import { WireClient } from './helpers/wire-client.js';
import { DEFAULT_EXTENSIONS } from './helpers/smtp-sink.js';

const EHLO = { extended: true, authAdvertised: false, strictEnvelopes: false };

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (err instanceof ReplyError) return replyToString(err.reply).slice(0, 9);
    throw err;
  }
  return 'accepted';
}

describe('DSN parameters (RFC 3461 §4)', () => {
  it('reads RET and ENVID on MAIL, ENVID xtext-decoded', () => {
    expect(parseMailArguments('FROM:<a@b.test> RET=hdrs ENVID=QQ+2B123+3D', EHLO).params).to.include({ ret: 'HDRS', envid: 'QQ+123=' });
    expect(parseMailArguments('FROM:<a@b.test> RET=FULL', EHLO).params.ret).to.equal('FULL');
  });

  it('reads NOTIFY and ORCPT on RCPT', () => {
    const rcpt = (arg: string) => parseRcptArguments(arg, { ...EHLO, utf8: false }).params;
    expect(rcpt('TO:<u@x.test> NOTIFY=success,DELAY ORCPT=rfc822;U+40x.test')).to.deep.equal({
      notify: ['SUCCESS', 'DELAY'], orcpt: { type: 'rfc822', address: 'U@x.test' },
    });
    expect(rcpt('TO:<u@x.test> NOTIFY=NEVER')).to.deep.equal({ notify: [] });
    expect(rcpt('TO:<u@x.test>')).to.deep.equal({});
  });

  it('refuses malformed DSN parameters with 501 5.5.4, and all of them after HELO with 555 5.5.4', () => {
    const mail = (params: string, ctx = EHLO) => refusal(() => parseMailArguments(`FROM:<a@b.test> ${params}`, ctx));
    const rcpt = (params: string, ctx = EHLO) => refusal(() => parseRcptArguments(`TO:<u@x.test> ${params}`, { ...ctx, utf8: false }));
    expect(mail('RET=ALL')).to.equal('501 5.5.4');
    expect(mail('RET')).to.equal('501 5.5.4');
    expect(mail(`ENVID=${'x'.repeat(101)}`)).to.equal('501 5.5.4');
    expect(mail('ENVID=bad+zz')).to.equal('501 5.5.4');
    expect(rcpt('NOTIFY=NEVER,SUCCESS')).to.equal('501 5.5.4');
    expect(rcpt('NOTIFY=SUCCESS,SUCCESS')).to.equal('501 5.5.4');
    expect(rcpt('NOTIFY=SOMETIMES')).to.equal('501 5.5.4');
    expect(rcpt('ORCPT=u@x.test')).to.equal('501 5.5.4');
    expect(rcpt('ORCPT=;u@x.test')).to.equal('501 5.5.4');
    const helo = { ...EHLO, extended: false };
    expect(mail('RET=FULL', helo)).to.equal('555 5.5.4');
    expect(rcpt('NOTIFY=NEVER', helo)).to.equal('555 5.5.4');
  });

  it('xtext: encodes "+", "=", space and non-ASCII as +XX, and decodes back', () => {
    expect(encodeXtext('a+b=c d')).to.equal('a+2Bb+3Dc+20d');
    expect(decodeXtext(encodeXtext('x@y.test'))).to.equal('x@y.test');
  });
});

const ZONES: Record<string, Zone> = {
  'normal.test': { mx: [{ preference: 10, exchange: 'mx.normal.test' }] },
  'mx.normal.test': { a: ['127.0.0.2'] },
  'sender.test': { mx: [{ preference: 10, exchange: 'mx.normal.test' }] },
};

describe('DSN in the relay: advertised, kept in the envelope, honoured (RFC 3461)', function () {
  this.timeout(20_000);
  let world: DeliveryWorld;
  beforeEach(async () => { world = await startDeliveryWorld(structuredClone(ZONES)); });
  afterEach(async () => { await world.stop(); });

  async function send(mail: string, rcpts: string[]): Promise<string> {
    const client = await WireClient.connect(world.relay.port);
    try {
      await client.reply();
      client.send('EHLO client.test\r\n');
      const ehlo = await client.reply();
      expect(ehlo.lines).to.include('DSN');
      expect(await client.command(mail)).to.equal('250 2.1.0');
      for (const rcpt of rcpts) expect(await client.command(rcpt)).to.equal('250 2.1.5');
      expect(await client.command('DATA')).to.equal('354');
      client.send('Subject: dsn test\r\nMessage-ID: <dsn@sender.test>\r\n\r\nbody\r\n.\r\n');
      const queued = await client.reply();
      return /queued as (\S+)/.exec(queued.lines[0] ?? '')![1]!;
    } finally {
      client.close();
    }
  }

  it('keeps RET, ENVID, NOTIFY and ORCPT in the envelope', async () => {
    world.sinks[0]!.behaviour = { stallAt: 'greeting' };
    const id = await send('MAIL FROM:<a@sender.test> RET=HDRS ENVID=batch+2B7', ['RCPT TO:<u@normal.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;alias+40normal.test']);
    const envelope = await world.relay.spool.readEnvelope(id);
    expect(envelope).to.include({ ret: 'HDRS', envid: 'batch+7' });
    expect(envelope.recipients[0]).to.include({ address: 'u@normal.test', orcpt: 'rfc822;alias@normal.test' });
    expect(envelope.recipients[0]!.notify).to.deep.equal(['FAILURE', 'DELAY']);
    await world.relay.spool.remove(id);
  });

  it('NOTIFY=SUCCESS: a delivered message gets a report with Action: relayed, Original-Envelope-Id and Original-Recipient', async () => {
    await send('MAIL FROM:<a@sender.test> ENVID=order-42', ['RCPT TO:<u@normal.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;first+40normal.test']);
    const messages = await world.sinks[0]!.waitForMessages(2, 10_000);
    const report = messages.find((m) => m.sender === '')!;
    expect(report.recipients).to.deep.equal(['a@sender.test']);
    const text = report.data.toString();
    expect(text).to.include('Subject: Successful Mail Delivery Report');
    expect(text).to.include('Original-Envelope-Id: order-42\r\n');
    expect(text).to.include('Original-Recipient: rfc822; first@normal.test\r\n');
    expect(text).to.include('Final-Recipient: rfc822; u@normal.test\r\nAction: relayed\r\nStatus: 2.0.0\r\n');
    expect(text).to.include('Message-ID: <dsn@sender.test>');
  });

  it('NOTIFY=NEVER: no bounce for a recipient that fails; without NOTIFY the other one bounces', async () => {
    world.sinks[0]!.behaviour = { replies: { RCPT: (arg) => (arg.includes('gone') ? '550 5.1.1 no such user' : undefined) } };
    await send('MAIL FROM:<a@sender.test>', ['RCPT TO:<gone1@normal.test> NOTIFY=NEVER', 'RCPT TO:<gone2@normal.test>']);
    const [bounce] = await world.sinks[0]!.waitForMessages(1, 10_000);
    const text = bounce!.data.toString();
    expect(text).to.include('Final-Recipient: rfc822; gone2@normal.test');
    expect(text).to.not.include('gone1@normal.test>');
    expect(text).to.not.include('Final-Recipient: rfc822; gone1@normal.test');
    expect(world.relay.logs.some((l) => l.includes('to=<gone1@normal.test>: undeliverable, NOTIFY=NEVER: no notification'))).to.equal(true);
  });

  it('passes the DSN request on to a next hop that offers DSN, and then sends no report itself (RFC 3461 §5.2.2)', async () => {
    world.sinks[0]!.behaviour = { extensions: [...DEFAULT_EXTENSIONS, 'DSN'] };
    const id = await send('MAIL FROM:<a@sender.test> RET=HDRS ENVID=a+2Bb', ['RCPT TO:<u@normal.test> NOTIFY=SUCCESS ORCPT=rfc822;first+40normal.test', 'RCPT TO:<v@normal.test>']);
    const attempt = await world.attempt(id);
    expect(attempt.done).to.equal(true);
    const [message] = await world.sinks[0]!.waitForMessages(1);
    expect(message!.mailParams).to.match(/ RET=HDRS ENVID=a\+2Bb$/);
    expect(world.sinks[0]!.transcript).to.include('RCPT TO:<u@normal.test> NOTIFY=SUCCESS ORCPT=rfc822;first@normal.test');
    expect(world.sinks[0]!.transcript).to.include('RCPT TO:<v@normal.test>');
    expect(world.relay.logs.some((l) => l.includes('success notification'))).to.equal(false);
    expect(world.sinks[0]!.messages.filter((m) => m.sender === '')).to.deep.equal([]);
  });

  it('RET=FULL returns the whole message in a failure report (message/rfc822); RET=HDRS only its header section', async () => {
    world.sinks[0]!.behaviour = { replies: { RCPT: (arg) => (arg.includes('gone') ? '550 5.1.1 no such user' : undefined) } };
    await send('MAIL FROM:<a@sender.test> RET=FULL', ['RCPT TO:<gone1@normal.test>']);
    await send('MAIL FROM:<a@sender.test> RET=HDRS', ['RCPT TO:<gone2@normal.test>']);
    const bounces = await world.sinks[0]!.waitForMessages(2, 10_000);
    const full = bounces.find((m) => m.data.toString().includes('gone1@'))!.data.toString();
    const hdrs = bounces.find((m) => m.data.toString().includes('gone2@'))!.data.toString();
    expect(full).to.include('Content-Description: Undelivered message\r\nContent-Type: message/rfc822\r\n');
    expect(full).to.include('Message-ID: <dsn@sender.test>\r\n\r\nbody\r\n');
    expect(hdrs).to.include('Content-Type: text/rfc822-headers');
    expect(hdrs).to.not.include('\r\nbody\r\n');
  });

  it('without NOTIFY=SUCCESS a delivered message gets no report', async () => {
    const id = await send('MAIL FROM:<a@sender.test>', ['RCPT TO:<u@normal.test> NOTIFY=FAILURE']);
    await world.attempt(id);
    await world.sinks[0]!.waitForMessages(1);
    expect(world.relay.logs.some((l) => l.includes('success notification'))).to.equal(false);
    expect(world.sinks[0]!.messages.filter((m) => m.sender === '')).to.deep.equal([]);
  });
});

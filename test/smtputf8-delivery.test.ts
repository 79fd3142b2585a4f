// SMTPUTF8 at a next hop that does not offer it (issue 8, defect 8): a
// message the client sent with SMTPUTF8 but that is all ASCII in its
// envelope and header section is delivered as it is, as Postfix does (RFC
// 6531 §3.4); one with UTF-8 there still fails with 553 5.6.7.

import { expect } from 'chai';
import { startDeliveryWorld, type DeliveryWorld } from './helpers/delivery-env.js';
import { DEFAULT_EXTENSIONS, type SmtpSink } from './helpers/smtp-sink.js';
import { WireClient } from './helpers/wire-client.js';
import type { Zone } from './helpers/dns-server.js';
import { needsSmtputf8 } from '../src/protocol/client/smtputf8.js';
import { replyToString } from '../src/reply-codes/index.js';

const ZONES: Record<string, Zone> = {
  'utf8.test': { mx: [{ preference: 10, exchange: 'mx.utf8.test' }] },
  'mx.utf8.test': { a: ['127.0.0.2'] },
  'ascii.test': { mx: [{ preference: 10, exchange: 'mx.ascii.test' }] },
  'mx.ascii.test': { a: ['127.0.0.3'] },
  'sender.test': { mx: [{ preference: 10, exchange: 'mx.sender.test' }] },
  'mx.sender.test': { a: ['127.0.0.4'] },
};

describe('SMTPUTF8 toward a next hop (RFC 6531 §3.4)', () => {
  describe('needsSmtputf8', () => {
    const ascii = { sender: 'a@sender.test', recipients: ['u@ascii.test'], header: Buffer.from('Subject: hi\r\n') };
    const cases: Array<[string, Parameters<typeof needsSmtputf8>[0], boolean]> = [
      ['an all-ASCII message', ascii, false],
      ['a UTF-8 sender', { ...ascii, sender: 'jürgen@sender.test' }, true],
      ['a UTF-8 recipient', { ...ascii, recipients: ['u@ascii.test', '用户@ascii.test'] }, true],
      ['a UTF-8 header field', { ...ascii, header: Buffer.from('Subject: grüße\r\n') }, true],
      ['a lone 8-bit byte in the header', { ...ascii, header: Buffer.from([0x58, 0x3a, 0x20, 0xe9, 0x0d, 0x0a]) }, true],
    ];
    for (const [what, facts, expected] of cases) {
      it(`${expected ? 'needs' : 'does not need'} SMTPUTF8 for ${what}`, () => expect(needsSmtputf8(facts)).to.equal(expected));
    }
  });

  describe('through the relay', () => {
    let world: DeliveryWorld;
    let plain: SmtpSink;
    const clients: WireClient[] = [];

    beforeEach(async () => {
      world = await startDeliveryWorld(structuredClone(ZONES));
      plain = await world.addSink('127.0.0.3', { extensions: DEFAULT_EXTENSIONS.filter((k) => k !== 'SMTPUTF8') });
    });
    afterEach(async () => {
      for (const c of clients.splice(0)) c.close();
      await world.stop();
    });

    /** Sends one message with MAIL … SMTPUTF8; returns its queue id. */
    async function sendWithSmtputf8(sender: string, recipient: string, message: string): Promise<string> {
      const client = await WireClient.connect(world.relay.port);
      clients.push(client);
      await client.reply();
      await client.command('EHLO client.test');
      expect(await client.command(`MAIL FROM:<${sender}> SMTPUTF8`)).to.equal('250 2.1.0');
      expect(await client.command(`RCPT TO:<${recipient}>`)).to.equal('250 2.1.5');
      expect(await client.command('DATA')).to.equal('354');
      client.send(`${message}.\r\n`);
      const queued = await client.reply();
      expect(queued.code).to.equal(250);
      return /queued as (\S+)/.exec(queued.lines[0]!)![1]!;
    }

    it('delivers an all-ASCII message sent with SMTPUTF8 to a host without SMTPUTF8, unchanged', async () => {
      const body = 'Subject: plain\r\n\r\nonly ASCII here\r\n';
      const id = await sendWithSmtputf8('a@sender.test', 'u@ascii.test', body);
      const attempt = await world.attempt(id);
      expect(attempt.outcomes.map((o) => `${o.kind} ${replyToString(o.reply).slice(0, 3)}`)).to.deep.equal(['delivered 250']);
      const [message] = await plain.waitForMessages(1);
      expect(message!.mailParams).to.not.include('SMTPUTF8');
      expect(message!.data.toString().endsWith(body)).to.equal(true);
    });

    it('still fails a message with a UTF-8 header with 553 5.6.7 at a host without SMTPUTF8', async () => {
      const id = await sendWithSmtputf8('a@sender.test', 'u@ascii.test', 'Subject: grüße\r\n\r\nbody\r\n');
      const attempt = await world.attempt(id);
      expect(attempt.outcomes.map((o) => `${o.kind} ${o.reply.code} ${o.reply.enhanced}`)).to.deep.equal(['failed 553 5.6.7']);
      expect(plain.messages).to.have.length(0);
    });

    it('still fails a UTF-8 sender with 553 5.6.7 at a host without SMTPUTF8', async () => {
      const id = await sendWithSmtputf8('jürgen@sender.test', 'u@ascii.test', 'Subject: plain\r\n\r\nbody\r\n');
      const attempt = await world.attempt(id);
      expect(attempt.outcomes.map((o) => `${o.kind} ${o.reply.code} ${o.reply.enhanced}`)).to.deep.equal(['failed 553 5.6.7']);
    });

    it('sends SMTPUTF8 to a host that offers it when the header needs it', async () => {
      const id = await sendWithSmtputf8('a@sender.test', 'u@utf8.test', 'Subject: grüße\r\n\r\nbody\r\n');
      const attempt = await world.attempt(id);
      expect(attempt.outcomes.map((o) => o.kind)).to.deep.equal(['delivered']);
      const [message] = await world.sinks[0]!.waitForMessages(1);
      expect(message!.mailParams).to.include('SMTPUTF8');
    });
  });
});

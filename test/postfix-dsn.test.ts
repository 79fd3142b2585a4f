// DSN (RFC 3461) against Postfix, both ways, with one private Postfix instance
// on loopback (test/helpers/postfix-instance.ts):
//  1. Postfix's own client, asked for DSN with `sendmail -N success,failure`,
//     relays through minimta; minimta delivers to a next hop without DSN and
//     so reports `Action: relayed` itself (RFC 3461 §5.2.2).
//  2. minimta delivers to Postfix's smtpd, which offers DSN: the request goes
//     on with MAIL and RCPT (§5.2.2), and minimta reports nothing itself.

import { expect } from 'chai';
import { startDeliveryWorld, type DeliveryWorld } from './helpers/delivery-env.js';
import type { Zone } from './helpers/dns-server.js';
import { freePort, PostfixInstance } from './helpers/postfix-instance.js';
import { WireClient } from './helpers/wire-client.js';
import type { Envelope } from '../src/queue/spool/envelope.js';

const ZONES: Record<string, Zone> = {
  'normal.test': { mx: [{ preference: 10, exchange: 'mx.normal.test' }] },
  'mx.normal.test': { a: ['127.0.0.2'] },
  'sender.test': { mx: [{ preference: 10, exchange: 'mx.normal.test' }] },
  // Case 2: Postfix listens on 127.0.0.1 (minimta's delivery port is Postfix's).
  'pf.test': { mx: [{ preference: 10, exchange: 'mx.pf.test' }] },
  'mx.pf.test': { a: ['127.0.0.1'] },
};

const MESSAGE = 'From: a@sender.test\nTo: u@normal.test\nSubject: dsn through postfix\nMessage-ID: <pf-dsn@sender.test>\n\nbody\n';

/** Keeps every envelope the relay's sessions hand to its queue (as stored in the spool). */
function recordQueued(world: DeliveryWorld): Envelope[] {
  const queued: Envelope[] = [];
  const original = world.relay.worker.queued.bind(world.relay.worker);
  world.relay.worker.queued = (envelope: Envelope) => {
    queued.push(structuredClone(envelope));
    original(envelope);
  };
  return queued;
}

describe('DSN against Postfix (RFC 3461), both ways', function () {
  this.timeout(30_000);
  // One Postfix plays both parts: upstream of `viaSink` (its relayhost) and
  // next hop of `toPostfix` (which delivers to Postfix's port).
  let viaSink: DeliveryWorld;
  let toPostfix: DeliveryWorld;
  let postfix: PostfixInstance | undefined;
  let queued: Envelope[];

  before(async () => {
    const port = await freePort();
    viaSink = await startDeliveryWorld(structuredClone(ZONES));
    queued = recordQueued(viaSink);
    toPostfix = await startDeliveryWorld(structuredClone(ZONES), { delivery: { port } });
    // Postfix keeps mail for pf.test on hold, so its queue file can be read.
    postfix = await PostfixInstance.start({
      port,
      relayhost: `[127.0.0.1]:${viaSink.relay.port}`,
      main: ['relay_domains = pf.test', 'smtpd_recipient_restrictions = check_recipient_access inline:{pf.test=HOLD}, permit_mynetworks, reject'],
    });
  });
  after(async () => {
    await postfix?.stop();
    await viaSink?.stop();
    await toPostfix?.stop();
  });

  it('Postfix upstream (sendmail -N success,failure): minimta takes NOTIFY, ORCPT, RET and ENVID and, delivering to a next hop without DSN, reports Action: relayed', async () => {
    await postfix!.sendmail(['-f', 'a@sender.test', '-N', 'success,failure', '-R', 'hdrs', '-V', 'pf-order-7', 'u@normal.test'], MESSAGE);
    const messages = await viaSink.sinks[0]!.waitForMessages(2, 20_000);

    const envelope = queued.find((e) => e.sender === 'a@sender.test');
    expect(envelope, `minimta queued nothing from Postfix\nmaillog:\n${await postfix!.maillog()}`).to.not.equal(undefined);
    expect(envelope).to.include({ ret: 'HDRS', envid: 'pf-order-7' });
    expect(envelope!.recipients[0]).to.include({ address: 'u@normal.test', orcpt: 'rfc822;u@normal.test' });
    expect(envelope!.recipients[0]!.notify).to.deep.equal(['SUCCESS', 'FAILURE']);

    const delivered = messages.find((m) => m.sender === 'a@sender.test')!;
    expect(delivered.recipients).to.deep.equal(['u@normal.test']);
    const report = messages.find((m) => m.sender === '')!;
    expect(report.recipients).to.deep.equal(['a@sender.test']);
    const text = report.data.toString();
    expect(text).to.include('Original-Envelope-Id: pf-order-7\r\n');
    expect(text).to.include('Original-Recipient: rfc822; u@normal.test\r\n');
    expect(text).to.include('Final-Recipient: rfc822; u@normal.test\r\nAction: relayed\r\nStatus: 2.0.0\r\n');
    expect(text).to.include('Message-ID: <pf-dsn@sender.test>');
  });

  it('Postfix as the next hop (it offers DSN): minimta passes NOTIFY, ORCPT, RET and ENVID on and sends no relayed report itself', async () => {
    const client = await WireClient.connect(toPostfix.relay.port);
    let id: string;
    try {
      await client.reply();
      await client.command('EHLO client.test');
      expect(await client.command('MAIL FROM:<a@sender.test> RET=HDRS ENVID=pf+2Bnext')).to.equal('250 2.1.0');
      expect(await client.command('RCPT TO:<u@pf.test> NOTIFY=SUCCESS ORCPT=rfc822;first+40pf.test')).to.equal('250 2.1.5');
      expect(await client.command('DATA')).to.equal('354');
      client.send('Subject: to postfix\r\nMessage-ID: <pf-next@sender.test>\r\n\r\nbody\r\n.\r\n');
      const reply = await client.reply();
      id = /queued as (\S+)/.exec(reply.lines[0] ?? '')![1]!;
    } finally {
      client.close();
    }
    const attempt = await toPostfix.attempt(id, 1, 15_000);
    expect(attempt.done, `${JSON.stringify(attempt.outcomes)}\nmaillog:\n${await postfix!.maillog()}`).to.equal(true);

    const [file] = await postfix!.waitForQueueFiles('hold');
    const stored = await postfix!.postcat(file!);
    // Postfix's queue file keeps the request as named attributes; its flag
    // values (Postfix's dsn.h): ret_flags 2 = HDRS, notify_flags 2 = SUCCESS.
    expect(stored).to.include('named_attribute: envelope_id=pf+next\n');
    expect(stored).to.include('named_attribute: ret_flags=2\n');
    expect(stored).to.include('named_attribute: notify_flags=2\n');
    expect(stored).to.include('named_attribute: dsn_orig_rcpt=rfc822;first@pf.test\n');
    expect(stored).to.include('recipient: u@pf.test\n');

    expect(toPostfix.relay.logs.some((l) => l.includes('success notification'))).to.equal(false);
    expect(toPostfix.sinks[0]!.messages).to.deep.equal([]);
  });
});

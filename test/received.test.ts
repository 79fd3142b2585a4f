// The Received: field (RFC 5321 §4.4): whatever the client says in EHLO, the
// "from" clause is a Domain or an address-literal, comments stay balanced,
// and the date after the last ';' is ours (issue 8, defect 6).

import { expect } from 'chai';
import fs from 'node:fs/promises';
import { receivedHeader } from '../src/protocol/server/received.js';
import { WireClient } from './helpers/wire-client.js';
import { startTestRelay, type TestRelay } from './helpers/test-relay.js';

const DATE = new Date(Date.UTC(2026, 10, 28, 17, 34, 12));
const DATE_TEXT = 'Sat, 28 Nov 2026 17:34:12 +0000';

function fieldFor(heloName: string, clientIp = '192.0.2.1'): string {
  return receivedHeader({ heloName, clientIp, hostname: 'mx.test', protocol: 'ESMTP', id: 'ID1', recipients: ['u@x.test'], date: DATE });
}

/** True when every '(' has its ')' outside quoted-pairs (RFC 5322 §3.2.2). */
function balanced(text: string): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth < 0) return false;
  }
  return depth === 0;
}

describe('Received: field syntax (RFC 5321 §4.4, RFC 5322 §3.2.2)', () => {
  const table: Array<[string, string]> = [
    ['mail.example.org', 'from mail.example.org ([192.0.2.1])'],
    ['[192.0.2.1]', 'from [192.0.2.1] ([192.0.2.1])'],
    ['[IPv6:2001:db8::1]', 'from [IPv6:2001:db8::1] ([192.0.2.1])'],
    ['x;Mon,', 'from [192.0.2.1] (helo=x?Mon,)'],
    ['a)(by', 'from [192.0.2.1] (helo=a\\)\\(by)'],
    ['back\\slash)', 'from [192.0.2.1] (helo=back\\\\slash\\))'],
    ['under_score', 'from [192.0.2.1] (helo=under_score)'],
    ['trailing.dot.', 'from [192.0.2.1] (helo=trailing.dot.)'],
    ['bücher.example', 'from [192.0.2.1] (helo=b?cher.example)'],
    ['[999.1.1.1]', 'from [192.0.2.1] (helo=[999.1.1.1])'],
  ];
  for (const [helo, from] of table) {
    it(`EHLO ${helo} → ${from}`, () => {
      const field = fieldFor(helo);
      expect(field).to.equal(`Received: ${from} by mx.test with ESMTP id ID1 for <u@x.test>; ${DATE_TEXT}\r\n`);
      expect(balanced(field)).to.equal(true);
      // The date is what follows the last ';' (RFC 5322 §3.6.7).
      expect(field.slice(field.lastIndexOf(';') + 1).trim()).to.equal(DATE_TEXT);
    });
  }

  describe('over a socket', () => {
    let relay: TestRelay;
    const clients: WireClient[] = [];
    before(async () => { relay = await startTestRelay(); });
    after(async () => {
      for (const c of clients) c.close();
      await relay.cleanup();
    });

    for (const [helo, from] of [['x;Mon, 1 Jan 2001', 'from [127.0.0.1] (helo=x?Mon,)'], ['a)(by', 'from [127.0.0.1] (helo=a\\)\\(by)']] as const) {
      it(`stores "${from}" for EHLO ${helo}`, async () => {
        const client = await WireClient.connect(relay.port);
        clients.push(client);
        await client.reply();
        expect(await client.command(`EHLO ${helo}`)).to.equal('250');
        const done = await client.sendMail('a@b.test', ['u@normal.test'], 'Subject: t\r\n\r\nbody\r\n');
        const id = /queued as (\S+)/.exec(done.lines[0]!)![1]!;
        const received = (await relay.spool.readMessage(id)).toString('utf8').split('\r\n')[0]!;
        expect(received.startsWith(`Received: ${from} by mx.minimta.test with ESMTP id ${id} for <u@normal.test>; `)).to.equal(true, received);
        expect(balanced(received)).to.equal(true);
        expect(received.split(';')).to.have.length(2);
      });
    }
  });
});

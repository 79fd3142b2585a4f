// Client text in the log and in replies (issue 8, defect 5): control
// characters and line separators sent by a client come out as '?', so they
// can neither drive a terminal nor forge a log entry.

import { expect } from 'chai';
import { WireClient } from './helpers/wire-client.js';
import { startTestRelay, type TestRelay } from './helpers/test-relay.js';
import { printable } from '../src/protocol/shared/printable.js';

/** What must never reach a log line or a reply as it is. */
const HOSTILE = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x85\u2028\u2029\u202e]/u;

describe('client text in the log and in replies', () => {
  describe('printable()', () => {
    const cases: Array<[string, string, string]> = [
      ['keeps plain ASCII', 'plain ASCII stays', 'plain ASCII stays'],
      ['replaces NUL, BEL, ESC and DEL', 'NUL\x00 BEL\x07 ESC\x1b[31m DEL\x7f', 'NUL? BEL? ESC?[31m DEL?'],
      ['replaces TAB, CR and LF', 'tab\tCR\rLF\n', 'tab?CR?LF?'],
      ['replaces NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR', 'NEL\u0085 LS\u2028 PS\u2029', 'NEL? LS? PS?'],
      ['replaces a bidirectional override', 'bidi \u202egnp.exe', 'bidi ?gnp.exe'],
      ['replaces a lone surrogate', 'lone surrogate \ud800', 'lone surrogate ?'],
      ['keeps printable UTF-8', 'UTF-8 stays: jöran@bücher.example', 'UTF-8 stays: jöran@bücher.example'],
    ];
    for (const [what, input, expected] of cases) {
      it(what, () => expect(printable(input)).to.equal(expected));
    }
  });

  describe('over a socket', () => {
    let relay: TestRelay;
    const clients: WireClient[] = [];

    before(async () => {
      relay = await startTestRelay();
    });
    after(async () => {
      for (const c of clients) c.close();
      await relay.cleanup();
    });

    async function connect(): Promise<WireClient> {
      const client = await WireClient.connect(relay.port);
      clients.push(client);
      await client.reply();
      return client;
    }

    it('echoes an EHLO name with NUL and ESC as "?"', async () => {
      const client = await connect();
      client.send('EHLO a\x00b\x1b[2Jc\x07\r\n');
      const ehlo = await client.reply();
      expect(ehlo.code).to.equal(250);
      expect(ehlo.lines[0]).to.equal('mx.minimta.test Hello a?b?[2Jc? [127.0.0.1]');
      expect(client.chunks.join('')).to.not.match(HOSTILE);
    });

    it('echoes a refused parameter with ESC as "?"', async () => {
      const client = await connect();
      await client.command('EHLO c.test');
      client.send('MAIL FROM:<a@b.test> SIZE=1\x1b[2J\r\n');
      const refused = await client.reply();
      expect(`${refused.code} ${refused.enhanced} ${refused.lines[0]}`).to.equal('501 5.5.4 Bad parameter SIZE=1?[2J');
      expect(client.chunks.join('')).to.not.match(HOSTILE);
    });

    it('logs refused MAIL and RCPT arguments with every control character and separator as "?"', async () => {
      const client = await connect();
      await client.command('EHLO c.test');
      expect(await client.command('MAIL FROM:<\x1b[31mred\x00@b.test>')).to.equal('501 5.1.7');
      expect(await client.command('MAIL FROM:<a@b.test>')).to.equal('250 2.1.0');
      const forged = 'x\u2028Nov 29 12:00:00 minimta/smtpd: 0ABC: to=<v@victim.test>, status=sent@normal.test';
      for (const arg of [`<bell\x07@normal.test>`, `<${forged}>`, `<nel\u0085@normal.test>`]) {
        expect(await client.command(`RCPT TO:${arg}`)).to.match(/^5/);
      }
      const rejects = relay.logs.filter((line) => line.includes('reject: '));
      expect(rejects.some((l) => l.includes('MAIL FROM:<?[31mred?@b.test>'))).to.equal(true);
      expect(rejects.some((l) => l.includes('RCPT TO:<bell?@normal.test>'))).to.equal(true);
      expect(rejects.some((l) => l.includes('RCPT TO:<x?Nov 29 12:00:00 minimta/smtpd: 0ABC'))).to.equal(true);
      expect(rejects.some((l) => l.includes('RCPT TO:<nel?@normal.test>'))).to.equal(true);
      for (const line of relay.logs) expect(line).to.not.match(HOSTILE);
    });
  });
});

// "vector N" in a title is row N of docs/test-vectors.md.

import { expect } from 'chai';
import { reply, ReplyError } from '../src/reply-codes/index.js';
import { SpoolError } from '../src/queue/spool/spool-error.js';
import { dialog, expectReply, MemoryStore, newSession } from './helpers/session-harness.js';
import type { SessionPolicy } from '../src/protocol/server/session.js';

describe('session: the SMTP state machine (RFC 5321 §4.1)', () => {
  describe('greeting', () => {
    it('greets with 220 and the host name, without an enhanced code', () => {
      const { session } = newSession();
      const step = session.open();
      expect(step.replies[0]).to.deep.equal({ code: 220, lines: ['mx.minimta.test ESMTP minimta'] });
    });

    it('refuse mode greets 521 5.3.2 <host> does not accept mail (RFC 7504 §3, vector 1)', () => {
      const { session } = newSession({ mode: 'refuse' });
      const step = session.open();
      expect(step.replies[0]).to.deep.equal({ code: 521, enhanced: '5.3.2', lines: ['mx.minimta.test does not accept mail'] });
      expect(step.close).to.equal(undefined);
    });

    it('refuse "close" closes right after the 521 greeting', () => {
      const { session } = newSession({ mode: 'refuse', refuse: 'close' });
      const step = session.open();
      expectReply(step, '521 5.3.2');
      expect(step.close).to.equal('hangup');
    });

    it('refuse "stay" answers 521 to every command but QUIT, which gets 221 (vector 2)', async () => {
      const { session } = newSession({ mode: 'refuse' });
      session.open();
      await dialog(session, `
        C: EHLO x
        S: 521 5.3.2
        C: MAIL FROM:<a@b>
        S: 521 5.3.2
        C: NOOP
        S: 521 5.3.2
        C: QUIT
        S: 221 close`);
    });

    it('refuse "stay" closes after the command cap', async () => {
      const { session } = newSession({ mode: 'refuse', refuseMaxCommands: 3 });
      session.open();
      await dialog(session, `
        C: NOOP
        S: 521 5.3.2
        C: NOOP
        S: 521 5.3.2
        C: NOOP
        S: 521 5.3.2 close`);
    });
  });

  describe('HELO and EHLO', () => {
    it('EHLO lists SIZE, PIPELINING, 8BITMIME, ENHANCEDSTATUSCODES, SMTPUTF8, DSN (RFC 5321 §4.1.1.1)', async () => {
      const { session } = newSession();
      const [step] = await dialog(session, 'C: EHLO c.test\nS: 250');
      const lines = step!.replies[0]!.lines;
      expect(lines.slice(1)).to.deep.equal(['SIZE 1000000', 'PIPELINING', '8BITMIME', 'ENHANCEDSTATUSCODES', 'SMTPUTF8', 'DSN']);
      expect(step!.replies[0]!.enhanced).to.equal(undefined);
    });

    it('HELO gets a single-line 250 and no extension applies after it (vector 4)', async () => {
      const { session } = newSession();
      const [helo] = await dialog(session, `
        C: HELO c.test
        S: 250
        C: MAIL FROM:<a@b.test> SIZE=10
        S: 555 5.5.4`);
      expect(helo!.replies[0]).to.deep.equal({ code: 250, lines: ['mx.minimta.test'] });
    });

    it('EHLO with no argument is 501 5.5.4 and changes nothing (vector 5)', async () => {
      const { session } = newSession();
      await dialog(session, `
        C: EHLO
        S: 501 5.5.4
        C: MAIL FROM:<a@b.test>
        S: 503 5.5.1`);
    });

    it('a second EHLO resets the transaction like RSET (RFC 5321 §4.1.4)', async () => {
      const { session } = newSession();
      await dialog(session, `
        C: EHLO c.test
        C: MAIL FROM:<a@b.test>
        S: 250 2.1.0
        C: EHLO c.test
        S: 250
        C: RCPT TO:<u@normal.test>
        S: 503 5.5.1
        C: MAIL FROM:<a@b.test>
        S: 250 2.1.0`);
    });
  });

  describe('command sequence', () => {
    it('refuses MAIL before EHLO with 503 5.5.1, but NOOP and VRFY work (vector 3)', async () => {
      const { session } = newSession();
      await dialog(session, `
        C: MAIL FROM:<a@normal.test>
        S: 503 5.5.1
        C: NOOP
        S: 250 2.0.0
        C: VRFY x
        S: 252 2.0.0`);
    });

    it('RCPT without MAIL and a nested MAIL are 503 5.5.1 (vector 6)', async () => {
      const { session } = newSession();
      await dialog(session, `
        C: EHLO c.test
        C: RCPT TO:<u@normal.test>
        S: 503 5.5.1
        C: MAIL FROM:<a@b.test>
        S: 250 2.1.0
        C: MAIL FROM:<a@b.test>
        S: 503 5.5.1`);
    });

    it('DATA with no RCPT is 503 5.5.1; after every RCPT was rejected it is 554 5.5.1 (vector 7)', async () => {
      const rejectAll: SessionPolicy = { checkSender: async () => undefined, checkRecipient: async (a) => { throw new ReplyError(reply('relayDenied', { address: a })); } };
      const { session } = newSession({}, rejectAll);
      await dialog(session, `
        C: EHLO c.test
        C: MAIL FROM:<a@b.test>
        C: DATA
        S: 503 5.5.1
        C: RCPT TO:<u@elsewhere.test>
        S: 550 5.7.1
        C: DATA
        S: 554 5.5.1`);
    });

    it('DATA x and QUIT x are 501 5.5.4; FOO is 500 5.5.2; TURN is 502; none closes (vector 30)', async () => {
      const { session } = newSession();
      await dialog(session, `
        C: EHLO c.test
        C: DATA x
        S: 501 5.5.4
        C: QUIT x
        S: 501 5.5.4
        C: FOO
        S: 500 5.5.2
        C: TURN
        S: 502 5.5.1
        C: EXPN list
        S: 502 5.5.1
        C: NOOP
        S: 250 2.0.0`);
    });

    it('VRFY is 252 2.0.0, never 250 (vector 31); HELP is 214', async () => {
      const { session } = newSession();
      await dialog(session, `
        C: EHLO c.test
        C: VRFY u@normal.test
        S: 252 2.0.0
        C: HELP
        S: 214 2.0.0`);
    });

    it('RSET clears the transaction and keeps the session (RFC 5321 §4.1.1.5)', async () => {
      const { session } = newSession();
      await dialog(session, `
        C: EHLO c.test
        C: MAIL FROM:<a@b.test>
        C: RSET
        S: 250 2.0.0
        C: RCPT TO:<u@normal.test>
        S: 503 5.5.1`);
    });

    it('answers an HTTP request line with an error and closes', async () => {
      const { session } = newSession();
      await dialog(session, 'C: GET / HTTP/1.1\nS: 500 5.5.1 close');
    });

    it('QUIT is 221 and closes', async () => {
      const { session } = newSession();
      await dialog(session, 'C: QUIT\nS: 221 2.0.0 close');
    });

    it('closes after QUIT as the client asked (at once), after any other closing reply with a grace (hangup)', async () => {
      const { session } = newSession();
      session.open();
      expect((await session.command('QUIT')).close).to.equal('quit');
      const other = newSession().session;
      other.open();
      expect((await other.command('GET / HTTP/1.1')).close).to.equal('hangup');
    });
  });

  describe('MAIL and RCPT parameters', () => {
    it('SIZE above the maximum is 552 5.3.4; SIZE=abc is 501 5.5.4 (vector 18)', async () => {
      const { session } = newSession();
      await dialog(session, `
        C: EHLO c.test
        C: MAIL FROM:<a@b.test> SIZE=999999999
        S: 552 5.3.4
        C: MAIL FROM:<a@b.test> SIZE=abc
        S: 501 5.5.4
        C: MAIL FROM:<a@b.test> SIZE=1000
        S: 250 2.1.0`);
    });

    it('BODY=8BITMIME is 250, BODY=FOO 501 5.5.4, BODY=BINARYMIME 555 5.5.4 (vector 38)', async () => {
      const { session } = newSession();
      await dialog(session, `
        C: EHLO c.test
        C: MAIL FROM:<a@b.test> BODY=FOO
        S: 501 5.5.4
        C: MAIL FROM:<a@b.test> BODY=BINARYMIME
        S: 555 5.5.4
        C: MAIL FROM:<a@b.test> BODY=8BITMIME
        S: 250 2.1.0`);
    });

    it('a UTF-8 sender needs the SMTPUTF8 parameter: 553 5.6.7 without, 250 with (vector 39)', async () => {
      const { session } = newSession();
      await dialog(session, `
        C: EHLO c.test
        C: MAIL FROM:<ü@b.test>
        S: 553 5.6.7
        C: MAIL FROM:<ü@b.test> SMTPUTF8
        S: 250 2.1.0
        C: RCPT TO:<ü@normal.test>
        S: 250 2.1.5`);
    });

    it('a 65-octet local part is 501 5.1.3 on RCPT; a 257-octet path 501 5.1.7 on MAIL (vector 21)', async () => {
      const { session } = newSession();
      const longPath = `<${'a'.repeat(64)}@${'d'.repeat(185)}.test>`;
      expect(longPath.length).to.equal(257);
      await dialog(session, `
        C: EHLO c.test
        C: MAIL FROM:${longPath}
        S: 501 5.1.7
        C: MAIL FROM:<a@b.test>
        C: RCPT TO:<${'a'.repeat(65)}@normal.test>
        S: 501 5.1.3`);
    });

    it('the 101st RCPT is 452 4.5.3 and the first 100 stay accepted (vector 22)', async () => {
      const { session, store } = newSession();
      const accepted = Array.from({ length: 100 }, (_, i) => `C: RCPT TO:<u${i}@normal.test>\nS: 250 2.1.5`).join('\n');
      await dialog(session, `
        C: EHLO c.test
        C: MAIL FROM:<a@b.test>
        ${accepted}
        C: RCPT TO:<u100@normal.test>
        S: 452 4.5.3
        C: DATA
        S: 354
        C: Subject: many
        C: .
        S: 250 2.0.0`);
      expect(store.committed[0]!.envelope.recipients).to.have.length(100);
    });

    it('accepts <Postmaster> and routes it to the configured postmaster address (RFC 5321 §4.5.1)', async () => {
      const { session, store } = newSession();
      await dialog(session, `
        C: EHLO c.test
        C: MAIL FROM:<>
        S: 250 2.1.0
        C: RCPT TO:<Postmaster>
        S: 250 2.1.5
        C: DATA
        S: 354
        C: Subject: for the postmaster
        C: .
        S: 250 2.0.0`);
      expect(store.committed[0]!.envelope.sender).to.equal('');
      expect(store.committed[0]!.envelope.recipients[0]!.address).to.equal('postmaster@mx.minimta.test');
    });

    it('asks the policy about senders and recipients and sends its reply', async () => {
      const policy: SessionPolicy = {
        checkSender: async (a) => { if (a.endsWith('@nullmx.test')) throw new ReplyError(reply('nullMxSender', { address: a, domain: 'nullmx.test' })); },
        checkRecipient: async (a) => { if (a.endsWith('@nullmx.test')) throw new ReplyError(reply('nullMxRecipient', { address: a, domain: 'nullmx.test' })); },
      };
      const { session } = newSession({}, policy);
      await dialog(session, `
        C: EHLO c.test
        C: MAIL FROM:<a@nullmx.test>
        S: 550 5.7.27
        C: MAIL FROM:<>
        S: 250 2.1.0
        C: RCPT TO:<u@nullmx.test>
        S: 556 5.1.10
        C: RCPT TO:<u@normal.test>
        S: 250 2.1.5`);
    });
  });

  describe('DATA', () => {
    /** A transaction up to the 354, for one recipient or several. */
    const toData = (recipients = ['u@normal.test']) => `
      C: EHLO c.test
      C: MAIL FROM:<a@b.test>
      ${recipients.map((r) => `C: RCPT TO:<${r}>`).join('\n')}
      C: DATA
      S: 354`;

    it('answers 354 with a Received: header to write first, then 250 queued as <id> after commit', async () => {
      const { session, store } = newSession();
      const steps = await dialog(session, `${toData()}
        C: Subject: forty-two
        C:
        C: Hello, forty-two!!
        C: .
        S: 250 2.0.0
        C: MAIL FROM:<a@b.test>
        S: 250 2.1.0`);
      const header = steps.find((step) => step.receive)!.receive!.header.toString();
      expect(header).to.equal('Received: from c.test ([127.0.0.1]) by mx.minimta.test with ESMTP id ID1 for <u@normal.test>; Sat, 28 Nov 2026 12:00:00 +0000\r\n');
      const done = steps.at(-2)!;
      expect(done.replies[0]).to.deep.equal({ code: 250, enhanced: '2.0.0', lines: ['Ok: queued as ID1'] });
      expect(store.committed[0]!.envelope).to.deep.include({ id: 'ID1', sender: 'a@b.test', body: '7BIT', smtputf8: false, capture: false });
      expect(store.committed[0]!.data.toString()).to.equal(`${header}Subject: forty-two\r\n\r\nHello, forty-two!!\r\n`);
      // One size: what was stored, our Received: line included (README, "minimta in your test suite").
      const size = store.committed[0]!.data.length;
      expect(size).to.equal(header.length + 42);
      expect(done.log![0]).to.deep.equal({ id: 'ID1', text: `from=<a@b.test>, size=${size}, nrcpt=1, client=[127.0.0.1]` });
    });

    it('leaves "for" out of Received: when there are several recipients (RFC 5321 §4.4)', async () => {
      const { session } = newSession();
      const steps = await dialog(session, toData(['u@normal.test', 'v@normal.test']));
      expect(steps.at(-1)!.receive!.header.toString()).to.not.include(' for ');
    });

    it('refuses data sent before the 354 with 554 5.5.0 and closes (RFC 2920 §3.1)', async () => {
      const { session, store } = newSession();
      await dialog(session, `
        C: EHLO c.test
        C: MAIL FROM:<a@b.test>
        C: RCPT TO:<u@normal.test>`);
      const step = await session.command('DATA', { inputPending: true });
      expectReply(step, '554 5.5.0');
      expect(step.close).to.equal('hangup');
      expect(store.committed).to.have.length(0);
    });

    it('a too-big message is 552 5.3.4 and nothing is queued (RFC 1870 §6.3)', async () => {
      const { session, store } = newSession({ maxMessageSize: 1024 });
      const body = Array.from({ length: 20 }, () => `C: ${'x'.repeat(100)}`).join('\n');
      await dialog(session, `${toData()}
        ${body}
        C: .
        S: 552 5.3.4`);
      expect(store.committed).to.have.length(0);
      expect(store.aborted).to.equal(1);
    });

    it('a line over 1000 octets is 554 5.6.0 and nothing is queued (RFC 5321 §4.5.3.1.6)', async () => {
      const { session, store } = newSession();
      await dialog(session, `${toData()}
        C: ${'x'.repeat(1001)}
        C: .
        S: 554 5.6.0`);
      expect(store.committed).to.have.length(0);
    });

    it('more than 100 Received: fields is 554 5.4.6 (RFC 5321 §6.3); 100 is fine', async () => {
      const { session, store } = newSession();
      const hops = (n: number) => Array.from({ length: n }, (_, i) => `C: Received: from hop${i}.test by next.test; Sat, 28 Nov 2026 11:00:00 +0000`).join('\n');
      await dialog(session, `${toData()}
        ${hops(101)}
        C:
        C: looping
        C: .
        S: 554 5.4.6
        ${toData()}
        ${hops(100)}
        C:
        C: not looping yet
        C: .
        S: 250 2.0.0`);
      expect(store.committed).to.have.length(1);
    });

    it('a bare LF in the data is 550 5.5.2, closes, and drops the message (RFC 5321 §2.3.8)', async () => {
      const { session, store } = newSession();
      await dialog(session, `${toData()}
        C: Subject: smuggled<LF>.<LF>MAIL FROM:<evil@b.test>
        S: 550 5.5.2 close`);
      expect(store.aborted).to.equal(1);
      expect(store.committed).to.have.length(0);
    });

    it('a failing store is 451 4.3.0, and a full disk 452 4.3.1; never 250', async () => {
      const store = new MemoryStore();
      const { session } = newSession({}, undefined, store);
      store.failWith = new Error('EIO');
      await dialog(session, `${toData()}
        C: Subject: lost in the disk
        C: .
        S: 451 4.3.0`);
      store.failWith = new SpoolError('ENOSPC', 'no space');
      await dialog(session, `${toData()}
        C: Subject: the disk is full
        C: .
        S: 452 4.3.1`);
      expect(store.committed).to.have.length(0);
    });

    it('capture mode accepts every recipient without asking the policy and marks the message', async () => {
      const denied = async () => { throw new ReplyError(reply('relayDenied', { address: 'x' })); };
      const refuseAll: SessionPolicy = { checkSender: denied, checkRecipient: denied };
      const { session, store } = newSession({ mode: 'capture' }, refuseAll);
      await dialog(session, `${toData(['anyone@anywhere.test'])}
        C: Subject: caught
        C: .
        S: 250 2.0.0`);
      expect(store.committed[0]!.envelope.capture).to.equal(true);
    });

    it('a dropped connection mid-DATA aborts the receipt', async () => {
      const { session, store } = newSession();
      await dialog(session, `${toData()}
        C: Subject: cut off`);
      await session.disconnected();
      expect(store.aborted).to.equal(1);
      expect(store.committed).to.have.length(0);
    });
  });

  describe('limits and timeouts', () => {
    it('after 20 errors the next command gets 421 4.7.0 and the session closes (vector 40)', async () => {
      const { session } = newSession();
      for (let i = 0; i < 20; i++) expectReply(await session.command('FOO', { inputPending: false }), '500 5.5.2');
      const step = await session.command('FOO', { inputPending: false });
      expectReply(step, '421 4.7.0');
      expect(step.close).to.equal('hangup');
    });

    it('delays replies once the soft error limit is reached', async () => {
      const { session } = newSession({ softErrorLimit: 2, errorDelayMs: 50 });
      expect((await session.command('FOO', { inputPending: false })).delayMs).to.equal(undefined);
      expect((await session.command('FOO', { inputPending: false })).delayMs).to.equal(50);
    });

    it('an idle timeout is 421 4.4.2 and closes', async () => {
      const { session } = newSession();
      const step = await session.timeout();
      expectReply(step, '421 4.4.2');
      expect(step.close).to.equal('hangup');
    });

    it('an over-long command line is 500 5.5.2 and the session goes on (vector 20)', async () => {
      const { session } = newSession();
      expectReply(session.lineTooLong(), '500 5.5.2');
      await dialog(session, 'C: EHLO c.test\nS: 250');
    });

    it('too many NOOPs end the session with 421 4.7.0', async () => {
      const { session } = newSession({ maxJunkCommands: 3 });
      for (let i = 0; i < 3; i++) expectReply(await session.command('NOOP', { inputPending: false }), '250 2.0.0');
      expectReply(await session.command('NOOP', { inputPending: false }), '421 4.7.0');
    });
  });
});

describe('session: any input gets exactly one reply (seeded fuzz)', () => {
  it('never throws and answers each of 3000 random lines with one 2xx–5xx reply', async () => {
    let seed = 777;
    const random = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    const pieces = ['MAIL FROM:', 'RCPT TO:', 'EHLO ', 'HELO ', 'RSET', 'NOOP', 'VRFY ', 'HELP', 'QUIT ', 'AUTH ', 'STARTTLS', '<', '>', '@', '"', '\\', ' ', '=', 'SIZE=', 'BODY=', 'SMTPUTF8', 'ü', '\u0000', '[IPv6:', ']', '.', 'a', 'Z9'];
    for (let s = 0; s < 30; s++) {
      const { session } = newSession({ auth: true, maxErrors: 1000 });
      session.open();
      for (let i = 0; i < 100; i++) {
        const line = Array.from({ length: 1 + Math.floor(random() * 8) }, () => pieces[Math.floor(random() * pieces.length)]).join('');
        if (/^\s*DATA/i.test(line)) continue;
        const step = await session.command(line);
        expect(step.replies, line).to.have.length(1);
        const code = step.replies[0]!.code;
        expect(code, line).to.be.within(200, 599);
        if (step.close || step.receive) break;
      }
    }
  });
});

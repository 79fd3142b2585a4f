// The delivery client's AUTH (RFC 4954; PLAIN is RFC 4616) towards a
// smarthost, against the sink over real loopback sockets. The sink lists every
// line that reached it outside TLS carrying the password, in any form.

import { expect } from 'chai';
import { chooseMechanism, deferredAuthFailure } from '../src/protocol/client/auth.js';
import { parseEhloReply } from '../src/protocol/client/extensions.js';
import { replyToString } from '../src/reply-codes/index.js';
import { SmtpSink, type SinkOptions } from './helpers/smtp-sink.js';
import { codeOf, codes, commandVerbs, deliverTo, FAST, hostFailure, session, SINK_TLS, verbs } from './helpers/client-delivery.js';

const PASSWORD = 'c0rrect-h0rse';
const ALICE = { username: 'alice', password: PASSWORD };
const USERS = { alice: PASSWORD };

/** Every form of the password a careless client or reply could carry. */
const PASSWORD_FORMS = [PASSWORD, b64(PASSWORD), b64(`\0alice\0${PASSWORD}`)];

function b64(text: string): string {
  return Buffer.from(text).toString('base64');
}

describe('deliverToHost with AUTH to a smarthost (RFC 4954)', function () {
  this.timeout(10_000);
  const sinks: SmtpSink[] = [];

  async function startSink(options: SinkOptions): Promise<SmtpSink> {
    const sink = await SmtpSink.start(options);
    sinks.push(sink);
    return sink;
  }

  afterEach(async () => {
    await Promise.all(sinks.splice(0).map((s) => s.stop()));
  });

  function expectNoPassword(text: string): void {
    for (const form of PASSWORD_FORMS) expect(text).to.not.contain(form);
  }

  describe('under TLS', () => {
    it('authenticates with PLAIN and an initial response after STARTTLS and the second EHLO', async () => {
      const sink = await startSink({ tls: SINK_TLS, auth: { users: USERS, required: true } });
      const result = session(await deliverTo(sink, { auth: ALICE }));
      expect(codes(result)).to.deep.equal(['250 2.0.0']);
      expect(commandVerbs(sink)).to.deep.equal(['EHLO', 'STARTTLS', 'EHLO', 'AUTH', 'MAIL', 'RCPT', 'DATA']);
      expect(sink.transcript).to.include(`AUTH PLAIN ${b64(`\0alice\0${PASSWORD}`)}`);
      const [message] = await sink.waitForMessages(1);
      expect(message?.authUser).to.equal('alice');
      expect(message?.tls).to.equal(true);
      expect(sink.plaintextPasswordLines).to.deep.equal([]);
    });

    it('uses LOGIN when it is the only mechanism offered', async () => {
      const sink = await startSink({ tls: SINK_TLS, auth: { users: USERS, required: true, mechanisms: ['LOGIN'] } });
      expect(codes(await deliverTo(sink, { auth: ALICE }))).to.deep.equal(['250 2.0.0']);
      const auth = sink.transcript.indexOf('AUTH LOGIN');
      expect(sink.transcript.slice(auth, auth + 3)).to.deep.equal(['AUTH LOGIN', b64('alice'), b64(PASSWORD)]);
      expect((await sink.waitForMessages(1))[0]?.authUser).to.equal('alice');
    });

    it('sends PLAIN without an initial response when the AUTH line would pass 512 octets (RFC 4954 §4)', async () => {
      const long = { username: 'bob', password: 'p'.repeat(400) };
      const sink = await startSink({ tls: SINK_TLS, auth: { users: { bob: long.password }, required: true } });
      expect(codes(await deliverTo(sink, { auth: long }))).to.deep.equal(['250 2.0.0']);
      const auth = sink.transcript.indexOf('AUTH PLAIN');
      expect(sink.transcript[auth + 1]).to.equal(b64(`\0bob\0${long.password}`));
      expect((await sink.waitForMessages(1))[0]?.authUser).to.equal('bob');
    });

    it('authenticates over implicit TLS (a port 465 smarthost, RFC 8314)', async () => {
      const sink = await startSink({ tls: SINK_TLS, implicitTls: true, auth: { users: USERS, required: true } });
      expect(codes(await deliverTo(sink, { tls: 'implicit', auth: ALICE }))).to.deep.equal(['250 2.0.0']);
      expect(commandVerbs(sink)).to.deep.equal(['EHLO', 'AUTH', 'MAIL', 'RCPT', 'DATA']);
      expect((await sink.waitForMessages(1))[0]?.authUser).to.equal('alice');
    });
  });

  describe('refusals', () => {
    it('defers on 535: temporary 451 4.7.8 carrying the 535, the password in no reply text, and QUIT', async () => {
      const sink = await startSink({ tls: SINK_TLS, auth: { users: { alice: 'another-password' }, required: true } });
      const failure = hostFailure(await deliverTo(sink, { auth: ALICE }));
      expect(failure.stage).to.equal('auth');
      expect(codeOf(failure.reply)).to.equal('451 4.7.8');
      expect(replyToString(failure.reply)).to.contain('535 5.7.8 Authentication credentials invalid');
      expectNoPassword(replyToString(failure.reply));
      expect(commandVerbs(sink).slice(-2)).to.deep.equal(['AUTH', 'QUIT']);
      expect(sink.messages).to.have.length(0);
    });

    it('scrubs the password from a refusal that echoes it back', async () => {
      const sink = await startSink({
        tls: SINK_TLS,
        auth: { users: USERS },
        behaviour: { replies: { AUTH: (arg) => `535 5.7.8 you sent ${arg} = ${Buffer.from(arg.split(' ')[1] ?? '', 'base64').toString('latin1').replace(/\0/g, ' ')}` } },
      });
      const failure = hostFailure(await deliverTo(sink, { auth: ALICE }));
      expect(codeOf(failure.reply)).to.equal('451 4.7.8');
      expect(replyToString(failure.reply)).to.contain('you sent PLAIN ******** =  alice ********');
      expectNoPassword(replyToString(failure.reply));
    });

    it('gives a 4xx to AUTH verbatim as a temporary host failure', async () => {
      const sink = await startSink({ tls: SINK_TLS, auth: { users: USERS }, behaviour: { replies: { AUTH: '454 4.7.0 Temporary authentication failure' } } });
      const failure = hostFailure(await deliverTo(sink, { auth: ALICE }));
      expect(failure.stage).to.equal('auth');
      expect(failure.reply).to.deep.equal({ code: 454, enhanced: '4.7.0', lines: ['Temporary authentication failure'] });
    });

    it('fails temporarily with 4.7.4 when AUTH is not offered, and sends no MAIL', async () => {
      const sink = await startSink({ tls: SINK_TLS });
      const failure = hostFailure(await deliverTo(sink, { auth: ALICE }));
      expect(failure.stage).to.equal('auth');
      expect(codeOf(failure.reply)).to.equal('451 4.7.4');
      expect(failure.reply.lines.join(' ')).to.contain('AUTH not offered');
      expect(verbs(sink)).to.deep.equal(['EHLO', 'STARTTLS', 'EHLO', 'QUIT']);
    });

    it('fails temporarily with 4.7.4 when only mechanisms it does not speak are offered', async () => {
      const sink = await startSink({ tls: SINK_TLS, behaviour: { extensionsUnderTls: ['AUTH CRAM-MD5 XOAUTH2'] } });
      const failure = hostFailure(await deliverTo(sink, { auth: ALICE }));
      expect(codeOf(failure.reply)).to.equal('451 4.7.4');
      expect(failure.reply.lines.join(' ')).to.contain('offered AUTH CRAM-MD5 XOAUTH2');
    });

    it('times out a stalled AUTH reply without naming the password', async () => {
      const sink = await startSink({ tls: SINK_TLS, auth: { users: USERS }, behaviour: { stallAt: 'AUTH' } });
      const failure = hostFailure(await deliverTo(sink, { auth: ALICE, timeouts: { ...FAST, authMs: 200 } }));
      expect(failure.stage).to.equal('auth');
      expect(codeOf(failure.reply)).to.equal('451 4.4.2');
      expect(failure.reply.lines.join(' ')).to.contain('AUTH PLAIN');
      expectNoPassword(replyToString(failure.reply));
    });
  });

  describe('never the password in plaintext', () => {
    it('fails temporarily with 4.7.10 when STARTTLS is not offered, though AUTH is, and sends no AUTH', async () => {
      const sink = await startSink({ auth: { users: USERS, withoutTls: true } });
      const failure = hostFailure(await deliverTo(sink, { auth: ALICE }));
      expect(failure.stage).to.equal('auth');
      expect(codeOf(failure.reply)).to.equal('451 4.7.10');
      expect(failure.reply.lines.join(' ')).to.contain('Will not send the password to mx.minimta.test[127.0.0.1] in plaintext: STARTTLS not offered');
      expect(verbs(sink)).to.deep.equal(['EHLO', 'QUIT']);
      expect(sink.plaintextPasswordLines).to.deep.equal([]);
    });

    it('fails temporarily with 4.7.10 when STARTTLS is refused', async () => {
      const sink = await startSink({
        tls: SINK_TLS,
        auth: { users: USERS, withoutTls: true },
        behaviour: { replies: { STARTTLS: '454 4.7.0 TLS not available due to temporary reason' } },
      });
      const failure = hostFailure(await deliverTo(sink, { auth: ALICE }));
      expect(codeOf(failure.reply)).to.equal('451 4.7.10');
      expect(failure.reply.lines.join(' ')).to.contain('STARTTLS refused: 454 4.7.0');
      expect(verbs(sink)).to.deep.equal(['EHLO', 'STARTTLS', 'QUIT']);
      expect(sink.plaintextPasswordLines).to.deep.equal([]);
    });

    it('does not retry in plaintext after a failed handshake when it holds credentials', async () => {
      const sink = await startSink({ tls: SINK_TLS, auth: { users: USERS, withoutTls: true }, behaviour: { failTlsHandshake: true } });
      const failure = hostFailure(await deliverTo(sink, { auth: ALICE }));
      expect(failure.stage).to.equal('starttls');
      expect(codeOf(failure.reply)).to.equal('451 4.7.5');
      expect(sink.connections).to.equal(1);
      expect(sink.plaintextPasswordLines).to.deep.equal([]);
    });

    it("authenticates in plaintext when the operator chose tls: 'none'", async () => {
      const sink = await startSink({ tls: SINK_TLS, auth: { users: USERS, required: true, withoutTls: true } });
      expect(codes(await deliverTo(sink, { tls: 'none', auth: ALICE }))).to.deep.equal(['250 2.0.0']);
      expect(verbs(sink)).to.not.include('STARTTLS');
      const [message] = await sink.waitForMessages(1);
      expect(message).to.include({ authUser: 'alice', tls: false });
      // The sink's watch works: this time the password did cross in plaintext, as asked.
      expect(sink.plaintextPasswordLines).to.have.length(1);
    });
  });
});

describe('client AUTH pieces, without a socket', () => {
  const offering = (...lines: string[]) => parseEhloReply({ code: 250, lines: ['mx.test', ...lines] });

  it('prefers PLAIN, reads mechanisms case-insensitively, and takes LOGIN when it is all there is', () => {
    expect(chooseMechanism(offering('AUTH LOGIN PLAIN'))).to.equal('PLAIN');
    expect(chooseMechanism(offering('auth cram-md5 login'))).to.equal('LOGIN');
    expect(chooseMechanism(offering('AUTH CRAM-MD5'))).to.equal(undefined);
    expect(chooseMechanism(offering('PIPELINING'))).to.equal(undefined);
  });

  it('defers a 5xx to AUTH with its enhanced code moved to class 4, or 4.7.0 when it has none', () => {
    expect(codeOf(deferredAuthFailure({ code: 534, enhanced: '5.7.9', lines: ['too weak'] }, 'mx'))).to.equal('451 4.7.9');
    const bare = deferredAuthFailure({ code: 535, lines: ['no'] }, 'mx');
    expect(codeOf(bare)).to.equal('451 4.7.0');
    expect(bare.lines).to.deep.equal(['Authentication to mx failed: 535 no']);
  });
});

// The delivery client's TLS (RFC 3207 STARTTLS, RFC 8314 implicit TLS)
// against the sink, over real loopback sockets.

import { expect } from 'chai';
import { handshakeOptions, mayRetryInPlaintext, PLAINTEXT_RETRY_PLAN, TLS_PLANS } from '../src/protocol/client/tls.js';
import { SmtpSink, type SinkOptions } from './helpers/smtp-sink.js';
import { codeOf, codes, commandVerbs, deliverTo, FAST, hostFailure, session, SINK_TLS, verbs } from './helpers/client-delivery.js';

describe('deliverToHost with TLS (RFC 3207, RFC 8314)', function () {
  this.timeout(10_000);
  const sinks: SmtpSink[] = [];

  async function startSink(options: SinkOptions = {}): Promise<SmtpSink> {
    const sink = await SmtpSink.start(options);
    sinks.push(sink);
    return sink;
  }

  afterEach(async () => {
    await Promise.all(sinks.splice(0).map((s) => s.stop()));
  });

  describe('opportunistic STARTTLS (the default)', () => {
    it('uses STARTTLS when offered, says EHLO again, and reports what TLS negotiated', async () => {
      const sink = await startSink({ tls: SINK_TLS });
      const result = session(await deliverTo(sink));
      expect(codes(result)).to.deep.equal(['250 2.0.0']);
      expect(commandVerbs(sink)).to.deep.equal(['EHLO', 'STARTTLS', 'EHLO', 'MAIL', 'RCPT', 'DATA']);
      const [message] = await sink.waitForMessages(1);
      expect(message?.tls).to.equal(true);
      expect(sink.tlsSessions).to.equal(1);
      expect(result.tls?.protocol).to.match(/^TLSv1\.[23]$/);
      expect(result.tls?.cipher).to.be.a('string').and.not.equal('');
    });

    it('forgets the first EHLO: MAIL is shaped by what the server offers under TLS (RFC 3207 §4.2)', async () => {
      // Before TLS: PIPELINING and a SIZE the message is over. Under TLS: neither.
      const sink = await startSink({
        tls: SINK_TLS,
        behaviour: { extensions: ['PIPELINING', 'SIZE 10'], extensionsUnderTls: ['8BITMIME'] },
      });
      expect(codes(await deliverTo(sink))).to.deep.equal(['250 2.0.0']);
      expect(sink.transcript).to.include('MAIL FROM:<a@src.test>');
      const afterTls = sink.commandGroups.slice(sink.commandGroups.findIndex((g) => g.includes('STARTTLS')) + 1);
      for (const group of afterTls) expect(group, JSON.stringify(group)).to.have.length(1);
    });

    it('sends the MX host name as SNI, and no SNI for an IP literal (RFC 6066 §3)', async () => {
      const sink = await startSink({ tls: SINK_TLS });
      expect(codes(await deliverTo(sink, { host: 'mx.minimta.test.' }))).to.deep.equal(['250 2.0.0']);
      expect(codes(await deliverTo(sink, { host: '127.0.0.1' }))).to.deep.equal(['250 2.0.0']);
      const [byName, byAddress] = await sink.waitForMessages(2);
      expect(byName?.tlsServername).to.equal('mx.minimta.test');
      expect(byAddress?.tls).to.equal(true);
      expect(byAddress?.tlsServername).to.equal(undefined);
    });

    it('delivers in plaintext when STARTTLS is not offered', async () => {
      const sink = await startSink();
      const result = session(await deliverTo(sink));
      expect(codes(result)).to.deep.equal(['250 2.0.0']);
      expect(result.tls).to.equal(undefined);
      expect(verbs(sink)).to.not.include('STARTTLS');
      expect((await sink.waitForMessages(1))[0]?.tls).to.equal(false);
    });

    it('goes on in plaintext on the same connection when STARTTLS is refused with 454', async () => {
      const sink = await startSink({ tls: SINK_TLS, behaviour: { replies: { STARTTLS: '454 4.7.0 TLS not available due to temporary reason' } } });
      const result = session(await deliverTo(sink));
      expect(codes(result)).to.deep.equal(['250 2.0.0']);
      expect(result.tls).to.equal(undefined);
      expect(sink.connections).to.equal(1);
      expect(commandVerbs(sink)).to.deep.equal(['EHLO', 'STARTTLS', 'MAIL', 'RCPT', 'DATA']);
    });

    it('retries in plaintext on a new connection after a failed handshake, and never STARTTLS there (RFC 3207 §4.1)', async () => {
      const sink = await startSink({ tls: SINK_TLS, behaviour: { failTlsHandshake: true } });
      const result = session(await deliverTo(sink));
      expect(codes(result)).to.deep.equal(['250 2.0.0']);
      expect(result.tls).to.equal(undefined);
      expect(sink.connections).to.equal(2);
      // First connection: EHLO, STARTTLS, failed handshake. Second: EHLO and straight on to MAIL.
      expect(commandVerbs(sink)).to.deep.equal(['EHLO', 'STARTTLS', 'EHLO', 'MAIL', 'RCPT', 'DATA']);
      const [message] = await sink.waitForMessages(1);
      expect(message?.tls).to.equal(false);
      expect(sink.messages).to.have.length(1);
    });

    it('times out a stalled handshake with tlsMs, then delivers in plaintext on a new connection', async () => {
      const sink = await startSink({ tls: SINK_TLS, behaviour: { stallAt: 'handshake' } });
      const started = Date.now();
      // Every other timeout out of reach: only tlsMs can end the first connection this soon.
      const patient = Object.fromEntries(Object.keys(FAST).map((name) => [name, 20_000])) as unknown as typeof FAST;
      const result = session(await deliverTo(sink, { timeouts: { ...patient, tlsMs: 300 } }));
      expect(codes(result)).to.deep.equal(['250 2.0.0']);
      expect(sink.connections).to.equal(2);
      expect(Date.now() - started).to.be.lessThan(8000);
    });

    it('times out a stalled reply to STARTTLS as a temporary host failure at the STARTTLS stage', async () => {
      const sink = await startSink({ tls: SINK_TLS, behaviour: { stallAt: 'STARTTLS' } });
      const failure = hostFailure(await deliverTo(sink, { timeouts: { ...FAST, tlsMs: 200 } }));
      expect(failure.stage).to.equal('starttls');
      expect(codeOf(failure.reply)).to.equal('451 4.4.2');
      expect(failure.reply.lines.join(' ')).to.contain('STARTTLS');
    });
  });

  describe('response injection (the client side of CVE-2011-0411)', () => {
    for (const injected of ['250 2.0.0 fake\r\n', '250-half a reply\r\n', '25']) {
      it(`aborts when ${JSON.stringify(injected)} follows the 220 to STARTTLS: temporary, no retry, nothing delivered`, async () => {
        const sink = await startSink({ tls: SINK_TLS, behaviour: { injectAfterStartTls: injected } });
        const failure = hostFailure(await deliverTo(sink));
        expect(failure.stage).to.equal('starttls');
        expect(codeOf(failure.reply)).to.equal('451 4.5.0');
        expect(failure.reply.lines.join(' ')).to.contain('response injection');
        expect(sink.connections).to.equal(1);
        expect(verbs(sink)).to.deep.equal(['EHLO', 'STARTTLS']);
        expect(sink.messages).to.have.length(0);
      });
    }
  });

  describe("tls: 'required'", () => {
    it('delivers over TLS when STARTTLS is offered', async () => {
      const sink = await startSink({ tls: SINK_TLS });
      expect(session(await deliverTo(sink, { tls: 'required' })).tls).to.not.equal(undefined);
      expect((await sink.waitForMessages(1))[0]?.tls).to.equal(true);
    });

    it('fails temporarily with 4.7.4 and sends no mail when STARTTLS is not offered', async () => {
      const sink = await startSink();
      const failure = hostFailure(await deliverTo(sink, { tls: 'required' }));
      expect(failure.stage).to.equal('starttls');
      expect(codeOf(failure.reply)).to.equal('451 4.7.4');
      expect(failure.reply.lines.join(' ')).to.contain('TLS is required, but was not offered by mx.minimta.test[127.0.0.1]');
      expect(verbs(sink)).to.deep.equal(['EHLO', 'QUIT']);
    });

    it('fails temporarily with 4.7.5 and the refusal when STARTTLS is refused', async () => {
      const sink = await startSink({ tls: SINK_TLS, behaviour: { replies: { STARTTLS: '454 4.7.0 TLS not available due to temporary reason' } } });
      const failure = hostFailure(await deliverTo(sink, { tls: 'required' }));
      expect(failure.stage).to.equal('starttls');
      expect(codeOf(failure.reply)).to.equal('451 4.7.5');
      expect(failure.reply.lines.join(' ')).to.contain('454 4.7.0 TLS not available');
      expect(verbs(sink)).to.deep.equal(['EHLO', 'STARTTLS', 'QUIT']);
    });

    it('fails temporarily with 4.7.5 after a failed handshake, with no plaintext retry', async () => {
      const sink = await startSink({ tls: SINK_TLS, behaviour: { failTlsHandshake: true } });
      const failure = hostFailure(await deliverTo(sink, { tls: 'required' }));
      expect(failure.stage).to.equal('starttls');
      expect(codeOf(failure.reply)).to.equal('451 4.7.5');
      expect(failure.reply.lines.join(' ')).to.contain('Cannot start TLS with mx.minimta.test[127.0.0.1]');
      expect(sink.connections).to.equal(1);
      expect(sink.messages).to.have.length(0);
    });

    it('takes a 5xx to STARTTLS as temporary too: the host may offer TLS later', async () => {
      const sink = await startSink({ tls: SINK_TLS, behaviour: { replies: { STARTTLS: '502 5.5.1 not today' } } });
      expect(codeOf(hostFailure(await deliverTo(sink, { tls: 'required' })).reply)).to.equal('451 4.7.5');
    });
  });

  describe("tls: 'none' and 'implicit'", () => {
    it("never sends STARTTLS with tls: 'none', even when offered", async () => {
      const sink = await startSink({ tls: SINK_TLS });
      const result = session(await deliverTo(sink, { tls: 'none' }));
      expect(codes(result)).to.deep.equal(['250 2.0.0']);
      expect(result.tls).to.equal(undefined);
      expect(verbs(sink)).to.not.include('STARTTLS');
      expect((await sink.waitForMessages(1))[0]?.tls).to.equal(false);
    });

    it('speaks TLS from the first byte to an implicit-TLS host (RFC 8314 §3), without STARTTLS', async () => {
      const sink = await startSink({ tls: SINK_TLS, implicitTls: true });
      const result = session(await deliverTo(sink, { tls: 'implicit' }));
      expect(codes(result)).to.deep.equal(['250 2.0.0']);
      expect(result.tls?.protocol).to.match(/^TLSv1\.[23]$/);
      expect(commandVerbs(sink)).to.deep.equal(['EHLO', 'MAIL', 'RCPT', 'DATA']);
      const [message] = await sink.waitForMessages(1);
      expect(message?.tls).to.equal(true);
      expect(message?.tlsServername).to.equal('mx.minimta.test');
    });

    it('tells the transcript of the implicit-TLS handshake, before the greeting', async () => {
      const sink = await startSink({ tls: SINK_TLS, implicitTls: true });
      const seen: string[] = [];
      const recorder = {
        client: (line: string) => seen.push(`C: ${line}`),
        server: (r: { code: number }) => seen.push(`S: ${r.code}`),
        tls: (protocol: string) => seen.push(`TLS ${protocol}`),
        body: () => undefined,
        note: () => undefined,
        end: () => undefined,
      };
      expect(codes(await deliverTo(sink, { tls: 'implicit', recorder }))).to.deep.equal(['250 2.0.0']);
      expect(seen[0]).to.match(/^TLS TLSv1\.[23]$/);
      expect(seen[1]).to.equal('S: 220');
    });

    it('fails temporarily at the connect stage when the implicit-TLS handshake fails, with no plaintext fallback', async () => {
      const sink = await startSink(); // plaintext: its greeting is no TLS
      const failure = hostFailure(await deliverTo(sink, { tls: 'implicit' }));
      expect(failure.stage).to.equal('connect');
      expect(codeOf(failure.reply)).to.equal('451 4.7.5');
      expect(sink.connections).to.equal(1);
      expect(sink.transcript).to.deep.equal([]);
    });
  });

  describe('tlsVerify', () => {
    it('refuses a certificate no system CA vouches for: temporary, and never a plaintext retry', async () => {
      for (const tls of ['required', 'opportunistic'] as const) {
        const sink = await startSink({ tls: SINK_TLS });
        const failure = hostFailure(await deliverTo(sink, { tls, tlsVerify: true }));
        expect(failure.stage, tls).to.equal('starttls');
        expect(codeOf(failure.reply), tls).to.equal('451 4.7.5');
        expect(failure.reply.lines.join(' '), tls).to.match(/certificate/i);
        expect(sink.connections, tls).to.equal(1);
        expect(sink.messages, tls).to.have.length(0);
      }
    });
  });
});

describe('client TLS pieces, without a socket', () => {
  it('sends SNI for a host name (without the final dot), never for an IPv4 or IPv6 literal', () => {
    expect(handshakeOptions({ host: 'mx.example.net.' })).to.deep.equal({ name: 'mx.example.net', servername: 'mx.example.net', verify: false });
    expect(handshakeOptions({ host: '192.0.2.1' }).servername).to.equal(undefined);
    expect(handshakeOptions({ host: '2001:db8::1', tlsVerify: true })).to.deep.equal({ name: '2001:db8::1', servername: undefined, verify: true });
  });

  it('retries in plaintext only for opportunistic TLS without credentials or verification', () => {
    expect(mayRetryInPlaintext(TLS_PLANS.opportunistic, { host: 'mx' })).to.equal(true);
    expect(mayRetryInPlaintext(TLS_PLANS.opportunistic, { host: 'mx', auth: { username: 'a', password: 'b' } })).to.equal(false);
    expect(mayRetryInPlaintext(TLS_PLANS.opportunistic, { host: 'mx', tlsVerify: true })).to.equal(false);
    for (const policy of ['required', 'none', 'implicit'] as const) expect(mayRetryInPlaintext(TLS_PLANS[policy], { host: 'mx' }), policy).to.equal(false);
    expect(PLAINTEXT_RETRY_PLAN.starttls).to.equal('never');
  });
});

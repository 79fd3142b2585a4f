import { expect } from 'chai';
import { Transcript } from '../src/trace/transcript.js';
import { TraceStore } from '../src/trace/trace-store.js';
import { escapeForTranscript } from '../src/trace/escape.js';
import { replyNameOf } from '../src/trace/annotate.js';
import { reply } from '../src/reply-codes/index.js';
import { queueCommand } from '../src/cli/queue-command.js';
import { WireClient } from './helpers/wire-client.js';
import { startTestRelay, type TestRelay } from './helpers/test-relay.js';
import { captureIo } from './helpers/cli-io.js';
import { TEST_TLS } from './helpers/tls-fixtures.js';

const FIXED = () => new Date('2026-11-29T12:00:00.000Z');

function transcript(extra: Partial<ConstructorParameters<typeof Transcript>[0]> = {}): Transcript {
  return new Transcript({ id: 'in-1', direction: 'inbound', peer: '[127.0.0.1]', bodies: false, maxBytes: 65536, now: FIXED, ...extra });
}

describe('trace: transcripts', () => {
  it('escapes every control character a client sends, so no line can be forged or the terminal rewritten', () => {
    expect(escapeForTranscript('a\r\nb\x1b[31m\x00\u2028\\')).to.equal('a\\r\\nb\\x1b[31m\\x00\\u2028\\\\');
    const t = transcript();
    t.client('NOOP\r\nS: 250 forged\x1b[2J');
    expect(t.toString().split('\n').filter((l) => l.includes('S: 250 forged'))).to.have.length(1);
    expect(t.toString()).to.not.include('\x1b');
  });

  it('masks AUTH: the initial response and every response to a 334 challenge', () => {
    const t = transcript();
    t.client('AUTH PLAIN AGFsaWNlAHNlY3JldA==');
    t.client('AUTH LOGIN');
    t.server(reply('authChallenge', { challenge: 'VXNlcm5hbWU6' }), true);
    t.client('YWxpY2U=');
    t.server(reply('authChallenge', { challenge: 'UGFzc3dvcmQ6' }), true);
    t.client('c2VjcmV0');
    const text = t.toString();
    expect(text).to.include('C: AUTH PLAIN ****').and.include('C: AUTH LOGIN\n');
    expect(text).to.not.include('AGFsaWNl').and.not.include('YWxpY2U=').and.not.include('c2VjcmV0');
    expect(text.match(/C: \*\*\*\*/g)).to.have.length(2);
  });

  it('annotates a command with its RFC section and a reply with both codes\' meanings and why minimta sent it', () => {
    const t = transcript();
    t.client('RCPT TO:<bob@nullmx.test>');
    t.server(reply('nullMxRecipient', { address: 'bob@nullmx.test', domain: 'nullmx.test' }), true);
    const text = t.toString();
    expect(text).to.include('~ RCPT (RFC 5321 §4.1.1.3): Names one recipient');
    expect(text).to.include('~ 556 Domain does not accept mail; 5.1.10 Permanent failure: Recipient address has null MX');
    expect(text).to.include('~ why: RCPT TO names a domain whose DNS publishes a null MX');
  });

  it('finds the table entry a reply was built from', () => {
    expect(replyNameOf(reply('queued', { id: '0MX0ABC' }))).to.equal('queued');
    expect(replyNameOf(reply('refused', { host: 'h' }))).to.equal('refused');
    expect(replyNameOf({ code: 250, enhanced: '2.0.0', lines: ['something else'] })).to.equal(undefined);
  });

  it('shows DATA as the header section, a size and a line count; the body only with trace.bodies', () => {
    const message = Buffer.from('Subject: hi\r\nFrom: a@b\r\n\r\nsecret body\r\nline 2\r\n');
    const plain = transcript();
    plain.body(message.subarray(0, 7));
    plain.body(message.subarray(7));
    plain.server(reply('queued', { id: '0MX0ABC' }), true);
    expect(plain.toString()).to.include('C: Subject: hi\n').and.include('C: From: a@b\n').and.include(`message: ${message.length} bytes, 5 lines`);
    expect(plain.toString()).to.not.include('secret body');
    expect(plain.queueIds).to.deep.equal(['0MX0ABC']);
    expect(plain.toString()).to.include('** spool: message 0MX0ABC written and fsynced');
    const full = transcript({ bodies: true });
    full.body(message);
    full.server(reply('queued', { id: '0MX0ABC' }), true);
    expect(full.toString()).to.include('C: secret body\n').and.include('C: line 2\n');
  });

  it('cuts a transcript at trace.maxBytes with one note', () => {
    const t = transcript({ maxBytes: 1024 });
    for (let i = 0; i < 100; i++) t.client(`NOOP ${i}`);
    t.end();
    expect(t.size).to.be.at.most(1024);
    expect(t.toString().match(/transcript cut/g)).to.have.length(1);
  });

  it('keeps the last trace.sessions transcripts in the ring; get() finds them by id', () => {
    const store = new TraceStore({ live: false, bodies: false, sessions: 2, maxBytes: 65536, now: FIXED });
    const ids = [1, 2, 3].map(() => store.open('inbound', '[127.0.0.1]').id);
    expect(ids).to.deep.equal(['in-1', 'in-2', 'in-3']);
    expect(store.recent().map((i) => i.id)).to.deep.equal(['in-2', 'in-3']);
    expect(store.get('in-1')).to.equal(undefined);
    expect(store.get('in-3')!.text).to.include('== inbound session in-3 with [127.0.0.1]');
  });

  it('writes every line live, coloured only when asked', () => {
    const out: string[] = [];
    const store = new TraceStore({ live: true, bodies: false, sessions: 5, maxBytes: 65536, now: FIXED, write: (s) => out.push(s), colour: true });
    const t = store.open('inbound', '[127.0.0.1]');
    t.server(reply('greeting', { host: 'mx' }), true);
    t.client('QUIT');
    expect(out.join('')).to.include('in-1   \x1b[32m12:00:00.000 S: 220 mx ESMTP minimta\x1b[0m');
    expect(out.join('')).to.include('\x1b[36m12:00:00.000 C: QUIT\x1b[0m');
  });

  describe('over a socket', () => {
    let relay: TestRelay;
    let client: WireClient | undefined;
    beforeEach(async () => { relay = await startTestRelay({ trace: { enabled: true } }); });
    afterEach(async () => { client?.close(); await relay.cleanup(); });

    it('stores the transcript beside the message; `queue show ID --transcript` prints it', async () => {
      client = await WireClient.connect(relay.port);
      await client.reply();
      await client.command('EHLO c.test');
      const done = await client.sendMail('a@normal.test', ['u@normal.test'], 'Subject: traced\r\n\r\nhello\r\n');
      const id = /queued as (\S+)/.exec(done.lines[0]!)![1]!;
      await client.command('QUIT');
      await client.waitClosed();
      const io = captureIo();
      // The session ends (and is stored) once the server has seen the close.
      const deadline = Date.now() + 10_000;
      while (!relay.trace!.recent()[0]?.finished) {
        if (Date.now() > deadline) throw new Error('the session was not finished within 10 s of the close');
        await new Promise((r) => setTimeout(r, 20));
      }
      await relay.trace!.flushed();
      expect(await queueCommand(['show', id, '--transcript', '--spool', relay.config.spool], io.io)).to.equal(0);
      const text = io.stdout();
      expect(text).to.match(/^== inbound session in-1 with \[127\.0\.0\.1\] \(relay listener\)/);
      expect(text).to.include('C: MAIL FROM:<a@normal.test>').and.include('** DNS normal.test: MX 10 mx.normal.test')
        .and.include('C: Subject: traced').and.include(`S: 250 2.0.0 Ok: queued as ${id}`).and.include('S: 221 2.0.0 Bye');
      const missing = captureIo();
      expect(await queueCommand(['show', '0MX0AAAAAAAAAA', '--transcript', '--spool', relay.config.spool], missing.io)).to.equal(1);
      expect(missing.stderr()).to.include('no transcript stored');
    });

    it('shows the STARTTLS handshake as one line with version and cipher', async () => {
      await relay.cleanup();
      relay = await startTestRelay({ trace: { enabled: true }, tls: TEST_TLS, listen: [{ host: '127.0.0.1', port: 0, mode: 'relay', tls: 'starttls' }] });
      client = await WireClient.connect(relay.port);
      await client.reply();
      await client.command('EHLO c.test');
      await client.command('STARTTLS');
      await client.startTls();
      expect(await client.command('EHLO c.test')).to.equal('250');
      const text = relay.trace!.get('in-1')!.text;
      expect(text).to.match(/\*\* TLS handshake done: TLSv1\.[23] \S+; the session starts over \(RFC 3207 §4\.2\)\n[^\n]* C: EHLO c\.test/);
    });

    it('keeps a connection refused at the connection limit (421) in the ring', async () => {
      await relay.cleanup();
      relay = await startTestRelay({ trace: { enabled: true }, limits: { maxConnections: 1 } });
      client = await WireClient.connect(relay.port);
      await client.reply();
      const second = await WireClient.connect(relay.port);
      try {
        expect((await second.reply()).code).to.equal(421);
        await second.waitClosed();
      } finally {
        second.close();
      }
      const refused = relay.trace!.get(relay.trace!.recent().at(-1)!.id)!;
      expect(refused.text).to.include('(relay listener, connection limit)').and.include('S: 421 4.7.0').and.include('closed: too many connections');
    });

    it('keeps a refused session (556 at RCPT, nothing queued) in the ring', async () => {
      client = await WireClient.connect(relay.port);
      await client.reply();
      await client.command('EHLO c.test');
      await client.command('MAIL FROM:<a@normal.test>');
      expect(await client.command('RCPT TO:<bob@nullmx.test>')).to.equal('556 5.1.10');
      await client.command('QUIT');
      await client.waitClosed();
      const session = relay.trace!.get(relay.trace!.recent().at(-1)!.id)!;
      expect(session.info.queueIds).to.deep.equal([]);
      expect(session.text).to.include('** DNS nullmx.test: null MX (RFC 7505)').and.include('** verdict: recipient <bob@nullmx.test> refused: 556 5.1.10');
    });
  });
});

// The delivery client against the scriptable sink, over real loopback sockets.
//
// "vector N" in a title is row N of docs/test-vectors.md.

import { expect } from 'chai';
import { once } from 'node:events';
import * as net from 'node:net';
import { Readable } from 'node:stream';
import { replyToString, type Reply } from '../src/reply-codes/index.js';
import { deliverToHost, type ClientTimeouts, type DeliveryRequest, type DeliveryResult, type HostFailure, type SessionOutcome } from '../src/protocol/client/smtp-client.js';
import { SmtpSink, type SinkBehaviour } from './helpers/smtp-sink.js';

/** Every wait bounded well inside mocha's timeout, so a broken client fails instead of hanging. */
const FAST: ClientTimeouts = {
  connectMs: 2000, greetingMs: 2000, ehloMs: 2000, mailMs: 2000, rcptMs: 2000,
  dataInitMs: 2000, dataBlockMs: 2000, dataEndMs: 2000, quitMs: 500, tlsMs: 2000, authMs: 2000,
};
/**
 * Every timeout far out of reach, for tests that time one of them: the one under
 * test is set to 200 ms, and the whole delivery must end well before any other
 * could have fired, even on a loaded machine.
 */
const PATIENT: ClientTimeouts = {
  connectMs: 20_000, greetingMs: 20_000, ehloMs: 20_000, mailMs: 20_000, rcptMs: 20_000,
  dataInitMs: 20_000, dataBlockMs: 20_000, dataEndMs: 20_000, quitMs: 20_000, tlsMs: 20_000, authMs: 20_000,
};

const MESSAGE = 'From: a@src.test\r\nTo: u@normal.test\r\nSubject: hello\r\n\r\nHello, world.\r\n';

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms} ms`)), ms); });
  return Promise.race([promise, expiry]).finally(() => clearTimeout(timer));
}

/** A message source that hands out the bytes in chunks of the given size. */
function messageOf(content: string | Buffer, chunkSize = 16384): () => Readable {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  return () => Readable.from((function* chunks() {
    for (let i = 0; i < bytes.length; i += chunkSize) yield bytes.subarray(i, i + chunkSize);
  })());
}

function session(result: DeliveryResult): SessionOutcome {
  if (result.kind !== 'session') throw new Error(`expected a session, got ${result.stage}: ${replyToString(result.reply)}`);
  return result;
}

function hostFailure(result: DeliveryResult): HostFailure {
  if (result.kind !== 'host-failed') throw new Error(`expected host-failed, got ${JSON.stringify(result.recipients)}`);
  return result;
}

/** "code enhanced" per recipient, e.g. ['250 2.0.0', '550 5.1.1']. */
function codes(result: DeliveryResult): string[] {
  return session(result).recipients.map((r) => codeOf(r.reply));
}

function codeOf(r: Reply): string {
  return [r.code, r.enhanced].filter(Boolean).join(' ');
}

const verbs = (sink: SmtpSink): string[] => sink.transcript.map((line) => line.split(' ')[0]?.toUpperCase() ?? '');

describe('deliverToHost: the SMTP client used for delivery', function () {
  this.timeout(8000);
  const sinks: SmtpSink[] = [];

  async function startSink(behaviour: SinkBehaviour = {}): Promise<SmtpSink> {
    const sink = await SmtpSink.start({ behaviour });
    sinks.push(sink);
    return sink;
  }

  function deliver(sink: { host: string; port: number }, overrides: Partial<DeliveryRequest> = {}): Promise<DeliveryResult> {
    return withTimeout(deliverToHost({
      host: 'mx.normal.test',
      address: sink.host,
      port: sink.port,
      heloName: 'relay.minimta.test',
      sender: 'a@src.test',
      recipients: ['u@normal.test'],
      message: messageOf(MESSAGE),
      size: Buffer.byteLength(MESSAGE),
      body: '7BIT',
      smtputf8: false,
      timeouts: FAST,
      ...overrides,
    }), 6000, 'deliverToHost');
  }

  afterEach(async () => {
    await Promise.all(sinks.splice(0).map((s) => s.stop()));
  });

  describe('a normal delivery', () => {
    it('sends MAIL, every RCPT and DATA in one group when PIPELINING is offered (RFC 2920 §3.1)', async () => {
      const sink = await startSink();
      const result = await deliver(sink, { recipients: ['u@normal.test', 'v@normal.test'] });
      expect(codes(result)).to.deep.equal(['250 2.0.0', '250 2.0.0']);
      expect(sink.commandGroups).to.deep.include(['MAIL FROM:<a@src.test> SIZE=' + Buffer.byteLength(MESSAGE), 'RCPT TO:<u@normal.test>', 'RCPT TO:<v@normal.test>', 'DATA']);
      const [message] = await sink.waitForMessages(1);
      expect(message?.data.toString('utf8')).to.equal(MESSAGE);
      expect(message?.recipients).to.deep.equal(['u@normal.test', 'v@normal.test']);
      expect(message?.via).to.equal('EHLO');
      expect(message?.helo).to.equal('relay.minimta.test');
    });

    it('sends one command at a time without PIPELINING', async () => {
      const sink = await startSink({ extensions: ['8BITMIME', 'SIZE 10485760'] });
      const result = await deliver(sink, { recipients: ['u@normal.test', 'v@normal.test'] });
      expect(codes(result)).to.deep.equal(['250 2.0.0', '250 2.0.0']);
      for (const group of sink.commandGroups) expect(group, JSON.stringify(group)).to.have.length(1);
      expect(verbs(sink)).to.deep.equal(['EHLO', 'MAIL', 'RCPT', 'RCPT', 'DATA', 'FROM:', 'TO:', 'SUBJECT:', '', 'HELLO,', '.', 'QUIT']);
      expect((await sink.waitForMessages(1))[0]?.data.toString('utf8')).to.equal(MESSAGE);
    });

    it('reports the greeting and EHLO as spoken, and ends with QUIT', async () => {
      const sink = await startSink();
      const result = session(await deliver(sink));
      expect(result.greeting.code).to.equal(220);
      expect(result.greetedWith).to.equal('EHLO');
      expect(result.host).to.equal('mx.normal.test');
      expect(result.address).to.equal('127.0.0.1');
      expect(sink.transcript.at(-1)).to.equal('QUIT');
    });

    it('keeps the default for a timeout given as undefined', async () => {
      const sink = await startSink();
      expect(codes(await deliver(sink, { timeouts: { ...FAST, greetingMs: undefined, dataEndMs: undefined } }))).to.deep.equal(['250 2.0.0']);
    });

    it('sends the null reverse-path as MAIL FROM:<>', async () => {
      const sink = await startSink();
      expect(codes(await deliver(sink, { sender: '' }))).to.deep.equal(['250 2.0.0']);
      expect((await sink.waitForMessages(1))[0]?.sender).to.equal('');
      expect(sink.transcript).to.include(`MAIL FROM:<> SIZE=${Buffer.byteLength(MESSAGE)}`);
    });

    it('stops reading the stored message while the peer takes no data, and times out the data block', async () => {
      const sink = await startSink({ stopReadingData: true, extensions: ['PIPELINING'] });
      const block = Buffer.from(('y'.repeat(1022) + '\r\n').repeat(64)); // 64 KiB
      const blocks = 1024; // 64 MiB, far more than the socket buffers hold
      let pulled = 0;
      const message = (): Readable => Readable.from((function* endless() {
        for (; pulled < blocks; pulled++) yield block;
      })());
      const result = await deliver(sink, { message, size: block.length * blocks, timeouts: { ...FAST, dataBlockMs: 300 } });
      expect(codes(result)).to.deep.equal(['451 4.4.2']);
      expect(session(result).recipients[0]?.reply.lines.join(' ')).to.contain('message data');
      expect(pulled).to.be.lessThan(blocks / 2);
    });

    it('streams a large message in many blocks, byte-identical', async function () {
      this.timeout(90_000);
      const sink = await startSink();
      const line = 'x'.repeat(76) + '\r\n';
      const big = Buffer.from('Subject: big\r\n\r\n' + line.repeat(50_000)); // ~3.9 MB
      // Byte identity is the point here, not speed: a loaded machine may take seconds over 3.9 MB.
      const result = await deliver(sink, { message: messageOf(big, 65536), size: big.length, timeouts: { ...FAST, dataBlockMs: 30_000, dataEndMs: 30_000 } });
      expect(codes(result)).to.deep.equal(['250 2.0.0']);
      const [message] = await sink.waitForMessages(1);
      expect(message?.data.equals(big)).to.equal(true);
    });
  });

  describe('extensions (RFC 1870, RFC 6152, RFC 6531)', () => {
    it('delivers an 8-bit body byte-identical with BODY=8BITMIME when offered', async () => {
      const sink = await startSink();
      const body = Buffer.concat([Buffer.from('Subject: 8bit\r\n\r\n'), Buffer.from([0xc3, 0xbc, 0xff, 0x80, 0x0d, 0x0a])]);
      const result = await deliver(sink, { message: messageOf(body), size: body.length, body: '8BITMIME' });
      expect(codes(result)).to.deep.equal(['250 2.0.0']);
      const [message] = await sink.waitForMessages(1);
      expect(message?.data.equals(body)).to.equal(true);
      expect(message?.mailParams).to.equal(`SIZE=${body.length} BODY=8BITMIME`);
    });

    it('sends SMTPUTF8 on MAIL when the envelope needs it and it is offered', async () => {
      const sink = await startSink();
      const result = await deliver(sink, { sender: 'ü@src.test', smtputf8: true, body: '8BITMIME' });
      expect(codes(result)).to.deep.equal(['250 2.0.0']);
      expect((await sink.waitForMessages(1))[0]?.mailParams).to.equal(`SIZE=${Buffer.byteLength(MESSAGE)} BODY=8BITMIME SMTPUTF8`);
    });

    it('fails every recipient with 554 5.6.3 and sends nothing when 8BITMIME is needed and not offered', async () => {
      const sink = await startSink({ extensions: ['PIPELINING', 'SIZE 10485760'] });
      const result = await deliver(sink, { body: '8BITMIME', recipients: ['u@normal.test', 'v@normal.test'] });
      expect(codes(result)).to.deep.equal(['554 5.6.3', '554 5.6.3']);
      expect(verbs(sink)).to.deep.equal(['EHLO', 'QUIT']);
    });

    it('fails every recipient with 553 5.6.7 when SMTPUTF8 is needed and not offered', async () => {
      const sink = await startSink({ extensions: ['PIPELINING', '8BITMIME'] });
      const result = await deliver(sink, { smtputf8: true, sender: 'ü@src.test' });
      expect(codes(result)).to.deep.equal(['553 5.6.7']);
      expect(verbs(sink)).to.deep.equal(['EHLO', 'QUIT']);
    });

    it('fails with 552 5.3.4 and sends no MAIL when the message is over the advertised SIZE', async () => {
      const sink = await startSink({ extensions: ['PIPELINING', 'SIZE 1000'] });
      const result = await deliver(sink, { size: 1001 });
      expect(codes(result)).to.deep.equal(['552 5.3.4']);
      expect(verbs(sink)).to.not.include('MAIL');
    });

    it('sends a message of exactly the advertised SIZE, and takes SIZE 0 as no limit', async () => {
      const exact = await startSink({ extensions: [`SIZE ${Buffer.byteLength(MESSAGE)}`] });
      expect(codes(await deliver(exact))).to.deep.equal(['250 2.0.0']);
      const unlimited = await startSink({ extensions: ['SIZE 0'] });
      expect(codes(await deliver(unlimited, { size: 50_000_000 }))).to.deep.equal(['250 2.0.0']);
    });

    it('sends SIZE= only when SIZE is advertised, and BODY= only when the body needs it', async () => {
      const sink = await startSink({ extensions: ['PIPELINING', '8BITMIME'] });
      expect(codes(await deliver(sink))).to.deep.equal(['250 2.0.0']);
      expect((await sink.waitForMessages(1))[0]?.mailParams).to.equal('');
    });
  });

  describe('greeting and EHLO', () => {
    it('reports a 521 greeting as a permanent host failure with the reply verbatim, then QUITs (RFC 7504 §3)', async () => {
      const sink = await startSink({ greeting: '521 5.3.2 mx.normal.test does not accept mail' });
      const failure = hostFailure(await deliver(sink));
      expect(failure.stage).to.equal('greeting');
      expect(failure.reply).to.deep.equal({ code: 521, enhanced: '5.3.2', lines: ['mx.normal.test does not accept mail'] });
      expect(verbs(sink)).to.deep.equal(['QUIT']);
    });

    it('reports a multi-line 554 greeting as a permanent host failure', async () => {
      const sink = await startSink({ greeting: '554-mx.normal.test\r\n554 no service here' });
      const failure = hostFailure(await deliver(sink));
      expect(failure.reply).to.deep.equal({ code: 554, lines: ['mx.normal.test', 'no service here'] });
    });

    it('reports a 421 greeting as a temporary host failure', async () => {
      const sink = await startSink({ greeting: '421 4.3.2 mx.normal.test busy, try later' });
      const failure = hostFailure(await deliver(sink));
      expect(failure.stage).to.equal('greeting');
      expect(codeOf(failure.reply)).to.equal('421 4.3.2');
    });

    it('falls back to HELO on the same connection when EHLO gets 502, and then sends no ESMTP parameters', async () => {
      const sink = await startSink({ replies: { EHLO: '502 5.5.1 Error: command not implemented' } });
      const result = await deliver(sink, { recipients: ['u@normal.test', 'v@normal.test'] });
      expect(codes(result)).to.deep.equal(['250 2.0.0', '250 2.0.0']);
      expect(session(result).greetedWith).to.equal('HELO');
      expect(sink.connections).to.equal(1);
      expect(verbs(sink).slice(0, 3)).to.deep.equal(['EHLO', 'HELO', 'MAIL']);
      expect(sink.transcript).to.include('MAIL FROM:<a@src.test>');
      // After HELO nothing is pipelined: each command waits for its reply.
      for (const group of sink.commandGroups) expect(group).to.have.length(1);
      const [message] = await sink.waitForMessages(1);
      expect(message?.via).to.equal('HELO');
      expect(message?.mailParams).to.equal('');
    });

    it('falls back to HELO on 500, 501 and 504 as well', async () => {
      for (const code of [500, 501, 504]) {
        const sink = await startSink({ replies: { EHLO: `${code} 5.5.2 what?` } });
        expect(codes(await deliver(sink)), String(code)).to.deep.equal(['250 2.0.0']);
        expect(verbs(sink).slice(0, 2)).to.deep.equal(['EHLO', 'HELO']);
      }
    });

    it('reports another refusal of EHLO as a host failure at the EHLO stage', async () => {
      const sink = await startSink({ replies: { EHLO: '550 5.7.1 go away' } });
      const failure = hostFailure(await deliver(sink));
      expect(failure.stage).to.equal('ehlo');
      expect(codeOf(failure.reply)).to.equal('550 5.7.1');
      expect(verbs(sink)).to.deep.equal(['EHLO', 'QUIT']);
    });

    it('reports a refused HELO as a host failure at the HELO stage', async () => {
      const sink = await startSink({ replies: { EHLO: '502 5.5.1 no', HELO: '550 5.7.1 not you either' } });
      const failure = hostFailure(await deliver(sink));
      expect(failure.stage).to.equal('helo');
      expect(failure.reply.code).to.equal(550);
    });

    it('reports a malformed reply as a temporary protocol error and closes', async () => {
      const sink = await startSink({ replies: { EHLO: 'hello there' } });
      const failure = hostFailure(await deliver(sink));
      expect(failure.stage).to.equal('ehlo');
      expect(codeOf(failure.reply)).to.equal('451 4.5.0');
      expect(verbs(sink)).to.deep.equal(['EHLO']);
    });
  });

  describe('MAIL and RCPT', () => {
    it('reports a refused MAIL as a host failure at the MAIL stage, with every pipelined reply read', async () => {
      const sink = await startSink({ replies: { MAIL: '550 5.7.1 sender rejected' } });
      const failure = hostFailure(await deliver(sink, { recipients: ['u@normal.test', 'v@normal.test'] }));
      expect(failure.stage).to.equal('mail');
      expect(codeOf(failure.reply)).to.equal('550 5.7.1');
      expect(verbs(sink)).to.deep.equal(['EHLO', 'MAIL', 'RCPT', 'RCPT', 'DATA', 'QUIT']);
    });

    it('gives mixed results when one RCPT gets 550 and another 250', async () => {
      const sink = await startSink({ replies: { RCPT: (arg) => (arg.includes('bad@') ? '550 5.1.1 <bad@normal.test>: no such user' : undefined) } });
      const result = await deliver(sink, { recipients: ['bad@normal.test', 'u@normal.test'] });
      expect(codes(result)).to.deep.equal(['550 5.1.1', '250 2.0.0']);
      expect(session(result).recipients[0]?.reply.lines).to.deep.equal(['<bad@normal.test>: no such user']);
      expect((await sink.waitForMessages(1))[0]?.recipients).to.deep.equal(['u@normal.test']);
    });

    it('treats 552 to RCPT as 452, keeping the text (RFC 5321 §4.5.3.1.10)', async () => {
      const sink = await startSink({ replies: { RCPT: (arg) => (arg.includes('v@') ? '552 5.5.3 too many recipients' : undefined) } });
      const result = session(await deliver(sink, { recipients: ['u@normal.test', 'v@normal.test'] }));
      expect(codes(result)).to.deep.equal(['250 2.0.0', '452 4.5.3']);
      expect(result.recipients[1]?.reply.lines).to.deep.equal(['too many recipients']);
    });

    it('sends a lone "." when every pipelined RCPT failed but DATA got 354, and nothing is stored (RFC 2920 §3.1)', async () => {
      const sink = await startSink({ replies: { RCPT: '550 5.1.1 no such user', DATA: '354 go ahead' } });
      const result = await deliver(sink, { recipients: ['x@normal.test', 'y@normal.test'] });
      expect(codes(result)).to.deep.equal(['550 5.1.1', '550 5.1.1']);
      expect(verbs(sink)).to.deep.equal(['EHLO', 'MAIL', 'RCPT', 'RCPT', 'DATA', '.', 'QUIT']);
      expect(sink.messages).to.have.length(0);
    });

    it('sends no DATA when every RCPT failed without pipelining', async () => {
      const sink = await startSink({ extensions: ['8BITMIME'], replies: { RCPT: '450 4.2.0 mailbox busy' } });
      const result = await deliver(sink, { recipients: ['x@normal.test', 'y@normal.test'] });
      expect(codes(result)).to.deep.equal(['450 4.2.0', '450 4.2.0']);
      expect(verbs(sink)).to.deep.equal(['EHLO', 'MAIL', 'RCPT', 'RCPT', 'QUIT']);
    });

    it('makes a 421 to RCPT temporary for every recipient not yet decided, and closes without QUIT', async () => {
      const sink = await startSink({
        replies: { RCPT: (arg) => (arg.includes('bad@') ? '550 5.1.1 no' : arg.includes('w@') ? '421 4.3.2 shutting down' : undefined) },
      });
      const result = await deliver(sink, { recipients: ['u@normal.test', 'bad@normal.test', 'w@normal.test', 'z@normal.test'] });
      expect(codes(result)).to.deep.equal(['421 4.3.2', '550 5.1.1', '421 4.3.2', '421 4.3.2']);
      expect(verbs(sink)).to.not.include('QUIT');
      expect(sink.messages).to.have.length(0);
    });
  });

  describe('DATA and the final reply', () => {
    it('restores dot-stuffed lines at the sink: "..hidden" on the wire, ".hidden" in the data (vector 25)', async () => {
      const sink = await startSink();
      const text = 'Subject: dots\r\n\r\n.hidden\r\n..two\r\n.\r\nend\r\n';
      expect(codes(await deliver(sink, { message: messageOf(text, 3), size: text.length }))).to.deep.equal(['250 2.0.0']);
      const [message] = await sink.waitForMessages(1);
      expect(message?.rawData.toString()).to.equal('Subject: dots\r\n\r\n..hidden\r\n...two\r\n..\r\nend\r\n');
      expect(message?.data.toString()).to.equal(text);
      expect(sink.transcript).to.include('..hidden');
    });

    it('sends a stored bare LF and bare CR as CRLF only (SMTP smuggling: never pass one on; RFC 5321 §2.3.8)', async () => {
      const sink = await startSink();
      const text = 'Subject: smuggle\r\n\r\nx\n.\nMAIL FROM:<evil@x>\rtail';
      expect(codes(await deliver(sink, { message: messageOf(text, 5), size: text.length }))).to.deep.equal(['250 2.0.0']);
      const [message] = await sink.waitForMessages(1);
      const raw = message?.rawData.toString('latin1') ?? '';
      expect(raw.replace(/\r\n/g, '')).to.not.match(/[\r\n]/);
      expect(raw).to.equal('Subject: smuggle\r\n\r\nx\r\n..\r\nMAIL FROM:<evil@x>\r\ntail\r\n');
      // The line stayed inside the data: the sink never saw it as a command.
      expect(sink.commandGroups.flat()).to.not.include('MAIL FROM:<evil@x>');
      expect(sink.messages).to.have.length(1);
    });

    it('makes a 5xx after the final dot permanent for every accepted recipient', async () => {
      const sink = await startSink({
        replies: { DOT: '554 5.7.1 message refused', RCPT: (arg) => (arg.includes('bad@') ? '450 4.2.0 later' : undefined) },
      });
      expect(codes(await deliver(sink, { recipients: ['u@normal.test', 'bad@normal.test'] }))).to.deep.equal(['554 5.7.1', '450 4.2.0']);
    });

    it('makes a 4xx after the final dot temporary for every accepted recipient', async () => {
      const sink = await startSink({ replies: { DOT: '451 4.3.0 try again' } });
      expect(codes(await deliver(sink))).to.deep.equal(['451 4.3.0']);
    });

    it('makes a refused DATA decide every accepted recipient', async () => {
      const sink = await startSink({ extensions: ['SIZE 100000'], replies: { DATA: '554 5.5.1 no thanks' } });
      expect(codes(await deliver(sink))).to.deep.equal(['554 5.5.1']);
      expect(verbs(sink).at(-1)).to.equal('QUIT');
    });

    it('takes a positive reply to DATA for a protocol error, temporary for all, and sends no data', async () => {
      const sink = await startSink({ replies: { DATA: '250 2.0.0 sure' } });
      expect(codes(await deliver(sink))).to.deep.equal(['451 4.5.0']);
      expect(verbs(sink).at(-1)).to.equal('DATA');
    });

    it('makes a dropped connection after the data temporary for all (vector 47)', async () => {
      const sink = await startSink({ dropAfter: 'DOT' });
      const result = await deliver(sink, { recipients: ['u@normal.test', 'v@normal.test'] });
      expect(codes(result)).to.deep.equal(['451 4.4.2', '451 4.4.2']);
      expect(sink.messages).to.have.length(0);
    });

    it('makes a connection dropped at DATA temporary for all, keeping RCPT refusals', async () => {
      const sink = await startSink({ dropAfter: 'DATA', replies: { RCPT: (arg) => (arg.includes('bad@') ? '550 5.1.1 no' : undefined) } });
      const result = await deliver(sink, { recipients: ['u@normal.test', 'bad@normal.test'] });
      expect(codes(result)).to.deep.equal(['451 4.4.2', '550 5.1.1']);
    });

    it('takes a refusal the server sent before hanging up in the middle of the data', async () => {
      // A raw peer: the sink never replies mid-data, as RFC 5321 wants; some servers do.
      const server = net.createServer((socket) => {
        socket.on('error', () => undefined);
        socket.write('220 mx ESMTP\r\n');
        let commands = '';
        socket.on('data', (chunk: Buffer) => {
          if (commands.includes('DATA\r\n')) {
            socket.pause();
            socket.end('552 5.3.4 message too big for me\r\n');
            return;
          }
          commands += chunk.toString('latin1');
          if (commands.startsWith('EHLO') && !commands.includes('MAIL')) socket.write('250-mx\r\n250 PIPELINING\r\n');
          if (commands.includes('DATA\r\n')) socket.write('250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n');
        });
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      try {
        const big = Buffer.from(('z'.repeat(998) + '\r\n').repeat(16_000)); // 16 MB: more than the socket buffers
        const result = await deliver({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port }, { message: messageOf(big, 65536), size: big.length });
        expect(codes(result)).to.deep.equal(['552 5.3.4']);
      } finally {
        server.close();
      }
    });

    it('never sends the final dot when the stored message cannot be read', async () => {
      const sink = await startSink();
      const broken = (): Readable => Readable.from((async function* failing() {
        yield Buffer.from('Subject: half\r\n\r\nfirst part\r\n');
        throw new Error('EIO: disk read failed');
      })());
      const result = await deliver(sink, { message: broken });
      expect(codes(result)).to.deep.equal(['451 4.3.0']);
      expect(session(result).recipients[0]?.reply.lines.join(' ')).to.contain('EIO');
      expect(sink.transcript).to.not.include('.');
      expect(sink.messages).to.have.length(0);
    });
  });

  describe('failures of the host as a whole', () => {
    it('reports a refused connection as a temporary connect failure', async () => {
      const server = net.createServer();
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as net.AddressInfo;
      await new Promise((resolve) => server.close(resolve));
      const failure = hostFailure(await deliver({ host: '127.0.0.1', port }));
      expect(failure.stage).to.equal('connect');
      expect(codeOf(failure.reply)).to.equal('451 4.4.1');
      expect(failure.reply.lines.join(' ')).to.contain('ECONNREFUSED');
    });

    it('refuses to connect to a name instead of an address (no getaddrinfo)', async () => {
      const sink = await startSink();
      const failure = hostFailure(await deliver({ host: 'localhost', port: sink.port }));
      expect(failure.stage).to.equal('connect');
      expect(failure.reply.code).to.equal(451);
      expect(sink.connections).to.equal(0);
    });

    it('reports a dropped connection before the greeting as a temporary host failure', async () => {
      const sink = await startSink({ dropAfter: 'greeting' });
      const failure = hostFailure(await deliver(sink));
      expect(failure.stage).to.equal('greeting');
      expect(codeOf(failure.reply)).to.equal('451 4.4.2');
    });

    it('times out a stalled greeting with the greeting timeout', async () => {
      const sink = await startSink({ stallAt: 'greeting' });
      const started = Date.now();
      const failure = hostFailure(await deliver(sink, { timeouts: { ...PATIENT, greetingMs: 200 } }));
      expect(failure.stage).to.equal('greeting');
      expect(codeOf(failure.reply)).to.equal('451 4.4.2');
      expect(failure.reply.lines.join(' ')).to.contain('greeting');
      expect(Date.now() - started).to.be.lessThan(8000);
    });

    it('times out each command on its own: a stalled RCPT makes every recipient temporary', async () => {
      const sink = await startSink({ stallAt: 'RCPT' });
      const started = Date.now();
      const result = await deliver(sink, { recipients: ['u@normal.test', 'v@normal.test'], timeouts: { ...PATIENT, rcptMs: 200 } });
      expect(codes(result)).to.deep.equal(['451 4.4.2', '451 4.4.2']);
      expect(session(result).recipients[0]?.reply.lines.join(' ')).to.contain('RCPT TO');
      expect(Date.now() - started).to.be.lessThan(8000);
    });

    it('times out a stalled reply to the final dot with the end-of-data timeout', async () => {
      const sink = await startSink({ stallAt: 'DOT' });
      const result = await deliver(sink, { timeouts: { ...FAST, dataEndMs: 200 } });
      expect(codes(result)).to.deep.equal(['451 4.4.2']);
      expect(sink.messages).to.have.length(0);
    });
  });
});

// Connection reuse in the delivery client (docs/queue.md, "Connection
// reuse"): a kept session carries the next message with RSET, then MAIL
// (RFC 5321 §4.1.1.5); with PIPELINING, RSET, MAIL, RCPT and DATA go in one
// group (RFC 2920 §3.1) and every reply is still checked in order. Real
// loopback sockets against the test sink.

import { expect } from 'chai';
import { Readable } from 'node:stream';
import { replyToString } from '../src/reply-codes/index.js';
import { deliverToHost, SessionCache, type ClientTimeouts, type DeliveryRequest, type DeliveryResult, type SessionOutcome } from '../src/protocol/client/smtp-client.js';
import { DEFAULT_EXTENSIONS, SmtpSink, type SinkBehaviour } from './helpers/smtp-sink.js';

const FAST: ClientTimeouts = {
  connectMs: 2000, greetingMs: 2000, ehloMs: 2000, mailMs: 2000, rcptMs: 2000,
  dataInitMs: 2000, dataBlockMs: 2000, dataEndMs: 2000, quitMs: 500, tlsMs: 2000, authMs: 2000,
};

const MESSAGE = 'From: a@src.test\r\nSubject: reuse\r\n\r\nHello again.\r\n';

function session(result: DeliveryResult): SessionOutcome {
  if (result.kind !== 'session') throw new Error(`expected a session, got ${result.stage}: ${replyToString(result.reply)}`);
  return result;
}

function codes(result: DeliveryResult): number[] {
  return session(result).recipients.map((r) => r.reply.code);
}

/** The command lines of each read, as the sink parsed them. */
function groupsAfter(sink: SmtpSink, count: number): string[][] {
  return sink.commandGroups.slice(count);
}

describe('connection reuse in the delivery client (RSET, then MAIL; RFC 2920 pipelining)', function () {
  this.timeout(10_000);
  const sinks: SmtpSink[] = [];
  let sessions: SessionCache;

  beforeEach(() => {
    sessions = new SessionCache({ idleMs: 5000, maxMessages: 100 });
  });

  afterEach(async () => {
    await sessions.close();
    await Promise.all(sinks.splice(0).map((s) => s.stop()));
  });

  async function startSink(behaviour: SinkBehaviour = {}): Promise<SmtpSink> {
    const sink = await SmtpSink.start({ behaviour, recordReads: true });
    sinks.push(sink);
    return sink;
  }

  function deliver(sink: SmtpSink, overrides: Partial<DeliveryRequest> = {}): Promise<DeliveryResult> {
    return deliverToHost({
      host: 'mx.reuse.test',
      address: sink.host,
      port: sink.port,
      heloName: 'relay.minimta.test',
      sender: 'a@src.test',
      recipients: ['u@reuse.test'],
      message: () => Readable.from([Buffer.from(MESSAGE)]),
      size: Buffer.byteLength(MESSAGE),
      body: '7BIT',
      smtputf8: false,
      timeouts: FAST,
      ...overrides,
    }, sessions);
  }

  it('with PIPELINING, sends RSET, MAIL, RCPT and DATA in one write, then the message and the final dot in one write', async () => {
    const sink = await startSink();
    expect(codes(await deliver(sink))).to.deep.equal([250]);
    const before = sink.commandGroups.length;
    const readsBefore = sink.reads.length;
    expect(codes(await deliver(sink, { recipients: ['v@reuse.test', 'w@reuse.test'] }))).to.deep.equal([250, 250]);

    expect(sink.connections, 'one connection for both').to.equal(1);
    expect(groupsAfter(sink, before)[0]).to.deep.equal(['RSET', 'MAIL FROM:<a@src.test> SIZE=' + Buffer.byteLength(MESSAGE),
      'RCPT TO:<v@reuse.test>', 'RCPT TO:<w@reuse.test>', 'DATA']);
    const reads = sink.reads.slice(readsBefore).map((b) => b.toString('latin1'));
    expect(reads[0]).to.equal(`RSET\r\nMAIL FROM:<a@src.test> SIZE=${Buffer.byteLength(MESSAGE)}\r\nRCPT TO:<v@reuse.test>\r\nRCPT TO:<w@reuse.test>\r\nDATA\r\n`);
    expect(reads[1], 'the data and the final dot in one read').to.equal(`${MESSAGE}.\r\n`);
    expect(sink.messages.map((m) => m.recipients)).to.deep.equal([['u@reuse.test'], ['v@reuse.test', 'w@reuse.test']]);
  });

  it('without PIPELINING, sends RSET, MAIL, RCPT and DATA one at a time, each after the reply to the one before', async () => {
    const sink = await startSink({ extensions: DEFAULT_EXTENSIONS.filter((e) => e !== 'PIPELINING') });
    await deliver(sink);
    const before = sink.commandGroups.length;
    expect(codes(await deliver(sink))).to.deep.equal([250]);
    expect(sink.connections).to.equal(1);
    expect(groupsAfter(sink, before).slice(0, 4).map((g) => g.map((line) => line.split(/[ :]/)[0]))).to.deep.equal([['RSET'], ['MAIL'], ['RCPT'], ['DATA']]);
    expect(sink.messages).to.have.length(2);
  });

  it('keeps the per-recipient outcome of a refused pipelined RCPT on a kept session, and keeps the session', async () => {
    const sink = await startSink({
      replies: { RCPT: (arg) => (arg.includes('bad@') ? '550 5.1.1 <bad@reuse.test>: no such user' : undefined) },
    });
    await deliver(sink);
    const result = session(await deliver(sink, { recipients: ['bad@reuse.test', 'good@reuse.test'] }));
    expect(result.recipients.map((r) => [r.address, r.reply.code, r.reply.enhanced])).to.deep.equal([
      ['bad@reuse.test', 550, '5.1.1'], ['good@reuse.test', 250, '2.0.0'],
    ]);
    expect(sink.messages.at(-1)!.recipients).to.deep.equal(['good@reuse.test']);
    // Every recipient refused: DATA is refused too, and the session stays in step for the next message.
    expect(codes(await deliver(sink, { recipients: ['bad@reuse.test'] }))).to.deep.equal([550]);
    expect(codes(await deliver(sink))).to.deep.equal([250]);
    expect(sink.connections, 'all on the first connection').to.equal(1);
    expect(sink.messages).to.have.length(3);
  });

  it('reports a refused pipelined MAIL on a kept session as a host failure at MAIL, and does not reuse that session', async () => {
    let refuse = false;
    const sink = await startSink({ replies: { MAIL: () => (refuse ? '451 4.3.0 try later' : undefined) } });
    await deliver(sink);
    refuse = true;
    const result = await deliver(sink);
    expect(result.kind === 'host-failed' && [result.stage, result.reply.code]).to.deep.equal(['mail', 451]);
    refuse = false;
    expect(codes(await deliver(sink))).to.deep.equal([250]);
    expect(sink.connections, 'a new connection after the refusal').to.equal(2);
  });

  for (const pipelining of [true, false]) {
    const extensions = pipelining ? [...DEFAULT_EXTENSIONS] : DEFAULT_EXTENSIONS.filter((e) => e !== 'PIPELINING');
    const how = pipelining ? 'with PIPELINING' : 'without PIPELINING';

    it(`replaces a kept session that the peer closed by the time of RSET, without a failed attempt (${how})`, async () => {
      const sink = await startSink({ extensions });
      await deliver(sink);
      // The first connection has only RSET left to see: the peer hangs up at it.
      sink.behaviour = { ...sink.behaviour, dropAfter: 'RSET' };
      expect(codes(await deliver(sink))).to.deep.equal([250]);
      expect(sink.connections).to.equal(2);
      expect(sink.messages).to.have.length(2);
    });

    it(`replaces a kept session whose RSET gets 421, and the pipelined commands after it deliver nothing (${how})`, async () => {
      const sink = await startSink({ extensions });
      await deliver(sink);
      sink.behaviour = { ...sink.behaviour, replies: { RSET: '421 4.3.2 shutting down' } };
      expect(codes(await deliver(sink, { recipients: ['x@reuse.test'] }))).to.deep.equal([250]);
      expect(sink.connections).to.equal(2);
      // Exactly one copy: the old session got MAIL, RCPT and DATA (and maybe a 354), never a final dot.
      expect(sink.messages.map((m) => m.recipients)).to.deep.equal([['u@reuse.test'], ['x@reuse.test']]);
    });
  }
});

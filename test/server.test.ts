// "vector N" in a title is row N of docs/test-vectors.md.

import { expect } from 'chai';
import fs from 'node:fs/promises';
import path from 'node:path';
import net from 'node:net';
import { once } from 'node:events';
import { WireClient } from './helpers/wire-client.js';
import { startTestRelay, type TestRelay } from './helpers/test-relay.js';
import { SmtpServer } from '../src/protocol/server/server.js';
import type { Limits } from '../src/protocol/server/limits.js';
import { Spool } from '../src/queue/spool/spool.js';
import { spoolStore } from '../src/queue/spool/message-store.js';

async function greeted(relay: TestRelay, port = relay.port): Promise<WireClient> {
  const client = await WireClient.connect(port);
  expect((await client.reply()).code).to.equal(220);
  expect(await client.command('EHLO c.test')).to.equal('250');
  return client;
}

async function queued(relay: TestRelay): Promise<string[]> {
  return relay.spool.list();
}

async function tmpEntries(relay: TestRelay): Promise<string[]> {
  return fs.readdir(path.join(relay.config.spool, 'tmp'));
}

describe('server: SMTP over real sockets', function () {
  let relay: TestRelay;
  const clients: WireClient[] = [];
  const connect = async (port?: number) => { const c = await greeted(relay, port); clients.push(c); return c; };

  beforeEach(async () => { relay = await startTestRelay({ limits: { maxMessageSize: 100_000, idleTimeout: 2 } }); });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await relay.cleanup();
  });

  it('stores exactly the original bytes plus one Received: line on top (vector 42)', async () => {
    const client = await connect();
    const body = 'Subject: test\r\nX-Odd:  spaces \t\r\n\r\nline one\r\n..leading dot\r\n\r\nlast\r\n';
    const done = await client.sendMail('a@b.test', ['u@normal.test'], body.replace('\r\n..leading', '\r\n...leading'));
    expect(done.code).to.equal(250);
    const id = /queued as (\S+)/.exec(done.lines[0]!)![1]!;
    const stored = (await relay.spool.readMessage(id)).toString();
    const [received, ...rest] = stored.split('\r\n');
    expect(received).to.match(new RegExp(`^Received: from c\\.test \\(\\[127\\.0\\.0\\.1\\]\\) by mx\\.minimta\\.test with ESMTP id ${id} for <u@normal\\.test>; \\w{3}, \\d+ \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d \\+0000$`));
    expect(rest.join('\r\n')).to.equal(body.replace('\r\n..leading', '\r\n..leading'));
    expect(stored).to.not.include('Return-Path');
    expect(relay.logs.some((l) => l.includes(`${id}: from=<a@b.test>, size=`))).to.equal(true);
  });

  it('after QUIT, closes the connection at once, without waiting for the client to close its side', async () => {
    // A client that keeps its side open (half-open) after the server's FIN: a lingering close would hold the connection 10 s.
    const socket = net.connect({ port: relay.port, host: '127.0.0.1', allowHalfOpen: true });
    let received = '';
    socket.on('data', (chunk) => { received += chunk.toString(); });
    const ended = once(socket, 'end');
    await waitFor(async () => received.includes('\r\n'), 2000);
    socket.write('QUIT\r\n');
    await ended;
    expect(received).to.match(/\r\n221 2\.0\.0 /);
    await waitFor(async () => relay.server.connectionCount === 0, 2000);
    socket.destroy();
  });

  it('answers a pipelined batch in order, in one write (RFC 2920)', async () => {
    const client = await connect();
    client.chunks.length = 0;
    client.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<x@normal.test>\r\nRCPT TO:<y@normal.test>\r\nDATA\r\n');
    expect(await client.replyCodes(4)).to.deep.equal(['250 2.1.0', '250 2.1.5', '250 2.1.5', '354']);
    expect(client.chunks).to.have.length(1);
    client.send('hi\r\n.\r\n');
    expect((await client.reply()).code).to.equal(250);
  });

  it('takes the bytes after the final dot as the next commands (vector 28)', async () => {
    const client = await connect();
    client.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<x@normal.test>\r\nDATA\r\n');
    await client.replyCodes(3);
    client.send('body\r\n.\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@normal.test>\r\nDATA\r\n');
    expect(await client.replyCodes(4)).to.deep.equal(['250 2.0.0', '250 2.1.0', '250 2.1.5', '354']);
    client.send('second\r\n.\r\n');
    expect((await client.reply()).code).to.equal(250);
    expect(await queued(relay)).to.have.length(2);
  });

  it('finds the end of data sent one byte per write (vector 27)', async () => {
    const client = await connect();
    await client.command('MAIL FROM:<a@b.test>');
    await client.command('RCPT TO:<u@normal.test>');
    expect(await client.command('DATA')).to.equal('354');
    for (const byte of 'one\r\n.\r\n') {
      client.send(byte);
      await new Promise((r) => setImmediate(r));
    }
    expect((await client.reply()).code).to.equal(250);
  });

  for (const [name, payload] of [
    ['LF.LF', 'x\n.\nMAIL FROM:<evil@x.test>\r\n'],
    ['CRLF.LF', 'x\r\n.\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<v@normal.test>\r\nDATA\r\nforged\r\n'],
    ['bare CR', 'a\rb\r\n'],
  ] as const) {
    it(`refuses the smuggling payload ${name} with 550 5.5.2, closes, and queues nothing (vectors 23, 24)`, async () => {
      const client = await connect();
      await client.command('MAIL FROM:<a@b.test>');
      await client.command('RCPT TO:<u@normal.test>');
      await client.command('DATA');
      client.send(payload + '.\r\n');
      expect(await client.replyCodes(1)).to.deep.equal(['550 5.5.2']);
      await client.waitClosed();
      expect(await queued(relay)).to.deep.equal([]);
    });
  }

  it('refuses a bare LF in a command with 550 5.5.2 and closes', async () => {
    const client = await connect();
    client.send('NOOP\n');
    expect(await client.replyCodes(1)).to.deep.equal(['550 5.5.2']);
    await client.waitClosed();
  });

  it('refuses a 513-octet command with 500 5.5.2, runs none of it, and goes on (vector 20)', async () => {
    const client = await connect();
    client.send('MAIL FROM:<a@b.test>\r\n' + 'RCPT TO:<' + 'a'.repeat(500) + '@x.test>\r\n' + 'RCPT TO:<u@normal.test>\r\n');
    expect(await client.replyCodes(3)).to.deep.equal(['250 2.1.0', '500 5.5.2', '250 2.1.5']);
    const exact = 'RCPT TO:<' + 'b'.repeat(64) + '@' + 'd'.repeat(512 - 2 - 'RCPT TO:<@>'.length - 64 - 5) + '.test>';
    expect(Buffer.byteLength(exact) + 2).to.equal(512);
    expect(await client.command(exact)).to.match(/^(250|501)/);
  });

  it('reads a message over the size limit to its end, then 552 5.3.4; nothing queued (vector 19)', async () => {
    const client = await connect();
    await client.command('MAIL FROM:<a@b.test>');
    await client.command('RCPT TO:<u@normal.test>');
    await client.command('DATA');
    const line = 'z'.repeat(78) + '\r\n';
    client.send(line.repeat(3000));
    client.send('.\r\n');
    expect(await client.replyCodes(1)).to.deep.equal(['552 5.3.4']);
    expect(await client.command('NOOP')).to.equal('250 2.0.0');
    expect(await queued(relay)).to.deep.equal([]);
  });

  it('answers data sent before the 354 with 554 5.5.0 and closes (vector 29)', async () => {
    const client = await connect();
    client.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<u@normal.test>\r\nDATA\r\nSubject: early\r\n\r\nbody\r\n.\r\n');
    expect(await client.replyCodes(3)).to.deep.equal(['250 2.1.0', '250 2.1.5', '554 5.5.0']);
    await client.waitClosed();
    expect(await queued(relay)).to.deep.equal([]);
  });

  it('leaves nothing behind when the client drops mid-DATA', async () => {
    const client = await connect();
    await client.command('MAIL FROM:<a@b.test>');
    await client.command('RCPT TO:<u@normal.test>');
    await client.command('DATA');
    client.send('Subject: half\r\n\r\npart of a message\r\n');
    await new Promise((r) => setTimeout(r, 50));
    client.close();
    await waitFor(async () => relay.server.connectionCount === 0);
    expect(await queued(relay)).to.deep.equal([]);
    // The relay's spare tmp file (docs/queue.md) is removed at stop; the dropped message's is not left either.
    await relay.stop();
    expect(await tmpEntries(relay)).to.deep.equal([]);
  });

  it('refuses more than 100 Received: lines with 554 5.4.6 after the final dot; 100 pass (RFC 5321 §6.3, vector 41)', async () => {
    const client = await connect();
    const hops = (n: number) => 'Received: from a by b; Sat, 28 Nov 2026 12:00:00 +0000\r\n'.repeat(n) + 'Subject: loop\r\n\r\nbody\r\n';
    expect((await client.sendMail('a@b.test', ['u@normal.test'], hops(100))).code).to.equal(250);
    const looped = await client.sendMail('a@b.test', ['u@normal.test'], hops(101));
    expect(`${looped.code} ${looped.enhanced}`).to.equal('554 5.4.6');
    expect(await queued(relay)).to.have.length(1);
  });

  it('a fresh connection after garbage bytes works normally', async () => {
    const junk = await WireClient.connect(relay.port);
    clients.push(junk);
    await junk.reply();
    junk.send(Buffer.from([0, 1, 2, 255, 254, 13, 10, 0x80, 0x81, 13, 10]));
    expect((await junk.reply()).code).to.equal(500);
    const client = await connect();
    const done = await client.sendMail('a@b.test', ['u@normal.test'], 'ok\r\n');
    expect(done.code).to.equal(250);
  });

  it('answers random garbage commands one reply each, never crashing (a small fuzz, seeded)', async () => {
    let seed = 12345;
    const random = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    const verbs = ['MAIL FROM:', 'RCPT TO:', 'EHLO', 'HELO', 'DATA', 'RSET', 'VRFY', 'AUTH', 'STARTTLS', 'BDAT', 'X'];
    for (let round = 0; round < 5; round++) {
      const client = await connect();
      let sent = 0;
      for (let i = 0; i < 15; i++) {
        const junk = Array.from({ length: Math.floor(random() * 60) }, () => String.fromCharCode(32 + Math.floor(random() * 95))).join('');
        const line = `${verbs[Math.floor(random() * verbs.length)]}${random() < 0.5 ? ' ' : ''}${junk}`;
        if (line.startsWith('DATA') || line.startsWith('BDAT')) continue; // a valid DATA would start a message
        client.send(line + '\r\n');
        sent++;
      }
      const codes = await client.replyCodes(Math.min(sent, 20));
      for (const code of codes) expect(Number(code.slice(0, 3))).to.be.within(200, 599);
      client.close();
    }
    const fresh = await connect();
    expect((await fresh.sendMail('a@b.test', ['u@normal.test'], 'still fine\r\n')).code).to.equal(250);
  });

  it('refuses connections beyond the per-IP limit with 421 4.7.0', async () => {
    await relay.cleanup();
    // Loopback out of relay.networks: those are exempt (next test).
    relay = await startTestRelay({ limits: { maxConnectionsPerIp: 1 }, relay: { networks: ['192.0.2.0/24'] } });
    const first = await connect();
    const second = await WireClient.connect(relay.port);
    clients.push(second);
    expect(await second.replyCodes(1)).to.deep.equal(['421 4.7.0']);
    await second.waitClosed();
    expect(await first.command('NOOP')).to.equal('250 2.0.0');
  });

  it('exempts clients in relay.networks from the per-IP limit, as Postfix exempts $mynetworks', async () => {
    await relay.cleanup();
    relay = await startTestRelay({ limits: { maxConnectionsPerIp: 1 } });
    await connect();
    const second = await WireClient.connect(relay.port);
    clients.push(second);
    expect(await second.replyCodes(1)).to.deep.equal(['220']);
  });

  it('counts connections per listener: a full relay listener leaves a refuse listener answering 521', async () => {
    await relay.cleanup();
    relay = await startTestRelay({
      limits: { maxConnections: 1 },
      listen: [{ host: '127.0.0.1', port: 0, mode: 'relay' }, { host: '127.0.0.1', port: 0, mode: 'refuse' }],
    });
    await connect();
    const full = await WireClient.connect(relay.ports[0]!);
    clients.push(full);
    expect(await full.replyCodes(1)).to.deep.equal(['421 4.7.0']);
    const refused = await WireClient.connect(relay.ports[1]!);
    clients.push(refused);
    expect(await refused.replyCodes(1)).to.deep.equal(['521 5.3.2']);
  });

  it('takes limits per listener (listen[].limits) over the global ones', async () => {
    await relay.cleanup();
    relay = await startTestRelay({
      listen: [
        { host: '127.0.0.1', port: 0, mode: 'relay', limits: { maxConnections: 1, maxRecipients: 1 } },
        { host: '127.0.0.1', port: 0, mode: 'relay' },
      ],
    });
    const limited = await connect();
    expect(await limited.command('EHLO c.test')).to.equal('250');
    expect(await limited.command('MAIL FROM:<a@b.test>')).to.equal('250 2.1.0');
    expect(await limited.command('RCPT TO:<u@normal.test>')).to.equal('250 2.1.5');
    expect(await limited.command('RCPT TO:<v@normal.test>')).to.equal('452 4.5.3');
    const second = await WireClient.connect(relay.ports[0]!);
    clients.push(second);
    expect(await second.replyCodes(1)).to.deep.equal(['421 4.7.0']);
    const other = await WireClient.connect(relay.ports[1]!);
    clients.push(other);
    expect(await other.replyCodes(1)).to.deep.equal(['220']);
    expect(await other.command('EHLO c.test')).to.equal('250');
    expect(await other.command('MAIL FROM:<a@b.test>')).to.equal('250 2.1.0');
    expect(await other.command('RCPT TO:<u@normal.test>')).to.equal('250 2.1.5');
    expect(await other.command('RCPT TO:<v@normal.test>')).to.equal('250 2.1.5');
  });

  it('refuses connections beyond the total limit with 421 4.7.0', async () => {
    await relay.cleanup();
    relay = await startTestRelay({ limits: { maxConnections: 2 } });
    await connect();
    await connect();
    const third = await WireClient.connect(relay.port);
    clients.push(third);
    expect(await third.replyCodes(1)).to.deep.equal(['421 4.7.0']);
    await third.waitClosed();
  });

  it('closes an idle client with 421 4.4.2 (vector 40)', async () => {
    await relay.cleanup();
    relay = await startTestRelay({ limits: { idleTimeout: 0.2 } });
    const client = await connect();
    expect(await client.replyCodes(1, 8000)).to.deep.equal(['421 4.4.2']);
    await client.waitClosed();
  });

  it('cuts off a client that sends DATA too slowly with 421 4.4.2, and queues nothing', async () => {
    await relay.cleanup();
    relay = await startTestRelay({ limits: { minDataRate: 1000, dataGracePeriod: 0.2 } });
    const client = await connect();
    await client.command('MAIL FROM:<a@b.test>');
    await client.command('RCPT TO:<u@normal.test>');
    await client.command('DATA');
    const trickle = setInterval(() => client.send('x'), 50);
    try {
      expect(await client.replyCodes(1, 8000)).to.deep.equal(['421 4.4.2']);
    } finally {
      clearInterval(trickle);
    }
    await client.waitClosed();
    expect(await queued(relay)).to.deep.equal([]);
  });

  it('closes after the error limit with 421 4.7.0 (vector 40)', async () => {
    const client = await connect();
    client.send('FOO\r\n'.repeat(21));
    const codes = await client.replyCodes(21);
    expect(codes.slice(0, 20).every((c) => c === '500 5.5.2')).to.equal(true);
    expect(codes[20]).to.equal('421 4.7.0');
    await client.waitClosed();
  });

  it('answers a crash inside one session with 421 4.3.0 and keeps serving others', async () => {
    const spoolDir = path.join(path.dirname(relay.config.spool), 'crash-spool');
    const { spool } = await Spool.open(spoolDir);
    const server = new SmtpServer({
      hostname: 'mx.minimta.test',
      postmaster: 'postmaster@mx.minimta.test',
      listeners: [{ host: '127.0.0.1', port: 0, mode: 'relay', refuse: 'stay', tls: 'none' }],
      limits: { ...relayLimits(), maxConnections: 10 },
      store: spoolStore(spool),
      captureStore: spoolStore(spool, { capture: true }),
      policy: { checkSender: async () => undefined, checkRecipient: async () => { throw new TypeError('boom'); } },
      log: () => {},
    });
    const [bound] = await server.listen();
    try {
      const client = await WireClient.connect(bound!.boundPort);
      await client.reply();
      await client.command('EHLO c.test');
      await client.command('MAIL FROM:<a@b.test>');
      expect(await client.command('RCPT TO:<u@x.test>')).to.equal('421 4.3.0');
      await client.waitClosed();
      const other = await WireClient.connect(bound!.boundPort);
      expect((await other.reply()).code).to.equal(220);
      other.close();
    } finally {
      await server.close();
    }
  });

  describe('listener modes', () => {
    it('refuse "stay": 521 5.3.2 greeting, 521 to commands, 221 to QUIT (vectors 1, 2)', async () => {
      await relay.cleanup();
      relay = await startTestRelay({ listen: [{ host: '127.0.0.1', port: 0, mode: 'refuse' }] });
      const client = await WireClient.connect(relay.port);
      clients.push(client);
      const greeting = await client.reply();
      expect(greeting).to.deep.equal({ code: 521, enhanced: '5.3.2', lines: ['mx.minimta.test does not accept mail'] });
      expect(await client.command('EHLO x')).to.equal('521 5.3.2');
      expect(await client.command('MAIL FROM:<a@b.test>')).to.equal('521 5.3.2');
      expect(await client.command('QUIT')).to.equal('221 2.0.0');
      await client.waitClosed();
    });

    it('refuse "close": 521 5.3.2 greeting, then the server closes', async () => {
      await relay.cleanup();
      relay = await startTestRelay({ listen: [{ host: '127.0.0.1', port: 0, mode: 'refuse', refuse: 'close' }] });
      const client = await WireClient.connect(relay.port);
      clients.push(client);
      expect(await client.replyCodes(1)).to.deep.equal(['521 5.3.2']);
      await client.waitClosed();
    });

    it('capture mode keeps the message in the spool, marked never to be delivered', async () => {
      await relay.cleanup();
      relay = await startTestRelay({ listen: [{ host: '127.0.0.1', port: 0, mode: 'capture' }] });
      const client = await connect();
      const done = await client.sendMail('a@b.test', ['anyone@anywhere.invalid'], 'captured\r\n');
      expect(done.code).to.equal(250);
      const [id] = await queued(relay);
      const envelope = await relay.spool.readEnvelope(id!);
      expect(envelope.capture).to.equal(true);
      expect(envelope.recipients.map((r) => r.address)).to.deep.equal(['anyone@anywhere.invalid']);
    });
  });
});

function relayLimits(): Limits {
  return {
    maxLineOctets: 512, maxMessageSize: 100_000, idleTimeoutMs: 5000, minDataRate: 0, dataGraceMs: 0,
    maxRecipients: 100, maxConnections: 100, maxConnectionsPerIp: 10, maxErrors: 20, softErrorLimit: 100,
    errorDelayMs: 0, maxJunkCommands: 100, maxHops: 100, refuseIdleTimeoutMs: 1000, refuseMaxCommands: 10, tlsHandshakeTimeoutMs: 1000, maxAuthFailures: 3,
  };
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

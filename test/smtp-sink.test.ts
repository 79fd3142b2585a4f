// The test sink itself, driven by a raw socket: other tests lean on it, so its
// end-of-data rule, its scripting and its clean-up must hold.

import { expect } from 'chai';
import { once } from 'node:events';
import * as net from 'node:net';
import { SmtpSink } from './helpers/smtp-sink.js';

/** A raw client: writes what it is told, and waits (bounded) for text from the sink. */
class RawClient {
  private received = '';
  private readonly socket: net.Socket;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => { this.received += text; });
    socket.on('error', () => undefined); // the sink may hang up on purpose
  }

  static async connect(host: string, port: number): Promise<RawClient> {
    const socket = net.connect({ host, port });
    await once(socket, 'connect');
    return new RawClient(socket);
  }

  write(text: string): void {
    this.socket.write(text);
  }

  /** Resolves with everything received once it matches; rejects after timeoutMs. */
  async waitFor(pattern: RegExp, timeoutMs = 8000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.received)) {
      if (Date.now() > deadline || this.socket.destroyed) throw new Error(`no ${pattern} in ${JSON.stringify(this.received)}`);
      await this.nextEvent(deadline - Date.now());
    }
    return this.received;
  }

  /** Waits for more data, a close, or the time left, whichever comes first. */
  private nextEvent(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.socket.off('data', done);
        this.socket.off('close', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.socket.on('data', done);
      this.socket.on('close', done);
    });
  }

  async closed(timeoutMs = 8000): Promise<void> {
    if (this.socket.destroyed) return;
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    await Promise.race([closed, timeout(timeoutMs).then(() => { throw new Error('still open'); })]);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function timeout(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)).unref());
}

describe('SmtpSink (test helper)', () => {
  const sinks: SmtpSink[] = [];
  const clients: RawClient[] = [];

  async function start(options: Parameters<typeof SmtpSink.start>[0] = {}): Promise<SmtpSink> {
    const sink = await SmtpSink.start(options);
    sinks.push(sink);
    return sink;
  }

  async function connect(sink: SmtpSink): Promise<RawClient> {
    const client = await RawClient.connect(sink.host, sink.port);
    clients.push(client);
    return client;
  }

  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await Promise.all(sinks.splice(0).map((s) => s.stop()));
  });

  it('lets several sinks share one port on different loopback addresses', async () => {
    const first = await start({ name: 'mx1.test' });
    const second = await start({ host: '127.0.0.3', port: first.port, name: 'mx2.test' });
    expect(second.port).to.equal(first.port);
    const a = await connect(first);
    const b = await connect(second);
    expect(await a.waitFor(/^220 /)).to.contain('mx1.test');
    expect(await b.waitFor(/^220 /)).to.contain('mx2.test');
    expect([first.connections, second.connections]).to.deep.equal([1, 1]);
  });

  it('takes a message, records the dialog, and unstuffs the data', async () => {
    const sink = await start();
    const client = await connect(sink);
    await client.waitFor(/^220 /);
    client.write('EHLO c.test\r\nMAIL FROM:<a@b.test> SIZE=10\r\nRCPT TO:<u@d.test>\r\nDATA\r\n');
    await client.waitFor(/354 /);
    client.write('..hidden\r\nplain\r\n.\r\n');
    await client.waitFor(/250 2\.0\.0/);
    const [message] = await sink.waitForMessages(1);
    expect(message?.data.toString()).to.equal('.hidden\r\nplain\r\n');
    expect(message?.rawData.toString()).to.equal('..hidden\r\nplain\r\n');
    expect(message).to.include({ sender: 'a@b.test', mailParams: 'SIZE=10', helo: 'c.test', via: 'EHLO', clientAddress: '127.0.0.1' });
    expect(sink.commandGroups[0]).to.deep.equal(['EHLO c.test', 'MAIL FROM:<a@b.test> SIZE=10', 'RCPT TO:<u@d.test>', 'DATA']);
    expect(sink.transcript.slice(-3)).to.deep.equal(['..hidden', 'plain', '.']);
  });

  it('ends the data only at CRLF.CRLF, wherever the reads split it', async () => {
    const sink = await start();
    const client = await connect(sink);
    await client.waitFor(/^220 /);
    client.write('HELO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@d.test>\r\nDATA\r\n');
    await client.waitFor(/354 /);
    client.write('x\n.\ny\r\n.\rz\r\n');
    for (const byte of '\r\n.\r\n'.slice(2)) client.write(byte); // "\r\n" already sent: ".\r\n" byte by byte
    await client.waitFor(/250 2\.0\.0/);
    const [message] = await sink.waitForMessages(1);
    // Only the CRLF-started ".\rz" is a line start: its dot is taken as stuffing.
    expect(message?.data.toString()).to.equal('x\n.\ny\r\n\rz\r\n');
  });

  it('ends empty data at a lone "." and stores nothing without recipients', async () => {
    const sink = await start({ behaviour: { replies: { DATA: '354 go on' } } });
    const client = await connect(sink);
    await client.waitFor(/^220 /);
    client.write('EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nDATA\r\n');
    await client.waitFor(/354 /);
    client.write('.\r\nQUIT\r\n');
    expect(await client.waitFor(/221 /)).to.match(/554 5\.5\.1[^\r]*\r\n221 /);
    expect(sink.messages).to.have.length(0);
  });

  it('answers with scripted replies, per argument', async () => {
    const sink = await start({ behaviour: { replies: { RCPT: (arg) => (arg.includes('bad@') ? '550 5.1.1 no' : undefined) } } });
    const client = await connect(sink);
    await client.waitFor(/^220 /);
    client.write('EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<bad@d.test>\r\nRCPT TO:<ok@d.test>\r\n');
    const text = await client.waitFor(/250 2\.1\.5/);
    expect(text).to.contain('550 5.1.1 no');
  });

  it('drops the connection at the chosen point', async () => {
    const sink = await start({ behaviour: { dropAfter: 'MAIL' } });
    const client = await connect(sink);
    await client.waitFor(/^220 /);
    client.write('EHLO c.test\r\nMAIL FROM:<a@b.test>\r\n');
    await client.closed();
  });

  it('closes every open connection on stop(), so a stalled sink never hangs a test', async () => {
    const sink = await start({ behaviour: { stallAt: 'EHLO' } });
    const client = await connect(sink);
    await client.waitFor(/^220 /);
    client.write('EHLO c.test\r\n');
    await sink.stop();
    await client.closed();
  });

  it('bounds waitForMessages with a timeout', async () => {
    const sink = await start();
    let error: unknown;
    await sink.waitForMessages(1, 100).catch((err: unknown) => { error = err; });
    expect(String(error)).to.contain('0 of 1 messages');
  });
});

import { expect } from 'chai';
import fs from 'node:fs';
import { startMinimta, WaitTimeoutError, type Minimta, type MtaEvent } from '../src/index.js';
import { WireClient } from './helpers/wire-client.js';

async function send(port: number, from: string, to: string[], body: string): Promise<string> {
  const client = await WireClient.connect(port);
  try {
    await client.reply();
    await client.command('EHLO app.test');
    const reply = await client.sendMail(from, to, body);
    expect(reply.code).to.equal(250);
    return /queued as (\S+)/.exec(reply.lines[0]!)![1]!;
  } finally {
    client.close();
  }
}

describe('JS API: startMinimta for test suites', () => {
  let minimta: Minimta;
  beforeEach(async () => { minimta = await startMinimta(); });
  afterEach(async () => { await minimta.close(); });

  it('starts a capture listener on a port of its own with a fresh temporary spool, and close() removes the spool', async () => {
    expect(minimta.port).to.be.above(0);
    expect(minimta.listeners).to.deep.equal([{ host: '127.0.0.1', port: minimta.port, mode: 'capture' }]);
    expect(fs.existsSync(minimta.spool)).to.equal(true);
    await minimta.close();
    expect(fs.existsSync(minimta.spool)).to.equal(false);
  });

  it('waitForMessage answers with the parsed message as soon as it arrives', async () => {
    const waiting = minimta.waitForMessage({ to: 'bob@' }, 5000);
    const id = await send(minimta.port, 'alice@app.test', ['bob@example.net'], 'Subject: Welcome\r\nContent-Type: text/html\r\n\r\n<b>hi</b>\r\n');
    const message = await waiting;
    expect(message.id).to.equal(id);
    expect(message.state).to.equal('captured');
    expect(message.from).to.equal('alice@app.test');
    expect(message.to).to.deep.equal(['bob@example.net']);
    expect(message.subject).to.equal('Welcome');
    expect(message.html).to.equal('<b>hi</b>\r\n');
    expect(message.headers.map((h) => h.name)).to.deep.equal(['Received', 'Subject', 'Content-Type']);
    expect(message.size).to.equal((await minimta.raw(id)).length);
  });

  it('waitForMessage finds a message that is already there, and times out on one that never comes', async () => {
    const id = await send(minimta.port, 'a@app.test', ['x@example.net'], 'Subject: early\r\n\r\nbody\r\n');
    expect((await minimta.waitForMessage({ subject: 'EARLY' }, 8000)).id).to.equal(id);
    const started = Date.now();
    const error = await minimta.waitForMessage({ subject: 'never' }, 200).catch((err: unknown) => err);
    expect(error).to.be.instanceOf(WaitTimeoutError);
    expect(Date.now() - started).to.be.at.least(190);
  });

  it('messages() lists newest first and filters by to, from and subject; clear() empties the spool', async () => {
    const first = await send(minimta.port, 'a@app.test', ['one@example.net'], 'Subject: first\r\n\r\n1\r\n');
    const second = await send(minimta.port, 'b@app.test', ['two@example.net'], 'Subject: second\r\n\r\n2\r\n');
    expect((await minimta.messages()).map((m) => m.id)).to.deep.equal([second, first]);
    expect((await minimta.messages({ to: 'one@' })).map((m) => m.id)).to.deep.equal([first]);
    expect((await minimta.messages({ from: 'b@app' })).map((m) => m.id)).to.deep.equal([second]);
    expect((await minimta.messages({ subject: 'nothing' }))).to.deep.equal([]);
    expect(await minimta.clear()).to.equal(2);
    expect(await minimta.messages()).to.deep.equal([]);
  });

  it('says one size everywhere: the log, the envelope, messages() and the stored bytes agree', async () => {
    const lines: string[] = [];
    const logged = await startMinimta({ log: (_component, text, id) => lines.push(`${id}: ${text}`) });
    try {
      const id = await send(logged.port, 'a@app.test', ['b@example.net'], 'Subject: sized\r\n\r\n12345\r\n');
      const stored = (await logged.raw(id)).length;
      expect((await logged.message(id)).envelope.size).to.equal(stored);
      expect((await logged.messages())[0]!.size).to.equal(stored);
      expect(lines.find((l) => l.startsWith(`${id}: from=`))).to.include(`size=${stored},`);
    } finally {
      await logged.close();
    }
  });

  it('emits a received event with the queue id', async () => {
    const received = new Promise<MtaEvent>((resolve) => minimta.events.once('received', resolve));
    const id = await send(minimta.port, 'a@app.test', ['b@example.net'], 'Subject: e\r\n\r\nx\r\n');
    expect((await received).id).to.equal(id);
  });
});

import { expect } from 'chai';
import { once } from 'node:events';
import { existsSync, linkSync, renameSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import * as net from 'node:net';
import { join } from 'node:path';
import { startDeliveryWorld, type DeliveryWorld } from './helpers/delivery-env.js';
import { makeTempDir, startTestRelay, type TestRelay } from './helpers/test-relay.js';
import type { Zone } from './helpers/dns-server.js';
import { LineSplitter } from '../src/control/json-lines.js';
import {
  CONTROL_CODES, ControlError, MAX_REQUEST_BYTES, controlSocketPath, parseRequest,
} from '../src/control/control-protocol.js';
import { relayAnswers, sendControlRequest } from '../src/control/control-client.js';
import { RemoteQueue } from '../src/control/remote-queue.js';
import { QUEUE_ADMIN_CODES, QueueAdminError } from '../src/queue/spool/queue-admin.js';
import { Spool } from '../src/queue/spool/spool.js';

const ZONES: Record<string, Zone> = {
  'normal.test': { mx: [{ preference: 10, exchange: 'mx.normal.test' }] },
  'mx.normal.test': { a: ['127.0.0.2'] },
  'stall.test': { mx: [{ preference: 10, exchange: 'mx.stall.test' }] },
  'mx.stall.test': { a: ['127.0.0.3'] },
};

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Waits for a condition that no event announces (a line in a peer's transcript), bounded. */
async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await withTimeout(promise, 5000, 'expected a rejection');
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection, but it resolved');
}

/** A raw connection to a control socket: lines out, lines in, every wait bounded. */
class RawControl {
  private readonly lines: string[] = [];
  private readonly splitter = new LineSplitter(1 << 20);
  private wakeUp?: () => void;
  closed = false;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const e of this.splitter.push(chunk)) if (e.kind === 'line') this.lines.push(e.text);
      this.wakeUp?.();
    });
    socket.on('close', () => { this.closed = true; this.wakeUp?.(); });
    socket.on('error', () => {});
  }

  static async open(path: string): Promise<RawControl> {
    const socket = net.connect(path);
    await withTimeout(once(socket, 'connect'), 2000, 'connect to the control socket');
    return new RawControl(socket);
  }

  send(text: string): void {
    this.socket.write(text);
  }

  async next(): Promise<Record<string, unknown>> {
    await withTimeout(new Promise<void>((resolve) => {
      const check = (): void => { if (this.lines.length > 0 || this.closed) resolve(); };
      this.wakeUp = check;
      check();
    }), 5000, 'a response line');
    const line = this.lines.shift();
    if (line === undefined) throw new Error('the connection closed without a response');
    return JSON.parse(line) as Record<string, unknown>;
  }

  async waitClosed(): Promise<void> {
    await withTimeout(new Promise<void>((resolve) => {
      this.wakeUp = () => { if (this.closed) resolve(); };
      this.wakeUp();
    }), 5000, 'the server to close the connection');
  }

  close(): void {
    this.socket.destroy();
  }
}

describe('control protocol: framing and requests', () => {
  it('splits LF-terminated lines across chunks, and stops at a line longer than the bound', () => {
    const lines = new LineSplitter(10);
    expect(lines.push(Buffer.from('{"a"'))).to.deep.equal([]);
    expect(lines.push(Buffer.from(':1}\n{}\n'))).to.deep.equal([{ kind: 'line', text: '{"a":1}' }, { kind: 'line', text: '{}' }]);
    expect(lines.push(Buffer.from('0123456789A'))).to.deep.equal([{ kind: 'too-long' }]);
    expect(lines.push(Buffer.from('\n{}\n'))).to.deep.equal([]);
  });

  it('reads a request: a known command, and an id for the commands that name a message', () => {
    expect(parseRequest('{"command":"list"}')).to.deep.equal({ command: 'list' });
    expect(parseRequest('{"command":"hold","id":"0MX0OWGKC01M3M"}')).to.deep.equal({ command: 'hold', id: '0MX0OWGKC01M3M' });
    const codeOf = (line: string): string => {
      try {
        parseRequest(line);
      } catch (err) {
        return (err as ControlError).code;
      }
      return 'accepted';
    };
    expect(codeOf('not json')).to.equal(CONTROL_CODES.badRequest);
    expect(codeOf('[1]')).to.equal(CONTROL_CODES.badRequest);
    expect(codeOf('{"command":"hold"}')).to.equal(CONTROL_CODES.badRequest);
    expect(codeOf('{"command":"toString"}')).to.equal(CONTROL_CODES.unknownCommand);
    expect(codeOf('{"command":"shutdown"}')).to.equal(CONTROL_CODES.unknownCommand);
  });
});

describe('control socket of a running relay', function () {
  describe('the socket', () => {
    let relay: TestRelay | undefined;
    afterEach(async () => { await relay?.cleanup(); relay = undefined; });

    it('is control.sock in the spool directory, a socket of mode 0600, removed when the relay stops', async () => {
      relay = await startTestRelay();
      const path = controlSocketPath(relay.spool.dir);
      const stat = statSync(path);
      expect(stat.isSocket()).to.equal(true);
      expect(stat.mode & 0o777).to.equal(0o600);
      expect(await sendControlRequest(path, { command: 'ping' })).to.equal('pong');
      await relay.stop();
      expect(existsSync(path)).to.equal(false);
      expect(await relayAnswers(path)).to.equal(false);
    });

    it('replaces a stale socket left by a relay that died, and refuses to start beside a live one', async () => {
      const dir = await makeTempDir();
      const spoolDir = join(dir, 'spool');
      await Spool.open(spoolDir);
      const path = controlSocketPath(spoolDir);
      // A socket file nobody accepts on: keep a second name for it while its server closes.
      const dead = net.createServer().listen(path);
      await once(dead, 'listening');
      linkSync(path, `${path}.kept`);
      await new Promise<void>((resolve) => dead.close(() => resolve()));
      renameSync(`${path}.kept`, path);
      expect(await relayAnswers(path)).to.equal(false);

      relay = await startTestRelay({ spool: spoolDir });
      expect(await sendControlRequest(path, { command: 'ping' })).to.equal('pong');
      expect(relay.logs.some((l) => l.includes(`replaced the stale control socket ${path}`))).to.equal(true);

      // A message being received by the first relay must survive the second one's attempt to start.
      const receipt = await relay.spool.beginReceipt();
      receipt.write(Buffer.from('Subject: in progress\r\n\r\n'));
      const err = await rejectionOf(startTestRelay({ spool: spoolDir, dns: { servers: [relay.dns!.address] } }));
      expect((err as Error).message).to.include('another minimta is running on this spool');
      expect(await sendControlRequest(path, { command: 'ping' })).to.equal('pong');
      await receipt.commit({ version: 1, id: receipt.id, arrivedAt: new Date().toISOString(), client: { ip: '127.0.0.1', ehlo: 'c', protocol: 'ESMTP' },
        sender: '', recipients: [{ address: 'u@normal.test', state: 'pending', attempts: 0 }], body: '7BIT', smtputf8: false,
        capture: true, held: false, attempts: 0, nextAttemptAt: new Date().toISOString() });
      expect(await relay.spool.exists(receipt.id)).to.equal(true);
    });

    it('answers a malformed request with an error and goes on serving the connection', async () => {
      relay = await startTestRelay();
      const raw = await RawControl.open(controlSocketPath(relay.spool.dir));
      raw.send('this is not json\n');
      expect(await raw.next()).to.deep.include({ ok: false, code: CONTROL_CODES.badRequest });
      raw.send('{"command":"reboot"}\n');
      expect(await raw.next()).to.deep.include({ ok: false, code: CONTROL_CODES.unknownCommand });
      raw.send('{"command":"show","id":"../../etc/passwd"}\n');
      expect(await raw.next()).to.deep.include({ ok: false, code: QUEUE_ADMIN_CODES.badId });
      raw.send('{"command":"ping"}\n{"command":"list"}\n');
      expect(await raw.next()).to.deep.equal({ ok: true, result: 'pong' });
      expect(await raw.next()).to.deep.equal({ ok: true, result: { envelopes: [], corrupt: [] } });
      raw.close();
    });

    it('cuts off a request line longer than the bound, and serves the next connection', async () => {
      relay = await startTestRelay();
      const path = controlSocketPath(relay.spool.dir);
      const raw = await RawControl.open(path);
      raw.send('x'.repeat(MAX_REQUEST_BYTES + 1));
      expect(await raw.next()).to.deep.include({ ok: false, code: CONTROL_CODES.tooLong });
      await raw.waitClosed();
      expect(await sendControlRequest(path, { command: 'ping' })).to.equal('pong');
    });
  });

  describe('the client', () => {
    let dir: string;
    beforeEach(async () => { dir = await makeTempDir(); });
    afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

    it('tells "no relay here" (no socket file) apart from "a relay that does not answer"', async () => {
      const path = join(dir, 'control.sock');
      const absent = await rejectionOf(sendControlRequest(path, { command: 'ping' }));
      expect(absent).to.be.instanceOf(ControlError).and.include({ code: CONTROL_CODES.noServer });

      const mute = net.createServer(() => { /* accepts, never answers */ }).listen(path);
      await once(mute, 'listening');
      try {
        const started = Date.now();
        const err = await rejectionOf(sendControlRequest(path, { command: 'ping' }, 200));
        expect(err).to.be.instanceOf(ControlError).and.include({ code: CONTROL_CODES.unreachable });
        expect((err as Error).message).to.include('server not reachable');
        // Well under the 10 s default, which a client ignoring its timeout would wait.
        expect(Date.now() - started).to.be.below(8000);
      } finally {
        mute.close();
      }
    });
  });

  describe('queue commands through the socket, with delivery running', () => {
    let world: DeliveryWorld;
    afterEach(async () => { await world.stop(); });

    function remote(): RemoteQueue {
      return new RemoteQueue(controlSocketPath(world.relay.spool.dir));
    }

    it('lists what is queued', async () => {
      world = await startDeliveryWorld(structuredClone(ZONES), { delivery: { retrySchedule: [60] } });
      world.sinks[0]!.behaviour = { replies: { RCPT: '452 4.2.2 mailbox full' } };
      const { id } = await world.send('a@src.test', ['u@normal.test']);
      await world.attempt(id);
      const { envelopes } = await remote().list();
      expect(envelopes).to.have.length(1);
      expect(envelopes[0]).to.deep.include({ id, sender: 'a@src.test', attempts: 1 });
      expect(envelopes[0]!.recipients[0]).to.deep.include({ address: 'u@normal.test', state: 'pending', lastReply: '452 4.2.2 mailbox full' });
    });

    it('holds a message so the worker skips it even when due, and delivers it once released', async () => {
      world = await startDeliveryWorld(structuredClone(ZONES), { delivery: { retrySchedule: [60] } });
      const sink = world.sinks[0]!;
      sink.behaviour = { replies: { RCPT: (arg) => (arg.includes('u@normal.test') ? '452 4.2.2 mailbox full' : undefined) } };
      const { id } = await world.send('a@src.test', ['u@normal.test']);
      expect((await world.attempt(id)).done).to.equal(false);

      expect((await remote().hold(id)).held).to.equal(true);
      sink.behaviour = {};
      // Due now and the worker woken: it must pass the held message by.
      expect(await remote().retry(id)).to.deep.include({ held: true });
      const other = await world.send('a@src.test', ['v@normal.test']);
      expect((await world.attempt(other.id)).done).to.equal(true);
      expect(world.attempts.get(id)).to.have.length(1);
      expect(sink.messages.map((m) => m.recipients)).to.deep.equal([['v@normal.test']]);
      expect((await world.relay.spool.readEnvelope(id)).held).to.equal(true);

      expect((await remote().release(id)).held).to.equal(false);
      expect((await world.attempt(id, 2)).done).to.equal(true);
      expect(sink.messages.map((m) => m.recipients)).to.deep.equal([['v@normal.test'], ['u@normal.test']]);
      expect(await world.relay.spool.list()).to.deep.equal([]);
    });

    it('deletes a message while its delivery is stalled at DATA: never delivered, never retried, others unaffected', async () => {
      world = await startDeliveryWorld(structuredClone(ZONES), {
        delivery: { retrySchedule: [0.2], timeouts: { connect: 1, greeting: 2, command: 0.5, dataBlock: 2, dataEnd: 2 } },
      });
      const stalling = await world.addSink('127.0.0.3', { stallAt: 'DATA' });
      const doomed = await world.send('a@src.test', ['u@stall.test']);
      const other = await world.send('a@src.test', ['u@normal.test']);
      await waitUntil(() => stalling.transcript.includes('DATA'), 'the delivery to reach DATA');

      expect(await remote().delete(doomed.id)).to.deep.equal({ id: doomed.id });
      expect(await world.relay.spool.exists(doomed.id)).to.equal(false);

      expect(await world.attempt(doomed.id)).to.deep.equal({ outcomes: [], done: true });
      expect(world.relay.logs).to.include(`qmgr: ${doomed.id}: removed from the queue during delivery; not tried again`);
      expect((await world.attempt(other.id)).done).to.equal(true);
      expect(world.sinks[0]!.messages.map((m) => m.recipients)).to.deep.equal([['u@normal.test']]);

      // The stalled host works again: the next message goes, the deleted one never does.
      stalling.behaviour = {};
      const after = await world.send('a@src.test', ['w@stall.test']);
      await stalling.waitForMessages(1);
      expect((await world.attempt(after.id)).done).to.equal(true);
      expect(stalling.messages.map((m) => m.recipients)).to.deep.equal([['w@stall.test']]);
      expect(stalling.transcript.filter((line) => line.startsWith('MAIL FROM:'))).to.have.length(2);
      expect(world.attempts.get(doomed.id)).to.have.length(1);
      expect(await world.relay.spool.list()).to.deep.equal([]);
    });

    it('answers "no message ID" for an id that is not queued', async () => {
      world = await startDeliveryWorld(structuredClone(ZONES));
      const err = await rejectionOf(remote().delete('0MX0OWGKC01M3M'));
      expect(err).to.be.instanceOf(QueueAdminError).and.include({ code: QUEUE_ADMIN_CODES.noMessage, message: 'no message 0MX0OWGKC01M3M' });
    });
  });
});

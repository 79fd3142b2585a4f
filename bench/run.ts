// npm run bench: speed and memory, measured, not asserted. Everything runs on
// loopback and stops on its own: a capture relay takes a burst of messages
// over several connections (each one fsynced before its 250), one large
// message is streamed through while memory is sampled, a relay delivers a
// batch to a sink through the worker, 1 000 idle connections are held open
// against a `minimta serve` process, and a deep queue (100 000 deferred
// messages) is restarted, listed and drained (issue 9's figures).
//
//   npm run bench                 defaults
//   npm run bench -- --messages 2000 --connections 8 --big-mb 100 --idle 1000 --deep 100000
//   npm run bench -- --only idle,deep      some scenarios only (receive, large, relay, idle, deep)

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { validateConfig } from '../src/config.js';
import { startMta } from '../src/mta.js';
import { silentLogger } from '../src/log.js';
import { WireClient } from '../test/helpers/wire-client.js';
import { SmtpSink } from '../test/helpers/smtp-sink.js';
import { TestDnsServer } from '../test/helpers/dns-server.js';
import { RelayProcess } from '../test/helpers/relay-process.js';
import { fillDeepQueue } from '../test/helpers/deep-queue.js';
import { RemoteQueue } from '../src/control/remote-queue.js';
import { controlSocketPath } from '../src/control/control-protocol.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '500' },
    connections: { type: 'string', default: '4' },
    size: { type: 'string', default: '10240' },
    'big-mb': { type: 'string', default: '100' },
    deliver: { type: 'string', default: '200' },
    deep: { type: 'string', default: '100000' },
    idle: { type: 'string', default: '1000' },
    only: { type: 'string' },
  },
});
const MESSAGES = Number(values.messages);
const CONNECTIONS = Number(values.connections);
const SIZE = Number(values.size);
const BIG_MB = Number(values['big-mb']);
const DELIVER = Number(values.deliver);
const DEEP = Number(values.deep);
const IDLE = Number(values.idle);
/** The scenarios to run (all by default), e.g. `--only deep,idle`. */
const ONLY = values.only?.split(',');
const wanted = (name: string): boolean => ONLY === undefined || ONLY.includes(name);

function body(size: number): string {
  const line = 'x'.repeat(76) + '\r\n';
  return 'Subject: bench\r\n\r\n' + line.repeat(Math.max(1, Math.floor(size / line.length)));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function withRelay<T>(raw: object, run: (port: number, spool: string) => Promise<T>, deliver = false): Promise<T> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'minimta-bench-'));
  const spool = path.join(dir, 'spool');
  const config = validateConfig({
    hostname: 'bench.minimta.test',
    listen: [{ host: '127.0.0.1', port: 0, mode: deliver ? 'relay' : 'capture' }],
    limits: { maxMessageSize: (BIG_MB + 10) * 1024 * 1024, maxConnectionsPerIp: 100, errorDelay: 0 },
    ...raw,
    spool,
  });
  const relay = await startMta(config, silentLogger, { deliver });
  try {
    return await run(relay.listeners[0]!.boundPort, spool);
  } finally {
    await relay.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function burst(): Promise<void> {
  const text = body(SIZE);
  const latencies: number[] = [];
  const started = Date.now();
  await withRelay({}, async (port) => {
    let next = 0;
    await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
      const client = await WireClient.connect(port);
      await client.reply();
      await client.command('EHLO bench.test');
      while (next < MESSAGES) {
        next++;
        const t0 = process.hrtime.bigint();
        const reply = await client.sendMail('bench@src.test', ['sink@dst.test'], text);
        if (reply.code !== 250) throw new Error(`unexpected reply ${reply.code}`);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      client.close();
    }));
  });
  const seconds = (Date.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  console.log(`receive: ${MESSAGES} messages of ${SIZE} B over ${CONNECTIONS} connections in ${seconds.toFixed(2)} s` +
    ` = ${(MESSAGES / seconds).toFixed(0)} msg/s; per message p50 ${percentile(latencies, 50).toFixed(1)} ms,` +
    ` p99 ${percentile(latencies, 99).toFixed(1)} ms (each fsynced before its 250)`);
}

async function bigMessage(): Promise<void> {
  const chunk = Buffer.from(('y'.repeat(998) + '\r\n').repeat(64));
  const total = BIG_MB * 1024 * 1024;
  let peakRss = 0;
  let peakHeap = 0;
  const sample = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  }, 20);
  const before = process.memoryUsage();
  const started = Date.now();
  await withRelay({}, async (port) => {
    const client = await WireClient.connect(port);
    await client.reply();
    await client.command('EHLO bench.test');
    await client.command('MAIL FROM:<bench@src.test>');
    await client.command('RCPT TO:<sink@dst.test>');
    await client.command('DATA');
    for (let sent = 0; sent < total; sent += chunk.length) {
      if (!client.socket.write(chunk)) await new Promise((r) => client.socket.once('drain', r));
    }
    client.send('.\r\n');
    const reply = await client.reply(120_000);
    if (reply.code !== 250) throw new Error(`unexpected reply ${reply.code}`);
    client.close();
  });
  clearInterval(sample);
  const seconds = (Date.now() - started) / 1000;
  const mb = (n: number) => (n / 1024 / 1024).toFixed(0);
  console.log(`large message: ${BIG_MB} MB in ${seconds.toFixed(2)} s = ${(BIG_MB / seconds).toFixed(0)} MB/s;` +
    ` peak RSS ${mb(peakRss)} MB (start ${mb(before.rss)} MB), peak heap ${mb(peakHeap)} MB (start ${mb(before.heapUsed)} MB)` +
    ' — client and server in one process');
}

async function delivery(): Promise<void> {
  const sink = await SmtpSink.start({ host: '127.0.0.2' });
  const dns = await TestDnsServer.start({
    'dst.test': { mx: [{ preference: 10, exchange: 'mx.dst.test' }] },
    'mx.dst.test': { a: ['127.0.0.2'] },
  });
  const text = body(SIZE);
  try {
    const started = Date.now();
    await withRelay({ dns: { servers: [dns.address] }, delivery: { port: sink.port, pollInterval: 0.2 } }, async (port) => {
      const client = await WireClient.connect(port);
      await client.reply();
      await client.command('EHLO bench.test');
      for (let i = 0; i < DELIVER; i++) await client.sendMail('bench@src.test', [`u${i}@dst.test`], text);
      client.close();
      await sink.waitForMessages(DELIVER, 120_000);
    }, true);
    const seconds = (Date.now() - started) / 1000;
    console.log(`relay: ${DELIVER} messages received, queued and delivered to a sink in ${seconds.toFixed(2)} s = ${(DELIVER / seconds).toFixed(0)} msg/s`);
  } finally {
    await sink.stop();
    await dns.stop();
  }
}

/**
 * A restart on a deep queue: DEEP deferred messages in the spool, a real
 * `minimta serve` process started on it (time to its greeting, process
 * start included; RSS once the queue is read), `queue list` over the control
 * socket, then a flush with the next hop up (drain rate until the sink has
 * every message).
 */
async function deepQueue(): Promise<void> {
  if (DEEP <= 0) return;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'minimta-bench-deep-'));
  const spool = path.join(dir, 'spool');
  const sink = await SmtpSink.start({ host: '127.0.0.2' });
  let relay: RelayProcess | undefined;
  try {
    const filled = Date.now();
    await fillDeepQueue(spool, DEEP);
    const fillSeconds = (Date.now() - filled) / 1000;
    const started = Date.now();
    const { relay: running, port } = await RelayProcess.start({
      hostname: 'bench.minimta.test',
      listen: [{ host: '127.0.0.1', port: 0, mode: 'relay' }],
      spool,
      smarthost: { host: '127.0.0.2', port: sink.port, tls: 'none' },
      dns: { checkRecipients: false, checkSenders: false },
    }, path.join(dir, 'config.json'));
    relay = running;
    const client = await WireClient.connect(port);
    await client.reply();
    client.close();
    const greetMs = Date.now() - started;
    const loaded = await running.waitFor(/queue loaded: (\d+) message\(s\) in (\d+) ms/, 120_000);
    const rss = await running.rss();
    const peak = sampleRss(running, rss);
    const queue = new RemoteQueue(controlSocketPath(spool), 120_000);
    const listStarted = Date.now();
    const { envelopes } = await queue.list();
    const listMs = Date.now() - listStarted;
    const flushStarted = Date.now();
    await queue.flush();
    try {
      await sink.waitForMessages(DEEP, 600_000);
    } catch (err) {
      // Say why: the relay's exit (a crash, the heap limit) or its last words.
      console.error(`deep queue: ${sink.messages.length} of ${DEEP} delivered; the relay ${running.exitCode === null ? 'still runs' : `exited with ${running.exitCode}`};` +
        ` its output ended with:\n${running.output.slice(-4000)}`);
      throw err;
    } finally {
      peak.stop();
    }
    const drainSeconds = (Date.now() - flushStarted) / 1000;
    const mb = (n: number) => (n / 1024 / 1024).toFixed(0);
    console.log(`deep queue: ${DEEP} deferred messages (written in ${fillSeconds.toFixed(1)} s); restart greeted after ${greetMs} ms` +
      ` (process start included), queue read in ${loaded[2]} ms, RSS ${mb(rss)} MiB; queue list of ${envelopes.length} in ${listMs} ms;` +
      ` flush drained them to a sink at ${(DEEP / drainSeconds).toFixed(0)} msg/s, peak RSS from the list to the end ${mb(peak.max)} MiB`);
  } finally {
    await relay?.kill();
    await sink.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * What idle connections cost: a real `minimta serve` process, IDLE loopback
 * connections that got the greeting and said EHLO, then sit there; the
 * relay's RSS before and after, and per connection. The connection limits
 * are raised to let them all in.
 */
async function idleConnections(): Promise<void> {
  if (IDLE <= 0) return;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'minimta-bench-idle-'));
  const clients: WireClient[] = [];
  let relay: RelayProcess | undefined;
  try {
    const { relay: running, port } = await RelayProcess.start({
      hostname: 'bench.minimta.test',
      listen: [{ host: '127.0.0.1', port: 0, mode: 'relay' }],
      spool: path.join(dir, 'spool'),
      limits: { maxConnections: IDLE, maxConnectionsPerIp: IDLE },
      dns: { checkRecipients: false, checkSenders: false },
    }, path.join(dir, 'config.json'));
    relay = running;
    // One connection through the whole dialogue first, so code compiled on first use is not counted per connection.
    const warm = await WireClient.connect(port);
    await warm.reply();
    await warm.command('EHLO bench.test');
    warm.close();
    await running.waitFor(/disconnect from/, 10_000).catch(() => undefined);
    const before = await running.rss();
    const peak = sampleRss(running, before);
    const started = Date.now();
    // 50 at a time: a burst of 1 000 SYNs would overflow the listen backlog.
    for (let opened = 0; opened < IDLE;) {
      const batch = Math.min(50, IDLE - opened);
      clients.push(...await Promise.all(Array.from({ length: batch }, async () => {
        const client = await WireClient.connect(port);
        const greeting = await client.reply(30_000);
        if (greeting.code !== 220) throw new Error(`connection ${clients.length}: greeted with ${greeting.code}`);
        const ehlo = await client.command('EHLO bench.test');
        if (!ehlo.startsWith('250')) throw new Error(`connection ${clients.length}: EHLO answered ${ehlo}`);
        return client;
      })));
      opened += batch;
    }
    const openSeconds = (Date.now() - started) / 1000;
    // Settled: what the connections hold, not the garbage of opening them.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const after = await running.rss();
    peak.stop();
    const mb = (n: number) => (n / 1024 / 1024).toFixed(0);
    console.log(`idle connections: ${IDLE} greeted, EHLO said, idle (opened in ${openSeconds.toFixed(1)} s); relay RSS ${mb(before)} MiB before,` +
      ` ${mb(after)} MiB after (peak ${mb(peak.max)} MiB): ${mb(after - before)} MiB for them, ${((after - before) / IDLE / 1024).toFixed(1)} KiB each`);
  } finally {
    for (const client of clients) client.close();
    await relay?.kill();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The highest RSS of a relay process, sampled every 250 ms until stop(). */
function sampleRss(relay: RelayProcess, start: number): { readonly max: number; stop(): void } {
  let max = start;
  const timer = setInterval(() => void relay.rss().then((rss) => { max = Math.max(max, rss); }, () => undefined), 250);
  return { get max() { return max; }, stop: () => clearInterval(timer) };
}

console.log(`minimta bench on Node ${process.version}, ${os.cpus().length} CPUs`);
if (wanted('receive')) await burst();
if (wanted('large')) await bigMessage();
if (wanted('relay')) await delivery();
if (wanted('idle')) await idleConnections();
if (wanted('deep')) await deepQueue();
process.exit(0);

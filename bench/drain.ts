// The drain of a deep queue (issue 9), on its own: COUNT deferred messages
// (the next hop was down) in a spool, a real `minimta serve` process started
// on it with a smarthost at a port where nothing listens yet, then the next
// hop comes up and `queue flush` is asked; the time runs until the next hop
// has counted every message. Postfix drains the same queue into the same
// sink at 1 831 msg/s on the development machine (issue 9).
//
//   npm run bench:drain                            10 000 messages into Postfix's smtp-sink
//   npx tsx bench/drain.ts --sink test             into the test suite's sink (in this process)
//   npx tsx bench/drain.ts --cpu-prof DIR          the relay writes a V8 CPU profile into DIR
//   npx tsx bench/drain.ts --strace FILE           `strace -c -f` on the relay while it drains
//   npx tsx bench/drain.ts --perf FILE             `perf record -g` on the relay while it drains
//
// Needs Postfix's smtp-sink (Debian: apt-get install postfix) unless --sink test.
// On a shared machine, run one benchmark at a time: the figures are noisy.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { RelayProcess } from '../test/helpers/relay-process.js';
import { SmtpSink } from '../test/helpers/smtp-sink.js';
import { fillDeepQueue } from '../test/helpers/deep-queue.js';
import { RemoteQueue } from '../src/control/remote-queue.js';
import { controlSocketPath } from '../src/control/control-protocol.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    size: { type: 'string', default: '4096' },
    sink: { type: 'string', default: 'smtp-sink' },
    'cpu-prof': { type: 'string' },
    strace: { type: 'string' },
    perf: { type: 'string' },
    keep: { type: 'boolean', default: false },
    /** delivery.pollInterval of the relay, in seconds (its rescans of the spool). */
    poll: { type: 'string', default: '5' },
  },
});
const COUNT = Number(values.count);
const SINK_HOST = '127.0.0.2';

/** The next hop, counting the messages it took. */
interface CountingSink {
  readonly count: () => number;
  readonly sessions: () => number;
  readonly pid?: number;
  stop(): Promise<void>;
}

/** Postfix's smtp-sink: `-c` prints "sess=N quit=N mesg=N" after every session, QUIT and final dot. */
async function startSmtpSink(port: number): Promise<CountingSink> {
  // As root, smtp-sink must be told whose privileges to take after binding.
  const user = process.getuid?.() === 0 ? ['-u', 'postfix'] : [];
  const child: ChildProcess = spawn('smtp-sink', ['-c', ...user, '-h', 'sink.test', '-m', '1000', `${SINK_HOST}:${port}`, '1024'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  let errors = '';
  child.stdout!.on('data', (chunk: Buffer) => { tail = (tail + chunk.toString()).slice(-200); });
  child.stderr!.on('data', (chunk: Buffer) => { errors += chunk.toString(); });
  const last = (key: string): number => {
    const all = [...tail.matchAll(new RegExp(`${key}=(\\d+)`, 'g'))];
    return all.length > 0 ? Number(all.at(-1)![1]) : 0;
  };
  for (let i = 0; i < 100; i++) {
    if (await answers(port)) {
      return {
        count: () => last('mesg'),
        sessions: () => last('sess'),
        pid: child.pid,
        stop: async () => { child.kill('SIGTERM'); },
      };
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGTERM');
  throw new Error(`smtp-sink did not start on ${SINK_HOST}:${port}: ${errors}`);
}

async function startTestSink(port: number): Promise<CountingSink> {
  const sink = await SmtpSink.start({ host: SINK_HOST, port });
  return { count: () => sink.messages.length, sessions: () => Number.NaN, stop: () => sink.stop() };
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: SINK_HOST, port });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/** CPU time (user + system, every thread) a process has used so far, in ms (Linux: /proc/PID/stat). */
async function cpuMs(pid: number | undefined): Promise<number> {
  if (pid === undefined) return Number.NaN;
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of proc(5), utime and stime, in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** A port nobody listens on now (the next hop, down until it starts there). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, SINK_HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'minimta-drain-'));
const spool = path.join(dir, 'spool');
let relay: RelayProcess | undefined;
let sink: CountingSink | undefined;
let strace: ChildProcess | undefined;
try {
  await fillDeepQueue(spool, COUNT, { size: Number(values.size) });
  const port = await freePort();
  const nodeArgs = values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(values['cpu-prof'])] : [];
  ({ relay } = await RelayProcess.start({
    hostname: 'bench.minimta.test',
    listen: [{ host: '127.0.0.1', port: 0, mode: 'relay' }],
    spool,
    smarthost: { host: SINK_HOST, port, tls: 'none' },
    dns: { checkRecipients: false, checkSenders: false },
    delivery: { pollInterval: Number(values.poll) },
  }, path.join(dir, 'config.json'), nodeArgs));
  await relay.waitFor(/queue loaded: (\d+) message/, 120_000);
  sink = values.sink === 'test' ? await startTestSink(port) : await startSmtpSink(port);
  if (values.strace || values.perf) {
    strace = values.strace
      ? spawn('strace', ['-c', '-f', '-o', path.resolve(values.strace), '-p', String(relay.child.pid)], { stdio: 'ignore' })
      : spawn('perf', ['record', '-F', '999', '-g', '-o', path.resolve(values.perf!), '-p', String(relay.child.pid)], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 500)); // strace attaches every thread
  }
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  const relayCpu = await cpuMs(relay.child.pid);
  const sinkCpu = await cpuMs(sink.pid);
  const started = process.hrtime.bigint();
  await new RemoteQueue(controlSocketPath(spool), 60_000).flush();
  const deadline = Date.now() + 300_000;
  while (sink.count() < COUNT) {
    if (Date.now() > deadline) throw new Error(`the sink has ${sink.count()} of ${COUNT} after 300 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (strace) {
    strace.kill('SIGINT');
    await new Promise((r) => strace!.once('exit', r));
  }
  const relayCpuPerMessage = ((await cpuMs(relay.child.pid)) - relayCpu) * 1000 / COUNT;
  const sinkCpuPerMessage = ((await cpuMs(sink.pid)) - sinkCpu) * 1000 / COUNT;
  const sessions = sink.sessions();
  // Every message once: the relay logs one "removed" per message that left the queue.
  const count = (pattern: RegExp): number => relay!.output.match(pattern)?.length ?? 0;
  for (let waited = 0; count(/qmgr: \S+: removed/g) < COUNT && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 500)); // and nothing more after that
  const removed = count(/qmgr: \S+: removed/g);
  const sent = count(/status=sent/g);
  console.log(`drain: ${COUNT} deferred messages of ${values.size} B flushed into ${values.sink} in ${seconds.toFixed(2)} s` +
    ` = ${(COUNT / seconds).toFixed(0)} msg/s${Number.isNaN(sessions) ? '' : `, ${sessions} sessions`};` +
    ` CPU per message: relay ${relayCpuPerMessage.toFixed(0)} µs${Number.isNaN(sinkCpuPerMessage) ? '' : `, sink ${sinkCpuPerMessage.toFixed(0)} µs`};` +
    ` relay log: ${sent} sent, ${removed} removed${sent === COUNT ? '' : ' (NOT ONE EACH)'};` +
    ` load average ${load} at the flush, ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} at the end`);
} finally {
  strace?.kill('SIGINT');
  if (values['cpu-prof'] && relay) {
    relay.signal('SIGTERM'); // a clean exit writes the profile
    await relay.waitForExit(30_000).catch(() => relay!.kill());
  }
  await relay?.kill();
  await sink?.stop();
  if (!values.keep) await fs.rm(dir, { recursive: true, force: true });
}
process.exit(0);

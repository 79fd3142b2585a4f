import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

// Each program runs in a child process: the settings change V8's flags for the
// whole process. Each prints a space's largest size (MiB) while it allocates
// in slices, so that timers run between them, as they do in a relay.

/** Short-lived objects with some survivors: the young generation's size. */
const YOUNG = `
import v8 from 'node:v8';
import { capYoungGeneration } from './src/heap-tuning.ts';
if (process.argv[1] === 'tuned') capYoungGeneration(4);
// As in minimta serve: the cap is set at start, before the work comes.
await new Promise((resolve) => setTimeout(resolve, 200));
const kept = [];
for (let slice = 0; slice < 200; slice++) {
  for (let i = 0; i < 10_000; i++) { const o = { text: 'x'.repeat(40) + i, list: [i, i, i] }; if (i % 10 === 0) kept.push(o); }
  if (kept.length > 50_000) kept.splice(0, 25_000);
  await new Promise((resolve) => setTimeout(resolve, 10));
}
console.log(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576);
`;

/**
 * Objects that live long enough to reach the old generation, then die: the
 * old generation's largest size, over its live size at the end (after full
 * collections, hence --expose-gc for this child).
 */
const OLD = `
import v8 from 'node:v8';
import { tuneHeapForRelay } from './src/heap-tuning.ts';
if (process.argv[1] === 'tuned') tuneHeapForRelay();
const oldSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
let peak = 0;
let live = [];
for (let round = 0; round < 60; round++) {
  for (let i = 0; i < 20_000; i++) live.push({ text: 'y'.repeat(30) + i, pair: [i, i + 1] });
  if (live.length > 100_000) live = live.slice(50_000);
  await new Promise((resolve) => setImmediate(resolve));
  peak = Math.max(peak, oldSpace().space_size);
}
globalThis.gc();
globalThis.gc();
console.log(peak / oldSpace().space_used_size, live.length);
`;

/**
 * Quiet until the tuning turns marking off, then a burst of garbage in one
 * synchronous run (no timer can run in between); busy until it turns marking
 * on again, and the same burst; quiet until marking goes off and, keepMs
 * later, on again, and the same burst: which kind of full collection
 * (Mark-Compact in --trace-gc) V8 ran in each phase. The phases wait for the
 * setting they are about, not for a time; untuned, the same phases by time.
 */
const IDLE = `
import { keepCompiledCodeWhileIdle } from './src/heap-tuning.ts';
const tuning = process.argv[1] === 'tuned' ? keepCompiledCodeWhileIdle(50, 3000) : undefined;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const until = async (ok, what) => {
  const end = Date.now() + 30_000;
  while (!ok()) {
    if (Date.now() > end) { console.log('@@ timed out waiting for ' + what); process.exit(3); }
    await sleep(20);
  }
};
const churn = () => { let live = []; for (let i = 0; i < 4_000_000; i++) { live.push({ i, s: 'x' + i }); if (live.length > 300_000) live = []; } };
const work = async () => {
  const slice = Date.now() + 30;
  while (Date.now() < slice) { /* work */ }
  await new Promise((resolve) => setImmediate(resolve));
};
if (tuning) await until(() => !tuning.marking, 'marking off'); else await sleep(600);
console.log('@@ idle');
churn();
console.log('@@ working');
if (tuning) { while (!tuning.marking) await work(); } else { const end = Date.now() + 800; while (Date.now() < end) await work(); }
console.log('@@ busy');
churn();
console.log('@@ waiting');
if (tuning) { await until(() => !tuning.marking, 'marking off again'); await until(() => tuning.marking, 'marking on after keepMs'); } else await sleep(4000);
console.log('@@ quiet');
churn();
tuning?.stop();
`;

type Phase = 'idle' | 'busy' | 'quiet';

async function fullCollections(tuned: boolean): Promise<Record<Phase, { incremental: number; atomic: number }>> {
  const { stdout } = await run(process.execPath, ['--trace-gc', '--import', 'tsx', '--input-type=module', '-e', IDLE, tuned ? 'tuned' : 'default'], { cwd: ROOT });
  const counts = { idle: { incremental: 0, atomic: 0 }, busy: { incremental: 0, atomic: 0 }, quiet: { incremental: 0, atomic: 0 } };
  let phase: Phase | undefined;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('@@ ')) {
      const name = line.slice(3);
      phase = name === 'idle' || name === 'busy' || name === 'quiet' ? name : undefined;
    } else if (phase && line.includes('Mark-Compact')) counts[phase][line.includes('incremental') ? 'incremental' : 'atomic']++;
  }
  return counts;
}

async function measure(program: string, tuned: boolean, nodeFlags: string[] = []): Promise<number> {
  const { stdout } = await run(process.execPath, [...nodeFlags, '--import', 'tsx', '--input-type=module', '-e', program, tuned ? 'tuned' : 'default'], { cwd: ROOT });
  return Number(stdout.trim().split(' ')[0]);
}

describe('heap tuning (minimta serve)', function () {
  this.timeout(120_000);

  it('stops V8 growing the young generation past the cap, where it would grow without it', async () => {
    const [untuned, tuned] = await Promise.all([measure(YOUNG, false), measure(YOUNG, true)]);
    expect(untuned, 'V8 grows the space without the cap (else this test proves nothing)').to.be.above(8);
    expect(tuned).to.be.at.most(4);
  });

  it('lets the old generation grow to about twice its live size, where V8 lets it reach four to five times', async () => {
    // Peak over live size: about 2.4 tuned (twice the live size at the last
    // full collection, plus what was promoted since); 3.4 to 5 by V8's default
    // heuristics here, lower the busier the machine. Only the tuned side is
    // asserted, so a busy machine cannot make this fail.
    expect(await measure(OLD, true, ['--expose-gc'])).to.be.below(3.2);
  });

  it('turns incremental marking (and with it the memory reducer) off while idle, on again under work and after a long quiet', async () => {
    const [untuned, tuned] = await Promise.all([fullCollections(false), fullCollections(true)]);
    // The burst forces full collections; untuned, V8 marks incrementally in both phases.
    expect(untuned.idle.incremental, 'V8 marks incrementally by default (else this test proves nothing)').to.be.above(0);
    const seen = JSON.stringify(tuned);
    expect(tuned.idle.incremental, seen).to.equal(0);
    expect(tuned.idle.atomic, seen).to.be.above(0);
    expect(tuned.busy.incremental, seen).to.be.above(0);
    expect(tuned.quiet.incremental, seen).to.be.above(0);
  });
});

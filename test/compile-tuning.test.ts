// How soon V8 optimizes a relay's hot code (src/compile-tuning.ts). Each
// count comes from a child process (the setting is V8's, for the whole
// process), with optimization done at once rather than on a background
// thread, so the count is exact: how many calls a function created after the
// setting runs before V8 has optimized it.

import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

const CALLS_UNTIL_OPTIMIZED = `
import { optimizeHotCodeSooner } from './src/compile-tuning.ts';
if (process.argv[1] === 'tuned') optimizeHotCodeSooner();
// Created after the setting, as the relay's functions are (bin/minimta.js sets it before loading them).
const hot = new Function('n', 'let s = 0; for (let i = 0; i < n; i++) s += (i * 7) % 13; return s;');
// %GetOptimizationStatus: bit 16 is "optimized".
const optimized = new Function('f', 'return (%GetOptimizationStatus(f) & 16) !== 0;');
let calls = 0;
while (!optimized(hot) && calls < 100_000) { hot(20); calls++; }
console.log(calls);
`;

async function callsUntilOptimized(tuned: boolean): Promise<number> {
  const { stdout } = await run(process.execPath, [
    '--allow-natives-syntax', '--no-concurrent-recompilation', '--import', 'tsx', '--input-type=module',
    '-e', CALLS_UNTIL_OPTIMIZED, tuned ? 'tuned' : 'default',
  ], { cwd: ROOT });
  return Number(stdout.trim());
}

describe('compile tuning (minimta serve)', function () {
  this.timeout(60_000);

  it('has V8 optimize a hot function after a small fraction of the calls it needs by default', async () => {
    const [untuned, tuned] = await Promise.all([callsUntilOptimized(false), callsUntilOptimized(true)]);
    expect(untuned, 'V8 optimizes it by default too (else this test proves nothing)').to.be.within(50, 100_000 - 1);
    // 5 calls against 109 with V8 11.3 (Node 20): the budget is a 64th of the default.
    expect(tuned).to.be.below(untuned / 8);
  });
});

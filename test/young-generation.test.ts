import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

/**
 * Allocates short-lived objects with some survivors, in slices so timers run,
 * and prints the young generation's size (MiB). In a child process: the cap
 * changes a V8 flag for the whole process.
 */
const ALLOCATE = `
import v8 from 'node:v8';
import { capYoungGeneration } from './src/young-generation.ts';
if (process.argv[1] === 'cap') capYoungGeneration(4);
// As in minimta serve: the cap is set at start, before the work comes.
await new Promise((resolve) => setTimeout(resolve, 200));
const kept = [];
for (let slice = 0; slice < 200; slice++) {
  for (let i = 0; i < 10_000; i++) { const o = { text: 'x'.repeat(40) + i, list: [i, i, i] }; if (i % 10 === 0) kept.push(o); }
  if (kept.length > 50_000) kept.splice(0, 25_000);
  await new Promise((resolve) => setTimeout(resolve, 10));
}
const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
console.log(space.space_size / 1048576);
`;

async function youngGenerationMiB(cap: boolean): Promise<number> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', ALLOCATE, cap ? 'cap' : 'none'], { cwd: ROOT });
  return Number(stdout.trim());
}

describe('young generation cap (minimta serve)', function () {
  this.timeout(120_000);

  it('stops V8 growing the young generation past the cap, where it would grow without it', async () => {
    const [uncapped, capped] = await Promise.all([youngGenerationMiB(false), youngGenerationMiB(true)]);
    expect(uncapped, 'V8 grows the space without the cap (else this test proves nothing)').to.be.above(8);
    expect(capped).to.be.at.most(4);
  });
});

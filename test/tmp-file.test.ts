import { expect } from 'chai';
import { closeSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpareTmpFile, createTmpFile } from '../src/queue/spool/tmp-file.js';
import { isQueueId } from '../src/queue/spool/queue-id.js';
import { SpoolError } from '../src/queue/spool/spool-error.js';

describe('tmp files: one made ahead of time for the next message', () => {
  let dir: string;
  let now: number;
  const opened: number[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'minimta-tmpfile-'));
    now = Date.parse('2026-11-29T12:00:00Z');
  });

  afterEach(async () => {
    for (const fd of opened.splice(0)) closeSync(fd);
    await rm(dir, { recursive: true, force: true });
  });

  async function take(spare: SpareTmpFile): Promise<string> {
    const file = await spare.take();
    opened.push(file.fd);
    return file.id;
  }

  /** Waits (bounded) until tmp/ holds `count` files. */
  async function filesWhen(count: number): Promise<string[]> {
    for (let i = 0; i < 400; i++) {
      const names = (await readdir(dir)).sort();
      if (names.length === count) return names;
      await new Promise((resolve) => setImmediate(resolve));
    }
    throw new Error(`tmp/ never held ${count} files: ${(await readdir(dir)).join(', ')}`);
  }

  it('hands out a new file at once, and makes the spare that the next take() gets', async () => {
    const spare = new SpareTmpFile(dir, () => now);
    const first = await take(spare);
    expect(isQueueId(first)).to.equal(true);
    const [spareName] = (await filesWhen(2)).filter((name) => name !== first);
    expect(await take(spare), 'the spare made ahead of time').to.equal(spareName);
    await spare.close();
  });

  it('makes the next spare in the next turn of the event loop, after the caller has written its reply', async () => {
    let made = 0;
    // A spare's clock is read when it is made (its age counts from then).
    const spare = new SpareTmpFile(dir, () => { made++; return now; });
    const taking = spare.take();
    expect(made, 'nothing asked of the thread pool in this turn').to.equal(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(made).to.equal(1);
    opened.push((await taking).fd);
    await filesWhen(2);
    await spare.close();
  });

  it('does not use a spare older than a second (its id names the arrival time): it is removed and a new file made', async () => {
    const spare = new SpareTmpFile(dir, () => now);
    const first = await take(spare);
    const [stale] = (await filesWhen(2)).filter((name) => name !== first);
    now += 1500;
    const second = await take(spare);
    expect(second).to.not.equal(stale);
    await spare.close();
    expect((await readdir(dir)).sort(), 'the stale spare is gone').to.deep.equal([first, second].sort());
  });

  it('close() removes the spare, and no more are made', async () => {
    const spare = new SpareTmpFile(dir, () => now);
    const first = await take(spare);
    await filesWhen(2);
    await spare.close();
    expect(await readdir(dir)).to.deep.equal([first]);
    const after = await take(spare);
    expect((await readdir(dir)).sort()).to.deep.equal([first, after].sort());
  });

  it('reports a broken tmp/ as a SpoolError, spare or not', async () => {
    const spare = new SpareTmpFile(dir, () => now);
    await take(spare);
    await filesWhen(2);
    await rm(dir, { recursive: true });
    await writeFile(dir, 'not a directory');
    const outcome = (): Promise<unknown> => spare.take().then((file) => { opened.push(file.fd); return undefined; }, (e: unknown) => e);
    // The spare made before tmp/ broke may be handed out (its name is gone with the
    // directory, so its commit fails); the take() after it reports the problem.
    const again = (await outcome()) ?? await outcome();
    expect(again).to.be.instanceOf(SpoolError).with.property('code', 'ENOTDIR');
    await rm(dir, { force: true });
    const direct = await createTmpFile(dir).then(() => undefined, (e: unknown) => e);
    expect(direct).to.be.instanceOf(SpoolError).with.property('code', 'ENOENT');
  });
});

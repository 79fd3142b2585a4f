// The removal's unlinks, submitted to the thread pool once per turn of the
// event loop (src/queue/spool/unlink-batch.ts).

import { expect } from 'chai';
import fs from 'node:fs/promises';
import path from 'node:path';
import { makeTempDir } from './helpers/test-relay.js';
import { unlinkInBatch } from '../src/queue/spool/unlink-batch.js';

describe('unlinkInBatch', () => {
  let dir: string;
  beforeEach(async () => { dir = await makeTempDir(); });
  afterEach(async () => { await fs.rm(dir, { recursive: true, force: true }); });

  it('unlinks every file asked for in one turn, each promise settling on its own', async () => {
    const names = Array.from({ length: 50 }, (_, i) => `m${i}`);
    for (const name of names) await fs.writeFile(path.join(dir, name), 'x');
    const results = await Promise.allSettled([...names, 'missing'].map((name) => unlinkInBatch(path.join(dir, name))));

    expect(await fs.readdir(dir), 'every file gone').to.deep.equal([]);
    expect(results.slice(0, names.length).every((r) => r.status === 'fulfilled')).to.equal(true);
    const missing = results.at(-1)!;
    expect(missing.status === 'rejected' && (missing.reason as NodeJS.ErrnoException).code, 'a missing file is ENOENT').to.equal('ENOENT');
  });

  it('takes unlinks asked for after a batch went out in the next one', async () => {
    await fs.writeFile(path.join(dir, 'first'), 'x');
    await fs.writeFile(path.join(dir, 'second'), 'x');
    await unlinkInBatch(path.join(dir, 'first'));
    await unlinkInBatch(path.join(dir, 'second'));
    expect(await fs.readdir(dir)).to.deep.equal([]);
  });
});

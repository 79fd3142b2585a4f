import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

/**
 * bin/minimta.js in a clone: the compiled dist/ when it was built after the
 * last change to src/, the TypeScript sources through tsx otherwise, so an
 * edit is never hidden behind an old build. A copy of the real bin/minimta.js
 * runs against stand-in entry points that say which one ran.
 */
describe('bin/minimta.js: compiled or from the sources', function () {
  this.timeout(60_000);
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'minimta-bin-'));
    await cp(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'bin-check', type: 'module' }));
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    await mkdir(join(dir, 'src', 'cli'), { recursive: true });
    await writeFile(join(dir, 'src', 'main.ts'), "const from: string = 'sources';\nconsole.log(from);\n");
    await writeFile(join(dir, 'src', 'cli', 'part.ts'), 'export {};\n');
    await mkdir(join(dir, 'dist'));
    await writeFile(join(dir, 'dist', 'main.js'), "console.log('compiled');\n");
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function whichRuns(): Promise<string> {
    const { stdout } = await run(process.execPath, [join(dir, 'bin', 'minimta.js')], { cwd: dir });
    return stdout.trim();
  }

  it('runs dist/ when it is newer than every source file', async () => {
    const past = new Date(Date.now() - 60_000);
    await utimes(join(dir, 'src', 'main.ts'), past, past);
    await utimes(join(dir, 'src', 'cli', 'part.ts'), past, past);
    expect(await whichRuns()).to.equal('compiled');
  });

  it('runs the sources when a file under src/ changed after the build', async () => {
    const future = new Date(Date.now() + 60_000);
    await utimes(join(dir, 'src', 'cli', 'part.ts'), future, future);
    expect(await whichRuns()).to.equal('sources');
  });

  it('runs the sources when there is no dist/', async () => {
    await rm(join(dir, 'dist'), { recursive: true });
    expect(await whichRuns()).to.equal('sources');
  });
});

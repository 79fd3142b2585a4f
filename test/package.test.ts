import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { WireClient } from './helpers/wire-client.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);
/** What `npm pack` reads; node_modules is linked so the prepack build finds tsc. */
const PACKAGE_SOURCES = ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'bin', 'src', 'web'];

/**
 * The package as a user gets it: `npm pack` (which builds dist/ with tsc),
 * installed from the tarball into an empty project with no network, then
 * run with none of our dev dependencies present.
 */
describe('the npm package: pack, install offline, run', function () {
  this.timeout(240_000);
  let tmp: string;
  let app: string;
  const npm = (args: string[], cwd: string) => run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, timeout: 180_000 });

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'minimta-pack-'));
    const source = path.join(tmp, 'source');
    await fs.mkdir(source);
    for (const name of PACKAGE_SOURCES) {
      await fs.cp(path.join(ROOT, name), path.join(source, name), { recursive: true }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    }
    await fs.symlink(path.join(ROOT, 'node_modules'), path.join(source, 'node_modules'));
    const { stdout } = await npm(['pack', '--pack-destination', tmp], source);
    const tarball = path.join(tmp, stdout.trim().split('\n').pop()!);
    app = path.join(tmp, 'app');
    await fs.mkdir(app);
    await fs.writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    await npm(['install', '--offline', tarball], app);
  });
  after(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('installs compiled JavaScript with its types, and none of the dev dependencies', async () => {
    const installed = path.join(app, 'node_modules');
    expect((await fs.readdir(installed)).filter((name) => !name.startsWith('.'))).to.deep.equal(['minimta']);
    const files = await fs.readdir(path.join(installed, 'minimta', 'dist'));
    expect(files).to.include.members(['main.js', 'index.js', 'index.d.ts']);
    expect(await fs.readdir(path.join(installed, 'minimta'))).to.not.include('src');
  });

  it('npx minimta --version prints the version', async () => {
    const { stdout } = await run('npx', ['--offline', 'minimta', '--version'], { cwd: app, timeout: 30_000 });
    const { version } = JSON.parse(await fs.readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(stdout).to.equal(`minimta ${version}\n`);
  });

  it('npx minimta serve greets on the port it chose', async () => {
    const child = spawn('npx', ['--offline', 'minimta', 'serve', '--listen', '127.0.0.1:0', '--mode', 'capture', '--spool', path.join(tmp, 'spool')], {
      cwd: app, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let output = '';
        const timer = setTimeout(() => reject(new Error(`no listening line in 30 s:\n${output}`)), 30_000);
        const onData = (chunk: Buffer) => {
          output += chunk.toString();
          const m = /listening on 127\.0\.0\.1:(\d+)/.exec(output);
          if (m) { clearTimeout(timer); resolve(Number(m[1])); }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited with ${code}:\n${output}`)); });
      });
      const client = await WireClient.connect(port);
      expect((await client.reply()).code).to.equal(220);
      client.close();
    } finally {
      // npx runs the command as its child: the whole process group goes.
      process.kill(-child.pid!, 'SIGTERM');
    }
  });

  it("README's mocha example passes against the installed package", async () => {
    const readme = await fs.readFile(path.join(ROOT, 'README.md'), 'utf8');
    const example = /```js\n(\/\/ test\/signup\.test\.mjs\n[\s\S]*?)```/.exec(readme)![1]!;
    await fs.mkdir(path.join(app, 'test'), { recursive: true });
    await fs.writeFile(path.join(app, 'test', 'signup.test.mjs'), example);
    // nodemailer is the reader's own dependency; a stand-in with its createTransport/sendMail speaks plain SMTP here.
    await fs.mkdir(path.join(app, 'node_modules', 'nodemailer'), { recursive: true });
    await fs.writeFile(path.join(app, 'node_modules', 'nodemailer', 'package.json'), JSON.stringify({ name: 'nodemailer', main: 'index.js' }));
    await fs.writeFile(path.join(app, 'node_modules', 'nodemailer', 'index.js'), NODEMAILER_STAND_IN);
    const mocha = path.join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js');
    const { stdout } = await run(process.execPath, [mocha, '--no-config', '--timeout', '20000', '--exit', 'test/signup.test.mjs'], { cwd: app, timeout: 60_000 });
    expect(stdout).to.match(/1 passing/);
  });

  it('import { startMinimta } from "minimta" works from plain JavaScript and type-checks from TypeScript', async () => {
    const script = [
      "import { startMinimta } from 'minimta';",
      "import { startMinimta as fromTesting } from 'minimta/testing';",
      'const minimta = await startMinimta();',
      "if (fromTesting !== startMinimta) throw new Error('two different entries');",
      "const { connect } = await import('node:net');",
      "const greeting = await new Promise((resolve) => connect(minimta.port, '127.0.0.1').once('data', (d) => resolve(String(d))));",
      'await minimta.close();',
      'console.log(greeting.slice(0, 3));',
      'process.exit(0);',
    ].join('\n');
    await fs.writeFile(path.join(app, 'check.mjs'), script);
    const { stdout } = await run(process.execPath, ['check.mjs'], { cwd: app, timeout: 30_000 });
    expect(stdout).to.equal('220\n');

    await fs.writeFile(path.join(app, 'check.ts'), [
      "import { startMinimta, type Minimta, type MessageDetail } from 'minimta';",
      'const minimta: Minimta = await startMinimta({ mode: "capture" });',
      'const message: MessageDetail = await minimta.waitForMessage({ to: "x@" }, 100);',
      'const subject: string | undefined = message.subject;',
      'export { subject };',
    ].join('\n'));
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--target', 'es2022',
      '--typeRoots', path.join(ROOT, 'node_modules', '@types'), '--types', 'node', 'check.ts'], { cwd: app, timeout: 60_000 })
      .catch((err: { stdout: string }) => ({ stdout: err.stdout, failed: true }));
    expect(result.stdout).to.equal('');
  });
});

/** Just enough of nodemailer for README's example: one message over SMTP, each reply awaited. */
const NODEMAILER_STAND_IN = `
const net = require('node:net');
exports.createTransport = ({ host, port }) => ({
  sendMail: ({ from, to, subject, html }) => new Promise((resolve, reject) => {
    const socket = net.connect(port, host);
    const lines = ['EHLO app.test', 'MAIL FROM:<' + from + '>', 'RCPT TO:<' + to + '>', 'DATA',
      'From: ' + from + '\\r\\nTo: ' + to + '\\r\\nSubject: ' + subject + '\\r\\nContent-Type: text/html; charset=utf-8\\r\\n\\r\\n' + html + '\\r\\n.', 'QUIT'];
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk;
      while (/^\\d{3} .*\\r\\n/m.test(buffer)) {
        const reply = /^(\\d{3}) .*\\r\\n/m.exec(buffer);
        buffer = buffer.slice(reply.index + reply[0].length);
        if (reply[1][0] === '4' || reply[1][0] === '5') return reject(new Error(reply[0]));
        const next = lines.shift();
        if (next === undefined) { socket.end(); return resolve({}); }
        socket.write(next + '\\r\\n');
      }
    });
    socket.on('error', reject);
  }),
});
`;

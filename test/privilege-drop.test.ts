// Started as root, `minimta serve` with `user` set binds its listeners, then
// becomes that user before it opens the spool (issue 14). These tests run as
// root and start real processes with user "nobody".

import { expect } from 'chai';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RelayProcess } from './helpers/relay-process.js';
import { WireClient } from './helpers/wire-client.js';
import { makeTempDir } from './helpers/test-relay.js';
import { runCli } from './helpers/cli-io.js';
import { lookupUser } from '../src/privileges.js';
import { PROCESS_TEST_TIMEOUT_MS } from './helpers/process-timeouts.js';

const NOBODY = lookupUser('nobody');

/** The real, effective, saved and file-system ids of a process, from /proc. */
async function processIds(pid: number): Promise<{ uids: number[]; gids: number[]; groups: number[] }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => (/^(\w+):\t(.*)$/m.exec(status.split('\n').find((l) => l.startsWith(`${name}:`)) ?? '')?.[2] ?? '')
    .trim().split(/\s+/).filter((v) => v !== '').map(Number);
  return { uids: field('Uid'), gids: field('Gid'), groups: field('Groups') };
}

describe('privilege drop: user and group (issue 14)', function () {
  this.timeout(PROCESS_TEST_TIMEOUT_MS);
  let dir: string;
  let relay: RelayProcess | undefined;
  beforeEach(async () => {
    dir = await makeTempDir();
    // The user must be able to reach its spool inside the test directory.
    await chmod(dir, 0o755);
  });
  afterEach(async () => {
    await relay?.kill();
    relay = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  function config(extra: object = {}) {
    return {
      hostname: 'mx.minimta.test',
      listen: [{ host: '127.0.0.1', port: 0, mode: 'capture' }],
      spool: path.join(dir, 'spool'),
      user: 'nobody',
      ...extra,
    };
  }

  it('runs as the user after binding, creates the spool for it, and writes every spool file as that user', async () => {
    const started = await RelayProcess.start(config(), path.join(dir, 'config.json'));
    relay = started.relay;
    await relay.waitFor(/running as user nobody/);
    // Bound as root first, then switched, then the spool.
    expect(relay.output.indexOf('listening on')).to.be.lessThan(relay.output.indexOf('running as user nobody'));
    const ids = await processIds(relay.child.pid!);
    expect(ids.uids).to.deep.equal([NOBODY.uid, NOBODY.uid, NOBODY.uid, NOBODY.uid]);
    expect(ids.gids).to.deep.equal([NOBODY.gid, NOBODY.gid, NOBODY.gid, NOBODY.gid]);
    expect(ids.groups).to.not.include(0);

    const client = await WireClient.connect(started.port);
    await client.reply();
    await client.command('EHLO c.test');
    const reply = await client.sendMail('a@src.test', ['b@dest.test'], 'Subject: x\r\n\r\nbody\r\n');
    client.close();
    expect(reply.code).to.equal(250);
    const id = /queued as (\S+)/.exec(reply.lines[0]!)![1]!;
    const spool = path.join(dir, 'spool');
    for (const file of ['', 'queue', 'tmp', 'state', `queue/${id}`, 'control.sock']) {
      const s = await stat(path.join(spool, file));
      expect([s.uid, s.gid], file || 'spool').to.deep.equal([NOBODY.uid, NOBODY.gid]);
    }
  });

  it('queue commands run as root become the user too, and see the relay\'s queue', async () => {
    const started = await RelayProcess.start(config(), path.join(dir, 'config.json'));
    relay = started.relay;
    const result = await runCli(['queue', 'list', '--config', path.join(dir, 'config.json')]);
    expect(result.stderr).to.equal('');
    expect(result.code).to.equal(0);
    expect(result.stdout).to.include('Mail queue is empty');
  });

  it('refuses to start, and never serves as root, when the switch fails', async () => {
    await mkdir(path.join(dir, 'spool'));
    const bad = config({ group: 'no-such-group-minimta' });
    const result = await runCli(['serve', '--config', await writeConfig(bad)]);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.include('minimta: cannot switch to user "nobody" and group "no-such-group-minimta"');
    expect(result.stderr).to.include('refusing to run as uid 0');
    expect(result.stdout).to.not.include('minimta started');
  });

  it('refuses a user this system does not know', async () => {
    const result = await runCli(['serve', '--config', await writeConfig(config({ user: 'no-such-user-minimta' }))]);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.include('user "no-such-user-minimta" is not known to this system');
    expect(result.stdout).to.not.include('minimta started');
  });

  it('refuses an existing spool that still belongs to root, naming it', async () => {
    await mkdir(path.join(dir, 'spool'), { mode: 0o700 });
    const result = await runCli(['serve', '--config', await writeConfig(config())]);
    expect(result.code).to.equal(2);
    expect(result.stderr).to.include(`refusing the spool: ${path.join(dir, 'spool')} is owned by uid 0, not by uid ${NOBODY.uid}`);
  });

  async function writeConfig(value: object): Promise<string> {
    const file = path.join(dir, 'config.json');
    await writeFile(file, JSON.stringify(value));
    return file;
  }
});

// docs/minimta.service: the unit README tells operators to install.

import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const UNIT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'minimta.service');

/** Every "Key=value" line of the unit, by key. */
function directives(text: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) found.set(m[1]!, [...(found.get(m[1]!) ?? []), m[2]!]);
  }
  return found;
}

describe('docs/minimta.service (issue 14)', () => {
  const text = readFileSync(UNIT, 'utf8');
  const unit = directives(text);

  it('runs minimta serve as a simple service with SIGHUP for reload and SIGTERM for stop', () => {
    expect(unit.get('Type')).to.deep.equal(['simple']);
    expect(unit.get('ExecStart')![0]).to.match(/ serve --config \S+$/);
    expect(unit.get('ExecReload')).to.deep.equal(['/bin/kill -HUP $MAINPID']);
    expect(unit.get('KillSignal')).to.deep.equal(['SIGTERM']);
  });

  it('keeps the hardening options, with binding below 1024 the only capability', () => {
    for (const [key, value] of [
      ['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['PrivateTmp', 'yes'], ['ProtectHome', 'yes'],
      ['CapabilityBoundingSet', 'CAP_NET_BIND_SERVICE'], ['AmbientCapabilities', 'CAP_NET_BIND_SERVICE'],
      ['User', 'minimta'], ['StateDirectoryMode', '0700'],
    ]) {
      expect(unit.get(key!), key).to.deep.equal([value]);
    }
  });

  it('is a unit systemd-analyze accepts without a warning', async function () {
    const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
    expect(probe.status, 'systemd-analyze is missing: install the Debian package systemd (apt-get install -y systemd)').to.equal(0);
    const dir = await mkdtemp(path.join(tmpdir(), 'minimta-unit-'));
    try {
      // verify wants ExecStart's program to exist.
      const copy = path.join(dir, 'minimta.service');
      writeFileSync(copy, text.replace(/^ExecStart=\S+/m, 'ExecStart=/bin/true'));
      const result = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8', timeout: 20_000 });
      expect(result.stderr).to.equal('');
      expect(result.status).to.equal(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

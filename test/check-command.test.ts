// `minimta check`: one line per finding, exit 1 on any error (issue 14).
// Real files, a real spool with real owners and modes, a real DNS server.

import { expect } from 'chai';
import dgram from 'node:dgram';
import { chmod, chown, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { captureIo } from './helpers/cli-io.js';
import { TestDnsServer } from './helpers/dns-server.js';
import { makeTempDir } from './helpers/test-relay.js';
import { STS_HOSTS_TLS, TEST_TLS } from './helpers/tls-fixtures.js';
import { checkCommand } from '../src/cli/check-command.js';
import { Spool } from '../src/queue/spool/spool.js';

const OTHER_UID = 65534;

describe('minimta check (issue 14)', () => {
  let dir: string;
  let spoolDir: string;
  let dns: TestDnsServer;
  beforeEach(async () => {
    dir = await makeTempDir();
    spoolDir = join(dir, 'spool');
    await Spool.open(spoolDir);
    dns = await TestDnsServer.start({ 'mx.minimta.test': { a: ['127.0.0.1'] } });
  });
  afterEach(async () => {
    await dns.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function goodConfig(): Record<string, unknown> {
    return {
      hostname: 'mx.minimta.test',
      spool: spoolDir,
      tls: TEST_TLS,
      listen: [{ host: '127.0.0.1', port: 2525, mode: 'relay', tls: 'starttls' }],
      dns: { servers: [dns.address], timeout: 0.5 },
    };
  }

  async function check(config: Record<string, unknown>, now?: Date) {
    const file = join(dir, 'config.json');
    await writeFile(file, JSON.stringify(config));
    const captured = captureIo('', now ? { now: () => now } : {});
    const code = await checkCommand(['--config', file], captured.io);
    const lines = captured.stdout().split('\n').filter((l) => l !== '');
    return { code, lines, stderr: captured.stderr(), errors: lines.filter((l) => l.startsWith('error: ')) };
  }

  it('passes a good config: one ok line per thing checked, exit 0', async () => {
    const { code, lines, errors } = await check(goodConfig());
    expect(errors).to.deep.equal([]);
    expect(code).to.equal(0);
    expect(lines[0]).to.match(/^ok: config: .*config\.json is valid$/);
    expect(lines).to.include.members([`ok: spool: ${spoolDir} belongs to uid 0 alone`, `ok: dns ${dns.address}: answers (MX of mx.minimta.test: none)`]);
    expect(lines.some((l) => /^ok: tls: .* and its key match, cover mx\.minimta\.test, valid until \d{4}-/.test(l))).to.equal(true);
    expect(lines.at(-1)).to.equal('minimta check: 0 errors, 0 warnings');
  });

  it('reports a config that does not load as a config error (exit 2)', async () => {
    const { code, stderr } = await check({ ...goodConfig(), spooll: '/x' });
    expect(code).to.equal(2);
    expect(stderr).to.match(/^minimta: config: spooll: /);
  });

  describe('TLS', () => {
    it('finds a key that is not the certificate\'s', async () => {
      const { code, errors } = await check({ ...goodConfig(), tls: { cert: TEST_TLS.cert, key: STS_HOSTS_TLS.key } });
      expect(code).to.equal(1);
      expect(errors).to.deep.equal([`error: tls.key: ${STS_HOSTS_TLS.key} is not the key of the certificate ${TEST_TLS.cert}`]);
    });

    it('finds an expired certificate, and one not yet valid', async () => {
      const expired = await check(goodConfig(), new Date('2200-01-01T00:00:00Z'));
      expect(expired.code).to.equal(1);
      expect(expired.errors).to.have.length(1);
      expect(expired.errors[0]).to.match(new RegExp(`^error: tls.cert: ${TEST_TLS.cert} expired on \\d{4}-`));
      const early = await check(goodConfig(), new Date('2000-01-01T00:00:00Z'));
      expect(early.errors[0]).to.match(/is not valid before \d{4}-/);
    });

    it('finds a certificate that does not name the host name', async () => {
      const { code, errors } = await check({ ...goodConfig(), hostname: 'mail.other.example' });
      expect(code).to.equal(1);
      expect(errors).to.have.length(1);
      expect(errors[0]).to.include('does not cover the host name mail.other.example (it names: DNS:localhost');
    });

    it('finds a key that cannot be read, and a certificate that is not one', async () => {
      const notPem = join(dir, 'cert.pem');
      await writeFile(notPem, 'hello');
      await mkdir(join(dir, 'key.pem'));
      const { code, errors } = await check({ ...goodConfig(), tls: { cert: TEST_TLS.cert, key: join(dir, 'key.pem') } });
      expect(code).to.equal(1);
      expect(errors).to.deep.equal([`error: tls.key: cannot read ${join(dir, 'key.pem')}: EISDIR: illegal operation on a directory, read`]);
      const bad = await check({ ...goodConfig(), tls: { cert: notPem, key: TEST_TLS.key } });
      expect(bad.errors[0]).to.match(new RegExp(`^error: tls.cert: ${notPem} is not a PEM certificate`));
    });
  });

  describe('spool', () => {
    it('finds a spool owned by another user', async () => {
      await chown(spoolDir, OTHER_UID, OTHER_UID);
      const { code, errors } = await check(goodConfig());
      expect(code).to.equal(1);
      expect(errors).to.deep.equal([`error: spool: ${spoolDir} is owned by uid ${OTHER_UID}, not by uid 0 that minimta runs as`]);
    });

    it('finds every bad entry deep in it: a link, a file others may write, a foreign directory; warns of readable ones', async () => {
      await symlink('/etc/passwd', join(spoolDir, 'queue', '0MX0OWGKC01M3M'));
      await writeFile(join(spoolDir, 'state', '0MX0OWGKC01M3N'), '{}', { mode: 0o600 });
      await chmod(join(spoolDir, 'state', '0MX0OWGKC01M3N'), 0o622);
      await writeFile(join(spoolDir, 'state', '0MX0OWGKC01M3P'), '{}', { mode: 0o600 });
      await chmod(join(spoolDir, 'state', '0MX0OWGKC01M3P'), 0o644);
      await mkdir(join(spoolDir, 'tmp', 'x'), { mode: 0o700 });
      await chown(join(spoolDir, 'tmp', 'x'), OTHER_UID, OTHER_UID);
      const { code, errors, lines } = await check(goodConfig());
      expect(code).to.equal(1);
      expect(errors).to.deep.equal([
        `error: spool: ${join(spoolDir, 'queue', '0MX0OWGKC01M3M')} is a symbolic link`,
        `error: spool: ${join(spoolDir, 'state', '0MX0OWGKC01M3N')} is writable by group or others (mode 0622)`,
        `error: spool: ${join(spoolDir, 'tmp', 'x')} is owned by uid ${OTHER_UID}, not by uid 0 that minimta runs as`,
      ]);
      expect(lines).to.include(`warning: spool: ${join(spoolDir, 'state', '0MX0OWGKC01M3P')} can be read by group or others (mode 0644); queued mail is private`);
    });

    it('warns of old-layout messages the relay could not convert, left in upgrade/', async () => {
      for (const id of ['0MX0OWGKC01M3M', '0MX0OWGKC01M3N']) await mkdir(join(spoolDir, 'upgrade', id), { recursive: true, mode: 0o700 });
      await chmod(join(spoolDir, 'upgrade'), 0o700);
      const { code, lines } = await check(goodConfig());
      expect(code, 'a warning, not an error').to.equal(0);
      expect(lines).to.include(`warning: spool: 2 message(s) of the previous release's layout could not be converted and are not delivered: ${join(spoolDir, 'upgrade')}/ (0MX0OWGKC01M3M, 0MX0OWGKC01M3N); the relay's log says why`);
      expect(lines.at(-1)).to.equal('minimta check: 0 errors, 1 warning');
    });

    it('checks the spool for the configured user, who must exist', async () => {
      const forNobody = await check({ ...goodConfig(), user: 'nobody' });
      expect(forNobody.lines).to.include('ok: user: nobody (uid 65534, gid 65534)');
      expect(forNobody.errors).to.deep.equal([`error: spool: ${spoolDir} is owned by uid 0, not by uid 65534 that minimta runs as`]);
      const unknown = await check({ ...goodConfig(), user: 'no-such-user-minimta' });
      expect(unknown.code).to.equal(1);
      expect(unknown.errors).to.deep.equal(['error: user: user "no-such-user-minimta" is not known to this system']);
    });
  });

  describe('DNS', () => {
    it('finds a DNS server that does not answer', async () => {
      // A UDP port nobody listens on any more.
      const socket = dgram.createSocket('udp4');
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
      const dead = `127.0.0.1:${socket.address().port}`;
      await new Promise<void>((resolve) => socket.close(() => resolve()));
      const { code, errors, lines } = await check({ ...goodConfig(), dns: { servers: [dns.address, dead], timeout: 0.3 } });
      expect(code).to.equal(1);
      expect(lines).to.include(`ok: dns ${dns.address}: answers (MX of mx.minimta.test: none)`);
      expect(errors).to.have.length(1);
      expect(errors[0]).to.match(new RegExp(`^error: dns ${dead}: does not answer \\((ETIMEOUT|ECONNREFUSED)\\)$`));
    });

    it('warns of a server that answers SERVFAIL', async () => {
      await dns.stop();
      dns = await TestDnsServer.start({ 'mx.minimta.test': { rcode: 'SERVFAIL' } });
      const { code, lines } = await check({ ...goodConfig(), dns: { servers: [dns.address], timeout: 0.5 } });
      expect(code).to.equal(0);
      expect(lines).to.include(`warning: dns ${dns.address}: answers SERVFAIL for the MX of mx.minimta.test`);
    });
  });
});

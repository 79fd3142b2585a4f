import { expect } from 'chai';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureIo } from './helpers/cli-io.js';
import { TestDnsServer } from './helpers/dns-server.js';
import { dkimCommand } from '../src/cli/dkim-command.js';
import { validateConfig } from '../src/config.js';
import { testKeyPems } from './helpers/dkim-keys.js';

/** The TXT text from keygen's zone-file line: its quoted strings joined (RFC 1035 §5.1). */
function publishedText(stdout: string): { name: string; text: string } {
  const line = stdout.split('\n').find((l) => l.includes(' IN TXT '))!;
  const name = line.slice(0, line.indexOf('. IN TXT'));
  const text = [...line.matchAll(/"([^"]*)"/g)].map((m) => m[1]).join('');
  return { name, text };
}

describe('minimta dkim keygen / check', function () {
  this.timeout(20_000);
  let dir: string;
  let dns: TestDnsServer;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'minimta-dkim-cli-'));
    dns = await TestDnsServer.start();
  });
  afterEach(async () => {
    await dns.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function run(...args: string[]) {
    const captured = captureIo();
    const code = await dkimCommand(args, captured.io);
    return { code, stdout: captured.stdout(), stderr: captured.stderr() };
  }

  function configFile(domain: string, selector: string, key: string): string {
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ dns: { servers: [dns.address], timeout: 0.5 }, dkim: { domains: { [domain]: { selector, key } } } }));
    return file;
  }

  for (const algorithm of ['rsa', 'ed25519']) {
    it(`keygen --algorithm ${algorithm} writes a 0600 key and prints a record that check accepts from DNS`, async () => {
      const keyFile = join(dir, 'key.pem');
      const made = await run('keygen', 'Example.ORG', 'mail2026', '--algorithm', algorithm, '--out', keyFile);
      expect(made.code).to.equal(0);
      expect(statSync(keyFile).mode & 0o777).to.equal(0o600);
      const { name, text } = publishedText(made.stdout);
      expect(name).to.equal('mail2026._domainkey.example.org');
      expect(text).to.match(new RegExp(`^v=DKIM1; k=${algorithm}; p=[A-Za-z0-9+/=]+$`));
      // The printed config entry is one a config file can take as it is.
      const entry = JSON.parse(made.stdout.split('\n').find((l) => l.trim().startsWith('{"dkim"'))!) as { dkim: unknown };
      expect(validateConfig(entry).dkim?.domains['example.org']?.[0]?.algorithm).to.equal(`${algorithm}-sha256`);

      const config = configFile('example.org', 'mail2026', keyFile);
      const missing = await run('check', 'example.org', 'mail2026', '--config', config);
      expect(missing.code).to.equal(1);
      expect(missing.stdout).to.include('mail2026._domainkey.example.org: no DKIM key record; publish:');

      dns.setZone(name, { txt: [text] });
      const found = await run('check', 'example.org', 'mail2026', '--config', config);
      expect(found.stdout).to.equal(`mail2026._domainkey.example.org: matches ${keyFile} (${algorithm})\n`);
      expect(found.code).to.equal(0);
    });
  }

  it('keygen never overwrites an existing key file', async () => {
    const keyFile = join(dir, 'key.pem');
    writeFileSync(keyFile, 'precious');
    const result = await run('keygen', 'example.org', 'sel', '--algorithm', 'ed25519', '--out', keyFile);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.match(/cannot write .*key\.pem: EEXIST/);
  });

  it('check says when the published key is another one, or revoked', async () => {
    const keyFile = join(dir, 'key.pem');
    writeFileSync(keyFile, testKeyPems().ed25519Pem);
    const config = configFile('example.org', 'sel', keyFile);
    dns.setZone('sel._domainkey.example.org', { txt: ['v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo='] });
    const other = await run('check', 'example.org', 'sel', '--config', config);
    expect(other.code).to.equal(1);
    expect(other.stdout).to.include('sel._domainkey.example.org: does NOT match');
    dns.setZone('sel._domainkey.example.org', { txt: ['v=DKIM1; k=ed25519; p='] });
    const revoked = await run('check', 'example.org', 'sel', '--config', config);
    expect(revoked.code).to.equal(1);
    expect(revoked.stdout).to.include('revoked');
  });

  it('check exits 1 when DNS fails for now, and 2 without a key to compare', async () => {
    const keyFile = join(dir, 'key.pem');
    writeFileSync(keyFile, testKeyPems().ed25519Pem);
    dns.setZone('sel._domainkey.example.org', { rcode: 'SERVFAIL' });
    const failed = await run('check', 'example.org', 'sel', '--config', configFile('example.org', 'sel', keyFile));
    expect(failed.code).to.equal(1);
    expect(failed.stderr).to.match(/DNS failed for now \(ESERVFAIL\)/);
    const noKey = await run('check', 'example.net', 'sel', '--dns-server', dns.address);
    expect(noKey.code).to.equal(2);
    expect(noKey.stderr).to.include('no key for example.net with selector sel');
  });
});

describe('config: dkim.domains', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'minimta-dkim-config-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function keyFile(name: string, pem: string): string {
    const file = join(dir, name);
    writeFileSync(file, pem);
    return file;
  }

  it('takes one key or a list per domain, lower-cases the domain and tells the algorithm from the key', () => {
    const rsa = keyFile('rsa.pem', testKeyPems().rsaPem);
    const ed = keyFile('ed.pem', testKeyPems().ed25519Pem);
    const config = validateConfig({ dkim: { domains: {
      'Example.ORG': [{ selector: 'r', key: rsa }, { selector: 'e', key: ed, algorithm: 'ed25519-sha256' }],
      'example.net': { selector: 'mail', key: ed, algorithm: 'ed25519' },
    } } });
    expect(config.dkim!.domains).to.deep.equal({
      'example.org': [{ selector: 'r', key: rsa, algorithm: 'rsa-sha256' }, { selector: 'e', key: ed, algorithm: 'ed25519-sha256' }],
      'example.net': [{ selector: 'mail', key: ed, algorithm: 'ed25519-sha256' }],
    });
  });

  it('refuses bad entries with the key named', () => {
    const ed = keyFile('ed.pem', testKeyPems().ed25519Pem);
    const notKey = keyFile('junk.pem', 'not a key');
    const cases: Array<[unknown, RegExp]> = [
      [{ 'example.org': { selector: 'e', key: join(dir, 'missing.pem') } }, /^config: dkim\.domains\.example\.org\.key: cannot read/],
      [{ 'example.org': { selector: 'e', key: notKey } }, /^config: dkim\.domains\.example\.org\.key: ".*junk\.pem": not a PEM private key/],
      [{ 'example.org': { selector: 'e', key: ed, algorithm: 'rsa-sha256' } }, /algorithm: is rsa-sha256, but ".*ed\.pem" is a key for ed25519-sha256$/],
      [{ 'example.org': { selector: 'e', key: ed, algorithm: 'dsa' } }, /algorithm: must be "rsa-sha256" or "ed25519-sha256"$/],
      [{ 'example.org': [{ selector: 'a', key: ed }, { selector: 'b', key: ed }] }, /example\.org: two ed25519-sha256 keys: a domain has at most one key per algorithm$/],
      [{ 'example.org': { selector: 'bad selector', key: ed } }, /selector: must be a DNS label/],
      [{ 'example.org': { selector: 's', key: ed, canon: 'simple' } }, /example\.org\.canon: unknown key$/],
      [{ localhost: { selector: 's', key: ed } }, /"localhost" is not a domain name$/],
      [{ 'example.org': [] }, /must name at least one key$/],
    ];
    for (const [domains, error] of cases) {
      expect(() => validateConfig({ dkim: { domains } }), JSON.stringify(domains)).to.throw(error);
    }
  });
});

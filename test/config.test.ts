import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { applyFlags, ConfigError, defaultConfig, validateConfig } from '../src/config.js';
import { makeTempDir } from './helpers/test-relay.js';
import { TEST_TLS } from './helpers/tls-fixtures.js';
import { PROCESS_TEST_TIMEOUT_MS, PROCESS_TIMEOUT_MS } from './helpers/process-timeouts.js';

describe('config: defaults, validation, flags', () => {
  it('has the documented defaults', () => {
    const config = defaultConfig();
    expect(config.listen).to.deep.equal([{ host: '127.0.0.1', port: 2525, mode: 'relay', refuse: 'stay', tls: 'none' }]);
    expect(config.spool).to.equal('./var/spool');
    expect(config.relay.networks).to.deep.equal(['127.0.0.0/8', '::1/128']);
    expect(config.delivery.port).to.equal(25);
    expect(config.delivery.maxQueueLifetime).to.equal(432000);
    expect(config.delivery.retrySchedule).to.deep.equal([300, 900, 1800, 3600, 7200, 14400]);
  });

  it('reads MAIL and RCPT leniently by default, as Postfix does; smtp.strictEnvelopes turns that off', () => {
    expect(defaultConfig().smtp).to.deep.equal({ strictEnvelopes: false, bareNewline: 'reject' });
    expect(validateConfig({ smtp: { strictEnvelopes: true } }).smtp.strictEnvelopes).to.equal(true);
    expect(() => validateConfig({ smtp: { strictEnvelopes: 'yes' } })).to.throw(/^config: smtp\.strictEnvelopes: must be true or false$/);
  });

  const BAD: Array<[string, unknown, RegExp]> = [
    ['an unknown top-level key', { hostnme: 'x' }, /^config: hostnme: unknown key$/],
    ['an unknown nested key', { limits: { maxMesageSize: 5 } }, /^config: limits\.maxMesageSize: unknown key$/],
    ['a wrong type', { limits: { maxRecipients: 'lots' } }, /^config: limits\.maxRecipients: must be a whole number/],
    ['a port out of range', { listen: [{ host: '127.0.0.1', port: 70000 }] }, /^config: listen\[0\]\.port: must be a whole number from 0 to 65535$/],
    ['an unknown mode', { listen: [{ host: '127.0.0.1', port: 25, mode: 'open' }] }, /^config: listen\[0\]\.mode: must be one of "relay", "refuse", "capture"$/],
    ['an empty listener list', { listen: [] }, /^config: listen: must not be empty$/],
    ['a bad CIDR', { relay: { networks: ['10.0.0.0/33'] } }, /^config: relay\.networks\[0\]: "10\.0\.0\.0\/33" is not a valid CIDR block$/],
    ['a bad host name', { hostname: 'bad_name!' }, /^config: hostname: "bad_name!" is not a valid host name$/],
    ['a missing certificate file', { tls: { cert: '/nonexistent/cert.pem', key: TEST_TLS.key } }, /^config: tls\.cert: file "\/nonexistent\/cert\.pem" does not exist$/],
    ['TLS on a listener without a certificate', { listen: [{ host: '127.0.0.1', port: 25, tls: 'starttls' }] }, /^config: listen\[0\]\.tls: "starttls" needs tls\.cert and tls\.key$/],
    ['a plain password in auth.users', { auth: { users: { alice: 'secret' } } }, /^config: auth\.users\.alice: .*minimta passwd/],
    ['a DNS server without a valid port', { dns: { servers: ['127.0.0.1:99999'] } }, /^config: dns\.servers\[0\]: must be a whole number/],
    ['a negative duration', { delivery: { maxQueueLifetime: -1 } }, /^config: delivery\.maxQueueLifetime: must be a number >= 0$/],
    ['an empty retry schedule', { delivery: { retrySchedule: [] } }, /^config: delivery\.retrySchedule: must not be empty$/],
    ['a command line limit below RFC 5321', { limits: { maxLineLength: 100 } }, /^config: limits\.maxLineLength: must be a whole number from 512/],
    ['a config that is not an object', [1, 2], /^config: \(the whole file\): must be a JSON object$/],
  ];
  for (const [what, raw, message] of BAD) {
    it(`refuses ${what}, naming the key`, () => {
      expect(() => validateConfig(raw)).to.throw(ConfigError).with.property('message').that.matches(message);
    });
  }

  it('lets flags override the file', () => {
    const config = applyFlags(defaultConfig(), { listen: '127.0.0.1:2600', mode: 'capture', dnsServers: ['127.0.0.1:5353'], deliveryPort: '2626', smarthost: 'relay.example:587' });
    expect(config.listen).to.deep.equal([{ host: '127.0.0.1', port: 2600, mode: 'capture', refuse: 'stay', tls: 'none' }]);
    expect(config.dns.servers).to.deep.equal(['127.0.0.1:5353']);
    expect(config.delivery.port).to.equal(2626);
    expect(config.smarthost).to.deep.include({ host: 'relay.example', port: 587 });
  });

  it('refuses a bad flag with the flag named', () => {
    expect(() => applyFlags(defaultConfig(), { deliveryPort: 'abc' })).to.throw(/--delivery-port/);
    expect(() => applyFlags(defaultConfig(), { mode: 'open' })).to.throw(/--mode/);
  });

  it('`minimta serve` exits 2 with one clear line for a bad config, before anything listens', async function () {
    this.timeout(PROCESS_TEST_TIMEOUT_MS);
    const dir = await makeTempDir();
    const file = path.join(dir, 'bad.json');
    await fs.writeFile(file, JSON.stringify({ listen: [{ host: '127.0.0.1', port: 0 }], relay: { networks: ['nonsense'] } }));
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--config', file], { encoding: 'utf8', timeout: PROCESS_TIMEOUT_MS });
    await fs.rm(dir, { recursive: true, force: true });
    expect(result.status).to.equal(2);
    expect(result.stderr.trim()).to.equal('minimta: config: relay.networks[0]: "nonsense" is not a valid CIDR block');
    expect(result.stdout).to.not.include('listening');
  });
});

describe('minimta passwd', () => {
  it('prints a hash of the password read on stdin, that verifies, and nothing else', async function () {
    this.timeout(PROCESS_TEST_TIMEOUT_MS);
    const { verifyPassword } = await import('../src/auth/password-hash.js');
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'passwd'], { input: 'correct horse\n', encoding: 'utf8', timeout: PROCESS_TIMEOUT_MS });
    expect(result.status).to.equal(0);
    const hash = result.stdout.trim();
    expect(hash).to.match(/^scrypt\$/);
    expect(result.stdout).to.not.include('correct horse');
    expect(await verifyPassword('correct horse', hash)).to.equal(true);
  });
});

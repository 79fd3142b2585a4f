import { expect } from 'chai';
import { startDeliveryWorld, type DeliveryWorld } from './helpers/delivery-env.js';
import type { Zone } from './helpers/dns-server.js';
import { PolicyServer, policyText } from './helpers/policy-server.js';
import { STS_HOSTS_TLS, TEST_CA_FILE, TEST_TLS } from './helpers/tls-fixtures.js';
import type { SmtpSink } from './helpers/smtp-sink.js';
import { captureIo } from './helpers/cli-io.js';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveCommand } from '../src/cli/resolve-command.js';
import { stsRecordId } from '../src/mta-sts/sts-record.js';
import { mxMatches, parseStsPolicy } from '../src/mta-sts/sts-policy.js';
import { MtaStsPolicies } from '../src/mta-sts/policy-cache.js';
import { replyToString } from '../src/reply-codes/index.js';
import { fetchStsPolicy } from '../src/mta-sts/policy-fetch.js';
import { validateConfig } from '../src/config.js';

describe('MTA-STS (RFC 8461): the record, the policy, MX matching', () => {
  it('takes the id of the one v=STSv1 record, ignoring other TXT records (§3.1)', () => {
    expect(stsRecordId(['v=spf1 -all', 'v=STSv1; id=20260101T000000;'])).to.equal('20260101T000000');
    expect(stsRecordId(['v=STSv1;id=abc'])).to.equal('abc');
    expect(stsRecordId(['v=STSv1; id=a;', 'v=STSv1; id=b;'])).to.equal(undefined);
    expect(stsRecordId(['v=STSv1; id=not-alnum;'])).to.equal(undefined);
    expect(stsRecordId(['v=STSv1;'])).to.equal(undefined);
    expect(stsRecordId([])).to.equal(undefined);
  });

  it('parses a policy with LF or CRLF lines, caps max_age, refuses a bad one (§3.2)', () => {
    expect(parseStsPolicy('version: STSv1\nmode: enforce\nmx: MX1.example.com\nmx: *.example.net\nmax_age: 604800\n'))
      .to.deep.equal({ mode: 'enforce', mx: ['mx1.example.com', '*.example.net'], maxAge: 604800 });
    expect(parseStsPolicy(policyText('none', [], 9999999999)).maxAge).to.equal(31557600);
    expect(() => parseStsPolicy('version: STSv1\r\nmode: enforce\r\nmax_age: 1\r\n')).to.throw(/mode enforce without any mx/);
    expect(() => parseStsPolicy('version: STSv2\nmode: enforce\nmx: a\nmax_age: 1\n')).to.throw(/version is not STSv1/);
    expect(() => parseStsPolicy('version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n')).to.throw(/unknown mode/);
    expect(() => parseStsPolicy('<html>')).to.throw(/not "key: value"/);
  });

  it('matches MX hosts exactly or by one left-most wildcard label (§4.1)', () => {
    expect(mxMatches('mx1.example.com', 'mx1.example.com')).to.equal(true);
    expect(mxMatches('MX1.Example.COM.', 'mx1.example.com')).to.equal(true);
    expect(mxMatches('mx1.example.net', '*.example.net')).to.equal(true);
    expect(mxMatches('a.b.example.net', '*.example.net')).to.equal(false);
    expect(mxMatches('example.net', '*.example.net')).to.equal(false);
    expect(mxMatches('mx1.example.com.evil.test', 'mx1.example.com')).to.equal(false);
  });

  it('keeps a policy by its id for max_age, refetches on a new id, and keeps it when the fetch fails', async () => {
    let now = 0;
    let records = ['v=STSv1; id=one;'];
    let fetches = 0;
    let fail = false;
    const policies = new MtaStsPolicies({
      now: () => now,
      txt: async () => ({ kind: 'records', records }),
      fetch: async () => {
        fetches++;
        if (fail) throw new Error('HTTP 500');
        return { mode: 'enforce', mx: [`mx${fetches}.example.org`], maxAge: 100 };
      },
    });
    expect(await policies.lookUp('example.org')).to.include({ source: 'fetched', id: 'one' });
    expect(await policies.lookUp('example.org')).to.include({ source: 'cached' });
    expect(fetches).to.equal(1);
    records = ['v=STSv1; id=two;'];
    fail = true;
    const kept = await policies.lookUp('example.org');
    expect(kept).to.include({ source: 'cached', id: 'one' });
    expect(kept.kind === 'policy' && kept.note).to.match(/policy fetch failed: HTTP 500; the cached policy still applies/);
    records = [];
    expect((await policies.lookUp('example.org')).kind).to.equal('policy');
    now = 100_001;
    expect(await policies.lookUp('example.org')).to.deep.equal({ kind: 'none', why: 'no MTA-STS TXT record at _mta-sts.example.org' });
  });
});

describe('MTA-STS policy fetch (RFC 8461 §3.3)', () => {
  let server: PolicyServer;
  let untrusted: PolicyServer;
  before(async () => {
    server = await PolicyServer.start(STS_HOSTS_TLS);
    untrusted = await PolicyServer.start(TEST_TLS);
  });
  after(async () => {
    await server.stop();
    await untrusted.stop();
  });
  const options = (port: number) => ({
    addressesOf: async () => ['127.0.0.1'], port, timeoutMs: 5000, extraCa: readFileSync(TEST_CA_FILE, 'utf8'),
  });

  it('fetches over HTTPS with a certificate verified for mta-sts.<domain>', async () => {
    server.set('mta-sts.enforce.test', { policy: policyText('enforce', ['mx.sts.test'], 600) });
    expect(await fetchStsPolicy('enforce.test', options(server.port))).to.deep.equal({ mode: 'enforce', mx: ['mx.sts.test'], maxAge: 600 });
  });

  it('refuses a policy host whose certificate does not verify', async () => {
    untrusted.set('mta-sts.enforce.test', { policy: policyText('enforce', ['mx.sts.test']) });
    let error: Error | undefined;
    await fetchStsPolicy('enforce.test', options(untrusted.port)).catch((err: Error) => { error = err; });
    expect(error?.message).to.match(/^https:\/\/mta-sts\.enforce\.test\/\.well-known\/mta-sts\.txt: .*(self.signed|certificate)/i);
    expect(untrusted.requests).to.deep.equal([]);
  });

  it('refuses a policy over 64 KiB, and anything but 200', async () => {
    server.set('mta-sts.mismatch.test', { policy: policyText('enforce', ['mx.sts.test']) + 'x'.repeat(70 * 1024) });
    await fetchStsPolicy('mismatch.test', options(server.port)).then(() => expect.fail('fetched'), (err: Error) => expect(err.message).to.match(/larger than 65536 octets/));
    server.set('mta-sts.mismatch.test', { status: 404 });
    await fetchStsPolicy('mismatch.test', options(server.port)).then(() => expect.fail('fetched'), (err: Error) => expect(err.message).to.match(/HTTP 404$/));
  });
});

describe('config: delivery.tls, delivery.tlsPolicies, tls.caFile', () => {
  it('takes "verify" and per-domain levels, lower-casing the domains', () => {
    const config = validateConfig({ delivery: { tls: 'verify', tlsPolicies: { 'Example.ORG': 'none', 'b.test': 'verify' } }, tls: { caFile: TEST_CA_FILE } });
    expect(config.delivery.tls).to.equal('verify');
    expect(config.delivery.tlsPolicies).to.deep.equal({ 'example.org': 'none', 'b.test': 'verify' });
    expect(config.delivery.mtaSts).to.equal(true);
    expect(config.tls).to.deep.equal({ cert: '', key: '', caFile: TEST_CA_FILE });
  });

  it('refuses an unknown level, a missing CA file, and a certificate without its key', () => {
    expect(() => validateConfig({ delivery: { tlsPolicies: { 'a.test': 'secure' } } })).to.throw(/^config: delivery\.tlsPolicies\.a\.test: must be one of/);
    expect(() => validateConfig({ tls: { caFile: '/nonexistent/ca.pem' } })).to.throw(/^config: tls\.caFile: file "\/nonexistent\/ca\.pem" does not exist/);
    expect(() => validateConfig({ tls: { cert: TEST_TLS.cert } })).to.throw(/^config: tls\.key: tls\.cert and tls\.key go together/);
  });
});

const ZONES: Record<string, Zone> = {
  // mx.plain.test: no STARTTLS; mx.sts.test: a certificate from the test CA;
  // mx.badcert.test: a self-signed one that does not verify.
  'mx.plain.test': { a: ['127.0.0.2'] },
  'mx.sts.test': { a: ['127.0.0.3'] },
  'mx.badcert.test': { a: ['127.0.0.4'] },
  'enforce.test': { mx: [{ preference: 10, exchange: 'mx.plain.test' }, { preference: 20, exchange: 'mx.sts.test' }] },
  'mismatch.test': { mx: [{ preference: 10, exchange: 'mx.sts.test' }] },
  'badcert.test': { mx: [{ preference: 10, exchange: 'mx.badcert.test' }] },
  'cached.test': { mx: [{ preference: 10, exchange: 'mx.sts.test' }] },
  'testing.test': { mx: [{ preference: 10, exchange: 'mx.plain.test' }] },
  'verify.test': { mx: [{ preference: 10, exchange: 'mx.badcert.test' }] },
  'nosts.test': { mx: [{ preference: 10, exchange: 'mx.badcert.test' }] },
};
/** Domains with a policy: their _mta-sts TXT record, and their policy host on the HTTPS server (127.0.0.1). */
const STS_IDS: Record<string, string> = { enforce: 'e1', mismatch: 'm1', badcert: 'b1', cached: 'c1', testing: 't1' };
for (const [name, id] of Object.entries(STS_IDS)) {
  ZONES[`_mta-sts.${name}.test`] = { txt: [`v=STSv1; id=${id};`] };
  ZONES[`mta-sts.${name}.test`] = { a: ['127.0.0.1'] };
}

describe('MTA-STS and TLS policy in delivery, over loopback', function () {
  this.timeout(20_000);
  let world: DeliveryWorld;
  let policies: PolicyServer;
  let plain: SmtpSink;
  let sts: SmtpSink;
  let badcert: SmtpSink;

  before(async () => {
    policies = await PolicyServer.start(STS_HOSTS_TLS);
    world = await startDeliveryWorld(structuredClone(ZONES), {
      dns: { cacheTtl: 0 },
      tls: { caFile: TEST_CA_FILE },
      delivery: { mtaStsPort: policies.port, tlsPolicies: { 'verify.test': 'verify', 'nosts.test': 'opportunistic' } },
    });
    plain = world.sinks[0]!;
    sts = await world.addSink('127.0.0.3', {}, { name: 'mx.sts.test', tls: { cert: readFileSync(STS_HOSTS_TLS.cert), key: readFileSync(STS_HOSTS_TLS.key) } });
    badcert = await world.addSink('127.0.0.4', {}, { name: 'mx.badcert.test', tls: { cert: readFileSync(TEST_TLS.cert), key: readFileSync(TEST_TLS.key) } });
    policies.set('mta-sts.enforce.test', { policy: policyText('enforce', ['mx.sts.test']) });
    policies.set('mta-sts.mismatch.test', { policy: policyText('enforce', ['*.elsewhere.test']) });
    policies.set('mta-sts.badcert.test', { policy: policyText('enforce', ['mx.badcert.test']) });
    policies.set('mta-sts.cached.test', { policy: policyText('enforce', ['mx.sts.test']) });
    policies.set('mta-sts.testing.test', { policy: policyText('testing', ['mx.sts.test']) });
  });
  after(async () => {
    await world.stop();
    await policies.stop();
  });

  const replyOf = (attempt: { outcomes: Array<{ reply: Parameters<typeof replyToString>[0] }> }) => replyToString(attempt.outcomes[0]!.reply);

  it('enforce with a matching MX: skips the MX the policy does not name, delivers over verified TLS', async () => {
    const { id } = await world.send('a@sender.test', ['u@enforce.test']);
    const attempt = await world.attempt(id);
    expect(attempt.outcomes[0]!.kind, replyOf(attempt)).to.equal('delivered');
    expect(attempt.outcomes[0]!.relay).to.match(/^mx\.sts\.test\[127\.0\.0\.3\]/);
    const [message] = await sts.waitForMessages(1);
    expect(message!.tls).to.equal(true);
    expect(message!.recipients).to.deep.equal(['u@enforce.test']);
    expect(plain.messages.filter((m) => m.recipients.includes('u@enforce.test'))).to.deep.equal([]);
    expect(world.relay.logs.some((l) => l.includes('enforce.test: policy (mode enforce) skips MX mx.plain.test'))).to.equal(true);
  });

  it('enforce with no matching MX: deferred with 451 4.7.5, no connection made', async () => {
    const before = sts.connections;
    const { id } = await world.send('a@sender.test', ['u@mismatch.test']);
    const attempt = await world.attempt(id);
    expect(attempt.outcomes[0]!.kind).to.equal('deferred');
    expect(replyOf(attempt)).to.equal('451 4.7.5 MTA-STS policy of mismatch.test (mode enforce) allows none of its MX hosts: mx.sts.test');
    expect(sts.connections).to.equal(before);
    await world.relay.spool.remove(id);
  });

  it('enforce with an MX whose certificate does not verify: deferred, never sent in plaintext', async () => {
    const { id } = await world.send('a@sender.test', ['u@badcert.test']);
    const attempt = await world.attempt(id);
    expect(attempt.outcomes[0]!.kind).to.equal('deferred');
    expect(replyOf(attempt)).to.match(/^451 4\.7\.5 Cannot start TLS with mx\.badcert\.test.*(self.signed|certificate)/i);
    expect(badcert.messages).to.deep.equal([]);
    await world.relay.spool.remove(id);
  });

  it('a policy fetch that fails after a policy was cached: the cached policy still applies', async () => {
    const first = await world.send('a@sender.test', ['u@cached.test']);
    expect((await world.attempt(first.id)).outcomes[0]!.kind).to.equal('delivered');
    // Now the domain's MX moves to a host without TLS, a new id is published, and its policy host fails.
    world.dns.setZone('cached.test', { mx: [{ preference: 10, exchange: 'mx.plain.test' }] });
    world.dns.setZone('_mta-sts.cached.test', { txt: ['v=STSv1; id=c2;'] });
    policies.set('mta-sts.cached.test', { status: 302, location: 'https://evil.test/' });
    const second = await world.send('a@sender.test', ['u@cached.test']);
    const attempt = await world.attempt(second.id);
    expect(attempt.outcomes[0]!.kind).to.equal('deferred');
    expect(replyOf(attempt)).to.match(/^451 4\.7\.5 MTA-STS policy of cached\.test/);
    expect(world.relay.logs.some((l) => /cached\.test: policy fetch failed: .*HTTP 302 \(redirect to https:\/\/evil\.test\/ not followed\); the cached policy still applies/.test(l))).to.equal(true);
    expect(plain.messages.filter((m) => m.recipients.includes('u@cached.test'))).to.deep.equal([]);
    await world.relay.spool.remove(second.id);
  });

  it('testing mode: the violation is logged and the mail delivered anyway', async () => {
    const { id } = await world.send('a@sender.test', ['u@testing.test']);
    const attempt = await world.attempt(id);
    expect(attempt.outcomes[0]!.kind, replyOf(attempt)).to.equal('delivered');
    expect(attempt.outcomes[0]!.relay).to.match(/^mx\.plain\.test/);
    expect(world.relay.logs.some((l) => l.includes('testing.test: policy (mode testing) would refuse MX mx.plain.test; delivering anyway'))).to.equal(true);
  });

  it('delivery.tlsPolicies: "verify" defers on a certificate that does not verify; "opportunistic" delivers over it', async () => {
    const verify = await world.send('a@sender.test', ['u@verify.test']);
    const refused = await world.attempt(verify.id);
    expect(refused.outcomes[0]!.kind).to.equal('deferred');
    expect(replyOf(refused)).to.match(/^451 4\.7\.5 Cannot start TLS with mx\.badcert\.test/);
    await world.relay.spool.remove(verify.id);
    const relaxed = await world.send('a@sender.test', ['u@nosts.test']);
    expect((await world.attempt(relaxed.id)).outcomes[0]!.kind).to.equal('delivered');
    const [message] = await badcert.waitForMessages(1);
    expect(message!.tls).to.equal(true);
  });

  it('minimta resolve shows the policy and what it means for each MX', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'minimta-sts-'));
    try {
      const config = join(dir, 'config.json');
      writeFileSync(config, JSON.stringify({
        hostname: 'mx.minimta.test', dns: { servers: [world.dns.address], timeout: 0.5 }, tls: { caFile: TEST_CA_FILE }, delivery: { mtaStsPort: policies.port },
      }));
      const captured = captureIo();
      expect(await resolveCommand(['enforce.test', '--config', config], captured.io)).to.equal(0);
      expect(captured.stdout()).to.equal([
        'enforce.test: MX 10 mx.plain.test [127.0.0.2]',
        'enforce.test: MX 20 mx.sts.test [127.0.0.3]',
        'enforce.test: MTA-STS: policy id e1, mode enforce, mx mx.sts.test, max_age 86400',
        'enforce.test: MX mx.plain.test: does not match the policy: never used',
        'enforce.test: MX mx.sts.test: matches the policy: STARTTLS required with a certificate verified for the MX name',
        '',
      ].join('\n'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

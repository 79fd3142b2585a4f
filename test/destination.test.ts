// "vector N" in a title is row N of docs/test-vectors.md.

import { expect } from 'chai';
import { TestDnsServer, type Zone } from './helpers/dns-server.js';
import { DestinationResolver, formatDestination, type Destination, type ResolverOptions } from '../src/dns/index.js';
import { parseDestinationName } from '../src/dns/domain-name.js';
import { beforeSelf, readMxRecords, shuffleEqualPreferences } from '../src/dns/mx-records.js';
import { ExpiringCache } from '../src/dns/cache.js';

const mx = (preference: number, exchange: string) => ({ preference, exchange });

// The DNS fixtures of docs/test-vectors.md, and a few more.
const ZONES: Record<string, Zone> = {
  'nullmx.test': { mx: [mx(0, '.')] },
  'mixed.test': { mx: [mx(0, '.'), mx(10, 'mx.mixed.test')] },
  'mx.mixed.test': { a: ['127.0.0.1'] },
  'normal.test': { mx: [mx(10, 'mx.normal.test')] },
  'mx.normal.test': { a: ['127.0.0.1'] },
  'amx.test': { a: ['127.0.0.1'] },
  'amx6.test': { aaaa: ['::1'] },
  'alias.test': { cname: 'amx.test' },
  'empty.test': {},
  'servfail.test': { rcode: 'SERVFAIL' },
  'refused.test': { rcode: 'REFUSED' },
  'badnull.test': { mx: [mx(10, '.')] },
  'twonull.test': { mx: [mx(0, '.'), mx(10, '')] },
  'silent.test': { silent: true },
  'xn--bcher-kva.test': { mx: [mx(10, 'mx.normal.test')] },
  'equal.test': { mx: [mx(10, 'a.equal.test'), mx(10, 'b.equal.test')] },
  'a.equal.test': { a: ['127.0.0.2'] },
  'b.equal.test': { a: ['127.0.0.3'] },
  'ordered.test': { mx: [mx(30, 'c.ordered.test'), mx(10, 'a.ordered.test'), mx(20, 'b.ordered.test')] },
  'a.ordered.test': { a: ['127.0.0.11'] },
  'b.ordered.test': { a: ['127.0.0.12'] },
  'c.ordered.test': { a: ['127.0.0.13'] },
  'self.test': { mx: [mx(10, 'mx.minimta.test'), mx(20, 'backup.self.test')] },
  'backup.self.test': { a: ['127.0.0.20'] },
  'selfbelow.test': { mx: [mx(10, 'MX.minimta.test'), mx(5, 'low.selfbelow.test'), mx(20, 'backup.self.test')] },
  'low.selfbelow.test': { a: ['127.0.0.5'] },
  'mx.minimta.test': { a: ['127.0.0.53'] },
  'selfaddr.test': { mx: [mx(10, 'other-name.test'), mx(20, 'backup.self.test')] },
  'other-name.test': { a: ['127.0.0.53'] },
  'v6only.test': { mx: [mx(10, 'mx.v6only.test')] },
  'mx.v6only.test': { aaaa: ['2001:db8::25'] },
  'dual.test': { mx: [mx(10, 'mx.dual.test')] },
  'mx.dual.test': { aaaa: ['::1'], a: ['127.0.0.1'] },
  'noaddr.test': { mx: [mx(10, 'gone.noaddr.test'), mx(20, 'empty.test')] },
  'partial.test': { mx: [mx(10, 'gone.partial.test'), mx(20, 'mx.normal.test')] },
  'mxfail.test': { mx: [mx(10, 'servfail.test')] },
  'mxfailbackup.test': { mx: [mx(10, 'servfail.test'), mx(20, 'mx.normal.test')] },
  'repeated.test': { mx: [mx(20, 'mx.normal.test'), mx(10, 'mx.normal.test')] },
};

function hostsOf(destination: Destination): Array<[string, number, string[]]> {
  if (destination.kind !== 'hosts') throw new Error(`expected hosts, got ${JSON.stringify(destination)}`);
  return destination.hosts.map((h) => [h.name, h.preference, h.addresses]);
}

describe('resolveDestination: MX, null MX and implicit MX through a loopback DNS server', function () {
  let server: TestDnsServer;
  const logs: string[] = [];
  const resolverFor = (options: Partial<ResolverOptions> = {}) => new DestinationResolver({
    servers: [server.address],
    // Generous: the DNS server answers from this process's own event loop,
    // which a loaded machine may hold up for a while. Only the silent-server
    // test waits for a timeout, and it sets a short one.
    timeoutMs: 3_000,
    tries: 1,
    localNames: ['mx.minimta.test'],
    log: (component, text) => logs.push(`${component}: ${text}`),
    ...options,
  });
  const mxQueries = (name: string) => server.queries.filter((q) => q.name === name && q.type === 'MX').length;

  before(async () => { server = await TestDnsServer.start(ZONES); });
  after(async () => { await server.stop(); });
  beforeEach(() => {
    server.queries.length = 0;
    logs.length = 0;
  });

  describe('the fixtures of docs/test-vectors.md', () => {
    it('finds the null MX of nullmx.test (vector 8)', async () => {
      expect(await resolverFor().resolveDestination('nullmx.test')).to.deep.equal({ kind: 'null-mx' });
    });

    it('finds the null MX whatever the case of the domain, and with a trailing dot (vector 8)', async () => {
      const resolver = resolverFor();
      expect(await resolver.resolveDestination('NullMX.Test')).to.deep.equal({ kind: 'null-mx' });
      expect(await resolver.resolveDestination('nullmx.test.')).to.deep.equal({ kind: 'null-mx' });
      expect(mxQueries('nullmx.test')).to.equal(1);
    });

    it('drops a root MX beside a real one and delivers to the real one (vector 9)', async () => {
      expect(hostsOf(await resolverFor().resolveDestination('mixed.test'))).to.deep.equal([['mx.mixed.test', 10, ['127.0.0.1']]]);
    });

    it('gives the MX host and its address for normal.test, never the implicit flag', async () => {
      const destination = await resolverFor().resolveDestination('normal.test');
      expect(destination).to.deep.equal({ kind: 'hosts', implicit: false, hosts: [{ name: 'mx.normal.test', preference: 10, addresses: ['127.0.0.1'] }] });
    });

    it('falls back to the domain\'s own A record when it has no MX (vector 10, implicit MX)', async () => {
      const destination = await resolverFor().resolveDestination('amx.test');
      expect(destination).to.deep.equal({ kind: 'hosts', implicit: true, hosts: [{ name: 'amx.test', preference: 0, addresses: ['127.0.0.1'] }] });
    });

    it('falls back to an AAAA record alone, and through a CNAME', async () => {
      expect(hostsOf(await resolverFor().resolveDestination('amx6.test'))).to.deep.equal([['amx6.test', 0, ['::1']]]);
      expect(hostsOf(await resolverFor().resolveDestination('alias.test'))).to.deep.equal([['alias.test', 0, ['127.0.0.1']]]);
    });

    it('calls NXDOMAIN no such domain (vector 11)', async () => {
      const destination = await resolverFor().resolveDestination('nx.test');
      expect(destination.kind).to.equal('no-such-domain');
    });

    it('calls a domain with neither MX nor A/AAAA no such domain (vector 11)', async () => {
      const destination = await resolverFor().resolveDestination('empty.test');
      expect(destination).to.deep.equal({ kind: 'no-such-domain', detail: 'empty.test has no MX and no A/AAAA records' });
    });

    it('calls a lone "MX 10 ." no usable MX, not a null MX, and logs it as malformed (vector 11)', async () => {
      const destination = await resolverFor().resolveDestination('badnull.test');
      expect(destination.kind).to.equal('no-usable-mx');
      expect(logs.some((line) => line.startsWith('dns: badnull.test: malformed null MX'))).to.equal(true);
    });

    it('calls two root MX records no usable MX: a null MX is exactly one record', async () => {
      expect((await resolverFor().resolveDestination('twonull.test')).kind).to.equal('no-usable-mx');
    });

    it('calls SERVFAIL temporary, with the code in the detail (vector 12)', async () => {
      expect(await resolverFor().resolveDestination('servfail.test')).to.deep.equal({ kind: 'temporary', detail: 'MX servfail.test: ESERVFAIL' });
    });

    it('calls REFUSED temporary', async () => {
      expect(await resolverFor().resolveDestination('refused.test')).to.deep.equal({ kind: 'temporary', detail: 'MX refused.test: EREFUSED' });
    });

    it('calls a DNS timeout temporary (vector 12)', async () => {
      expect(await resolverFor({ timeoutMs: 200 }).resolveDestination('silent.test')).to.deep.equal({ kind: 'temporary', detail: 'MX silent.test: ETIMEOUT' });
    });

    it('calls an unreachable DNS server temporary', async () => {
      const closed = await TestDnsServer.start({});
      await closed.stop();
      const destination = await resolverFor({ servers: [closed.address] }).resolveDestination('normal.test');
      expect(destination).to.deep.equal({ kind: 'temporary', detail: 'MX normal.test: ECONNREFUSED' });
    });
  });

  describe('names', () => {
    it('looks up an IDN domain by its A-labels', async () => {
      expect(hostsOf(await resolverFor().resolveDestination('bücher.test'))).to.deep.equal([['mx.normal.test', 10, ['127.0.0.1']]]);
      expect(server.queries[0]).to.deep.equal({ name: 'xn--bcher-kva.test', type: 'MX' });
    });

    it('resolves address literals without any DNS query', async () => {
      const resolver = resolverFor();
      expect(await resolver.resolveDestination('[192.0.2.1]')).to.deep.equal(
        { kind: 'hosts', implicit: false, hosts: [{ name: '[192.0.2.1]', preference: 0, addresses: ['192.0.2.1'] }] });
      expect(hostsOf(await resolver.resolveDestination('[IPv6:2001:DB8::1]'))).to.deep.equal([['[IPv6:2001:DB8::1]', 0, ['2001:db8::1']]]);
      expect(server.queries).to.deep.equal([]);
    });

    it('calls invalid names and bad literals no such domain without asking DNS', async () => {
      const resolver = resolverFor();
      for (const name of ['', 'a..b.test', 'a b.test', `${'x'.repeat(64)}.test`, '[999.1.1.1]', '[IPv6:192.0.2.1]', '[tag:foo]', '192.0.2.1']) {
        expect((await resolver.resolveDestination(name)).kind, name).to.equal('no-such-domain');
      }
      expect(server.queries).to.deep.equal([]);
    });
  });

  describe('order (RFC 5321 §5.1)', () => {
    it('sorts hosts by preference whatever the order of the answer', async () => {
      const resolver = resolverFor();
      for (let i = 0; i < 5; i++) {
        expect(hostsOf(await resolver.resolveDestination('ordered.test')).map(([name, preference]) => `${preference} ${name}`)).to.deep.equal(
          ['10 a.ordered.test', '20 b.ordered.test', '30 c.ordered.test']);
      }
    });

    it('shuffles hosts of equal preference: over 50 uncached lookups both orders are seen', async () => {
      const resolver = resolverFor({ cacheSize: 0 });
      const orders = new Set<string>();
      for (let i = 0; i < 50; i++) orders.add(hostsOf(await resolver.resolveDestination('equal.test')).map(([name]) => name).join(' '));
      expect([...orders].sort()).to.deep.equal(['a.equal.test b.equal.test', 'b.equal.test a.equal.test']);
      expect(mxQueries('equal.test')).to.equal(50);
    });

    it('shuffles again on every cached lookup, so one cache lifetime does not pin one host', async () => {
      const resolver = resolverFor();
      const orders = new Set<string>();
      for (let i = 0; i < 50; i++) orders.add(hostsOf(await resolver.resolveDestination('equal.test')).map(([name]) => name).join(' '));
      expect(orders.size).to.equal(2);
      expect(mxQueries('equal.test')).to.equal(1);
    });

    it('lists IPv4 addresses before IPv6', async () => {
      expect(hostsOf(await resolverFor().resolveDestination('dual.test'))).to.deep.equal([['mx.dual.test', 10, ['127.0.0.1', '::1']]]);
    });

    it('uses an MX host that has only an AAAA record', async () => {
      expect(hostsOf(await resolverFor().resolveDestination('v6only.test'))).to.deep.equal([['mx.v6only.test', 10, ['2001:db8::25']]]);
    });

    it('lists a host named twice once, at its best preference', async () => {
      expect(hostsOf(await resolverFor().resolveDestination('repeated.test'))).to.deep.equal([['mx.normal.test', 10, ['127.0.0.1']]]);
    });
  });

  describe('MX hosts without addresses', () => {
    it('skips an MX host that does not exist and uses the rest', async () => {
      expect(hostsOf(await resolverFor().resolveDestination('partial.test'))).to.deep.equal([['mx.normal.test', 20, ['127.0.0.1']]]);
    });

    it('calls it no usable MX when no MX host has an address, and never falls back to the domain\'s A', async () => {
      const destination = await resolverFor().resolveDestination('noaddr.test');
      expect(destination).to.deep.equal({ kind: 'no-usable-mx', detail: 'no MX host of noaddr.test has an address: MX 10 gone.noaddr.test, MX 20 empty.test' });
      expect(server.queries.filter((q) => q.name === 'noaddr.test').map((q) => q.type)).to.deep.equal(['MX']);
    });

    it('calls it temporary when an MX host lookup failed for now and no other host is usable', async () => {
      const destination = await resolverFor().resolveDestination('mxfail.test');
      expect(destination).to.deep.equal({ kind: 'temporary', detail: 'A servfail.test: ESERVFAIL' });
    });

    it('uses a working backup when the preferred MX host lookup failed for now', async () => {
      expect(hostsOf(await resolverFor().resolveDestination('mxfailbackup.test'))).to.deep.equal([['mx.normal.test', 20, ['127.0.0.1']]]);
    });
  });

  describe('loops to self (RFC 5321 §5.1, vector 49)', () => {
    it('calls it a loop when our host is the most preferred MX', async () => {
      const destination = await resolverFor().resolveDestination('self.test');
      expect(destination).to.deep.equal({ kind: 'loops-to-self', detail: 'MX 10 mx.minimta.test is this host and self.test has no more preferred MX' });
      expect(server.queries.some((q) => q.name === 'backup.self.test')).to.equal(false);
    });

    it('keeps only the hosts more preferred than ours', async () => {
      expect(hostsOf(await resolverFor().resolveDestination('selfbelow.test'))).to.deep.equal([['low.selfbelow.test', 5, ['127.0.0.5']]]);
    });

    it('knows our host by its address too', async () => {
      const resolver = resolverFor({ localNames: [], localAddresses: ['127.0.0.53'] });
      expect((await resolver.resolveDestination('selfaddr.test')).kind).to.equal('loops-to-self');
      expect(hostsOf(await resolver.resolveDestination('selfbelow.test'))).to.deep.equal([['low.selfbelow.test', 5, ['127.0.0.5']]]);
    });

    it('calls an implicit MX or an address literal that is our own host a loop', async () => {
      const resolver = resolverFor({ localNames: ['AMX.test.'], localAddresses: ['192.0.2.7', '2001:db8::7'] });
      expect((await resolver.resolveDestination('amx.test')).kind).to.equal('loops-to-self');
      expect((await resolver.resolveDestination('[192.0.2.7]')).kind).to.equal('loops-to-self');
      expect((await resolver.resolveDestination('[IPv6:2001:db8:0::7]')).kind).to.equal('loops-to-self');
    });
  });

  describe('resolveHost: a next hop named directly (the smarthost)', () => {
    it('gives a host\'s own addresses without asking for MX', async () => {
      const destination = await resolverFor().resolveHost('MX.dual.test');
      expect(destination).to.deep.equal({ kind: 'hosts', implicit: false, hosts: [{ name: 'mx.dual.test', preference: 0, addresses: ['127.0.0.1', '::1'] }] });
      expect(server.queries.map((q) => q.type).sort()).to.deep.equal(['A', 'AAAA']);
    });

    it('takes an IP address or an address literal as is, without DNS', async () => {
      const resolver = resolverFor();
      expect(hostsOf(await resolver.resolveHost('127.0.0.9'))).to.deep.equal([['127.0.0.9', 0, ['127.0.0.9']]]);
      expect(hostsOf(await resolver.resolveHost('::1'))).to.deep.equal([['::1', 0, ['::1']]]);
      expect(hostsOf(await resolver.resolveHost('[127.0.0.9]'))).to.deep.equal([['[127.0.0.9]', 0, ['127.0.0.9']]]);
      expect(server.queries).to.deep.equal([]);
    });

    it('calls a host without addresses no such domain, and a failing lookup temporary', async () => {
      const resolver = resolverFor();
      expect((await resolver.resolveHost('normal.test')).kind).to.equal('no-such-domain');
      expect(await resolver.resolveHost('servfail.test')).to.deep.equal({ kind: 'temporary', detail: 'A servfail.test: ESERVFAIL' });
    });

    it('caches host answers apart from domain answers', async () => {
      const resolver = resolverFor();
      expect((await resolver.resolveHost('amx.test')).kind).to.equal('hosts');
      expect(await resolver.resolveDestination('amx.test')).to.have.property('implicit', true);
      expect((await resolver.resolveHost('amx.test')).kind).to.equal('hosts');
      expect(server.queries.filter((q) => q.name === 'amx.test').map((q) => q.type).sort()).to.deep.equal(['A', 'A', 'AAAA', 'AAAA', 'MX']);
    });
  });

  describe('the cache', () => {
    it('makes one MX query for two concurrent lookups of a domain', async () => {
      const resolver = resolverFor();
      const [first, second] = await Promise.all([resolver.resolveDestination('normal.test'), resolver.resolveDestination('Normal.Test')]);
      expect(first).to.deep.equal(second);
      expect(mxQueries('normal.test')).to.equal(1);
    });

    it('makes one MX query for two lookups in a row, and asks again after the lifetime', async () => {
      let now = 1_000_000;
      const resolver = resolverFor({ cacheTtlMs: 60_000, now: () => now });
      await resolver.resolveDestination('normal.test');
      now += 59_999;
      await resolver.resolveDestination('normal.test');
      expect(mxQueries('normal.test')).to.equal(1);
      now += 1;
      await resolver.resolveDestination('normal.test');
      expect(mxQueries('normal.test')).to.equal(2);
    });

    it('sees a DNS change after clearCache', async () => {
      const resolver = resolverFor();
      server.setZone('changing.test', { mx: [mx(10, 'mx.normal.test')] });
      try {
        expect((await resolver.resolveDestination('changing.test')).kind).to.equal('hosts');
        server.setZone('changing.test', { mx: [mx(0, '.')] });
        expect((await resolver.resolveDestination('changing.test')).kind).to.equal('hosts');
        resolver.clearCache();
        expect((await resolver.resolveDestination('changing.test')).kind).to.equal('null-mx');
      } finally {
        server.setZone('changing.test', undefined);
      }
    });

    it('keeps at most cacheSize domains, dropping the least recently used', async () => {
      const resolver = resolverFor({ cacheSize: 2 });
      for (const domain of ['normal.test', 'mixed.test', 'normal.test', 'nullmx.test', 'normal.test', 'mixed.test']) {
        await resolver.resolveDestination(domain);
      }
      expect(mxQueries('normal.test')).to.equal(1);
      expect(mxQueries('mixed.test')).to.equal(2);
      expect(mxQueries('nullmx.test')).to.equal(1);
    });

    it('does not keep temporary failures', async () => {
      const resolver = resolverFor();
      await resolver.resolveDestination('servfail.test');
      await resolver.resolveDestination('servfail.test');
      expect(mxQueries('servfail.test')).to.equal(2);
    });

    it('hands out copies: changing an answer does not change the next one', async () => {
      const resolver = resolverFor();
      const first = await resolver.resolveDestination('normal.test');
      if (first.kind === 'hosts') first.hosts[0]!.addresses.push('192.0.2.99');
      expect(hostsOf(await resolver.resolveDestination('normal.test'))).to.deep.equal([['mx.normal.test', 10, ['127.0.0.1']]]);
    });
  });

  describe('formatDestination', () => {
    it('prints what DNS said and what the relay does about it', async () => {
      const resolver = resolverFor();
      const lines = async (domain: string) => formatDestination(await resolver.resolveDestination(domain), domain);
      expect(await lines('nullmx.test')).to.deep.equal(['nullmx.test: null MX (RFC 7505): RCPT gets 556 5.1.10, MAIL FROM gets 550 5.7.27']);
      expect(await lines('normal.test')).to.deep.equal(['normal.test: MX 10 mx.normal.test [127.0.0.1]']);
      expect(await lines('dual.test')).to.deep.equal(['dual.test: MX 10 mx.dual.test [127.0.0.1, ::1]']);
      expect(await lines('amx.test')).to.deep.equal(['amx.test: no MX, implicit MX (RFC 5321 §5.1): amx.test [127.0.0.1]']);
      expect((await lines('nx.test'))[0]).to.match(/^nx\.test: no such domain \(.*\): RCPT gets 550 5\.1\.2$/);
      expect((await lines('badnull.test'))[0]).to.match(/^badnull\.test: no usable MX \(malformed null MX.*\): RCPT gets 550 5\.1\.2/);
      expect((await lines('self.test'))[0]).to.match(/loops back to this host.*554 5\.4\.6$/);
      expect((await lines('servfail.test'))[0]).to.match(/^servfail\.test: temporary DNS failure \(MX servfail\.test: ESERVFAIL\)/);
    });

    it('leaves the domain out when none is given', () => {
      expect(formatDestination({ kind: 'null-mx' })[0]).to.match(/^null MX/);
    });
  });
});

describe('DNS building blocks, without sockets', () => {
  describe('readMxRecords (RFC 7505 §3)', () => {
    it('reads one preference-0 root record as a null MX, written "" or "."', () => {
      expect(readMxRecords([{ exchange: '', priority: 0 }])).to.deep.equal({ kind: 'null-mx' });
      expect(readMxRecords([{ exchange: '.', priority: 0 }])).to.deep.equal({ kind: 'null-mx' });
    });

    it('drops root records beside real ones', () => {
      expect(readMxRecords([{ exchange: '', priority: 0 }, { exchange: 'MX.Example.', priority: 10 }])).to.deep.equal(
        { kind: 'exchanges', exchanges: [{ name: 'mx.example', preference: 10 }] });
    });

    it('calls root records alone at another preference, or more than one, a malformed null MX', () => {
      expect(readMxRecords([{ exchange: '', priority: 10 }]).kind).to.equal('malformed-null-mx');
      expect(readMxRecords([{ exchange: '', priority: 0 }, { exchange: '.', priority: 5 }]).kind).to.equal('malformed-null-mx');
    });
  });

  describe('beforeSelf', () => {
    const hosts = [{ name: 'a', preference: 5 }, { name: 'self', preference: 10 }, { name: 'b', preference: 10 }, { name: 'c', preference: 20 }];

    it('keeps only hosts strictly more preferred than ours', () => {
      expect(beforeSelf(hosts, (h) => h.name === 'self')).to.deep.equal({ kept: [hosts[0]], self: hosts[1] });
    });

    it('keeps everything when we are not listed', () => {
      expect(beforeSelf(hosts, () => false)).to.deep.equal({ kept: hosts });
    });
  });

  describe('shuffleEqualPreferences', () => {
    it('reorders only within runs of equal preference', () => {
      const hosts = [{ n: 'a', preference: 1 }, { n: 'b', preference: 1 }, { n: 'c', preference: 2 }, { n: 'd', preference: 2 }, { n: 'e', preference: 3 }];
      const reversed = shuffleEqualPreferences(hosts, () => 0).map((h) => h.n);
      expect(reversed).to.deep.equal(['b', 'a', 'd', 'c', 'e']);
      expect(shuffleEqualPreferences(hosts, () => 0.999).map((h) => h.n)).to.deep.equal(['a', 'b', 'c', 'd', 'e']);
    });
  });

  describe('parseDestinationName', () => {
    it('lowercases, drops one trailing dot and converts U-labels', () => {
      expect(parseDestinationName('Bücher.TEST.')).to.deep.equal({ kind: 'domain', ascii: 'xn--bcher-kva.test' });
      expect(parseDestinationName('a.test..').kind).to.equal('invalid');
    });

    it('reads address literals, the IPv6 tag in any case', () => {
      expect(parseDestinationName('[127.0.0.1]')).to.deep.equal({ kind: 'literal', literal: '[127.0.0.1]', address: '127.0.0.1' });
      expect(parseDestinationName('[ipv6:::1]')).to.deep.equal({ kind: 'literal', literal: '[ipv6:::1]', address: '::1' });
      expect(parseDestinationName('[::1]').kind).to.equal('invalid');
    });
  });

  describe('ExpiringCache', () => {
    it('shares one in-flight load and forgets a failed one', async () => {
      const cache = new ExpiringCache<number>({ maxEntries: 10, lifetimeMs: () => 1000, now: () => 0 });
      let loads = 0;
      const failing = () => { loads++; return Promise.reject(new Error('boom')); };
      const results = await Promise.allSettled([cache.get('k', failing), cache.get('k', failing)]);
      expect(results.map((r) => r.status)).to.deep.equal(['rejected', 'rejected']);
      expect(loads).to.equal(1);
      expect(await cache.get('k', async () => 7)).to.equal(7);
      expect(cache.size).to.equal(1);
    });

    it('stores nothing from a load that was running when it was cleared', async () => {
      const cache = new ExpiringCache<number>({ maxEntries: 10, lifetimeMs: () => 1000, now: () => 0 });
      let finish: (value: number) => void = () => {};
      const loading = cache.get('k', () => new Promise<number>((resolve) => { finish = resolve; }));
      cache.clear();
      finish(1);
      expect(await loading).to.equal(1);
      expect(cache.size).to.equal(0);
    });
  });
});

import { expect } from 'chai';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { Resolver } from 'node:dns/promises';
import { TestDnsServer } from './helpers/dns-server.js';

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function errorCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? 'no code';
  }
  throw new Error('expected the query to fail');
}

/** A standard query (RFC 1035 §4.1) built by hand, to send what node:dns would not. */
function rawQuery(id: number, name: string, type: number): Buffer {
  const header = Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  const labels = name.split('.').flatMap((label) => [Buffer.from([label.length]), Buffer.from(label, 'latin1')]);
  return Buffer.concat([header, ...labels, Buffer.from([0, type >> 8, type & 0xff, 0, 1])]);
}

describe('test DNS server: answers node:dns from the zones it is given', function () {
  let server: TestDnsServer;
  let resolver: Resolver;

  beforeEach(async () => {
    server = await TestDnsServer.start({
      'normal.test': { mx: [{ preference: 10, exchange: 'mx.normal.test' }] },
      'mx.normal.test': { a: ['127.0.0.1'], aaaa: ['::1', '2001:db8::ffff:1.2.3.4'] },
      'nullmx.test': { mx: [{ preference: 0, exchange: '.' }] },
      'emptyroot.test': { mx: [{ preference: 0, exchange: '' }] },
      'mixed.test': { mx: [{ preference: 0, exchange: '.' }, { preference: 10, exchange: 'mx.mixed.test' }] },
      'empty.test': {},
      'servfail.test': { rcode: 'SERVFAIL' },
      'refused.test': { rcode: 'REFUSED' },
      'gone.test': { rcode: 'NXDOMAIN', a: ['127.0.0.9'] },
      'silent.test': { silent: true },
      'alias.test': { cname: 'mx.normal.test' },
      'Upper.CASE.Test': { a: ['127.0.0.2'] },
    });
    // Generous: the server answers from this process's own event loop, which a
    // loaded machine may hold up; only the silent-name test waits it out.
    resolver = new Resolver({ timeout: 3_000, tries: 1 });
    resolver.setServers([server.address]);
  });

  afterEach(async () => {
    await server.stop();
  });

  it('listens on 127.0.0.1 on an ephemeral port and says so in the setServers form', () => {
    expect(server.port).to.be.greaterThan(0);
    expect(server.address).to.equal(`127.0.0.1:${server.port}`);
  });

  it('answers MX queries with preference and exchange', async () => {
    expect(await resolver.resolveMx('normal.test')).to.deep.equal([{ exchange: 'mx.normal.test', priority: 10 }]);
  });

  it('encodes a null MX as the root label, which node:dns returns as an empty exchange', async () => {
    expect(await resolver.resolveMx('nullmx.test')).to.deep.equal([{ exchange: '', priority: 0 }]);
    expect(await resolver.resolveMx('emptyroot.test')).to.deep.equal([{ exchange: '', priority: 0 }]);
  });

  it('serves a root MX beside a real one, both as written', async () => {
    const records = await resolver.resolveMx('mixed.test');
    expect(records).to.deep.equal([{ exchange: '', priority: 0 }, { exchange: 'mx.mixed.test', priority: 10 }]);
  });

  it('answers A and AAAA queries, IPv6 written any valid way', async () => {
    expect(await resolver.resolve4('mx.normal.test')).to.deep.equal(['127.0.0.1']);
    expect(await resolver.resolve6('mx.normal.test')).to.deep.equal(['::1', '2001:db8::ffff:102:304']);
  });

  it('answers NXDOMAIN for a name in no zone, which node:dns reports as ENOTFOUND', async () => {
    expect(await errorCode(resolver.resolveMx('nx.test'))).to.equal('ENOTFOUND');
    expect(await errorCode(resolver.resolve4('gone.test'))).to.equal('ENOTFOUND');
  });

  it('answers NODATA for a name without records of the type, which node:dns reports as ENODATA', async () => {
    expect(await errorCode(resolver.resolveMx('empty.test'))).to.equal('ENODATA');
    expect(await errorCode(resolver.resolve4('empty.test'))).to.equal('ENODATA');
    expect(await errorCode(resolver.resolve6('nullmx.test'))).to.equal('ENODATA');
    expect(await errorCode(resolver.resolveSrv('normal.test'))).to.equal('ENODATA');
  });

  it('answers TXT records, a long one split into strings of 255 octets that node:dns returns in order', async () => {
    const long = `v=DKIM1; k=rsa; p=${'A'.repeat(400)}`;
    server.setZone('txt.test', { txt: ['v=spf1 -all', long] });
    const records = await resolver.resolveTxt('txt.test');
    expect(records.map((strings) => strings.join(''))).to.deep.equal(['v=spf1 -all', long]);
    expect(records[1]!.map((s) => s.length)).to.deep.equal([255, long.length - 255]);
    server.setZone('txt.test', undefined);
  });

  it('answers SERVFAIL and REFUSED when the zone says so', async () => {
    expect(await errorCode(resolver.resolveMx('servfail.test'))).to.equal('ESERVFAIL');
    expect(await errorCode(resolver.resolve4('refused.test'))).to.equal('EREFUSED');
  });

  it('never answers a silent name, so the client times out', async () => {
    const impatient = new Resolver({ timeout: 200, tries: 1 });
    impatient.setServers([server.address]);
    expect(await withTimeout(errorCode(impatient.resolveMx('silent.test')), 8000)).to.equal('ETIMEOUT');
    expect(server.queries).to.deep.include({ name: 'silent.test', type: 'MX' });
  });

  it('matches names case-insensitively', async () => {
    expect(await resolver.resolve4('upper.case.test')).to.deep.equal(['127.0.0.2']);
    expect(await resolver.resolve4('UPPER.case.TEST')).to.deep.equal(['127.0.0.2']);
  });

  it('follows a CNAME inside its zones', async () => {
    expect(await resolver.resolve4('alias.test')).to.deep.equal(['127.0.0.1']);
    expect(await resolver.resolveCname('alias.test')).to.deep.equal(['mx.normal.test']);
  });

  it('takes zone changes while running, and forgets a removed zone', async () => {
    server.setZone('normal.test', { mx: [{ preference: 0, exchange: '.' }] });
    expect(await resolver.resolveMx('normal.test')).to.deep.equal([{ exchange: '', priority: 0 }]);
    server.setZone('NORMAL.test.', undefined);
    expect(await errorCode(resolver.resolveMx('normal.test'))).to.equal('ENOTFOUND');
  });

  it('records every query in order with its type', async () => {
    await resolver.resolveMx('normal.test');
    await resolver.resolve4('mx.normal.test');
    await resolver.resolve6('mx.normal.test');
    await errorCode(resolver.resolveMx('nx.test'));
    await errorCode(resolver.resolveSrv('normal.test'));
    expect(server.queries).to.deep.equal([
      { name: 'normal.test', type: 'MX' },
      { name: 'mx.normal.test', type: 'A' },
      { name: 'mx.normal.test', type: 'AAAA' },
      { name: 'nx.test', type: 'MX' },
      { name: 'normal.test', type: 'TYPE33' },
    ]);
  });

  it('rejects a zone it could not encode when it is set, not when asked', () => {
    expect(() => server.setZone('bad.test', { a: ['300.1.1.1'] })).to.throw(/IPv4/);
    expect(() => server.setZone('bad.test', { mx: [{ preference: 10, exchange: `${'x'.repeat(64)}.test` }] })).to.throw(/label/);
  });

  describe('on the wire', () => {
    let client: dgram.Socket;
    const received: Buffer[] = [];

    beforeEach(async () => {
      received.length = 0;
      client = dgram.createSocket('udp4');
      client.on('message', (message) => received.push(message));
      client.bind(0, '127.0.0.1');
      await once(client, 'listening');
    });

    afterEach(() => {
      client.close();
    });

    async function ask(packet: Buffer): Promise<Buffer> {
      const answered = once(client, 'message');
      client.send(packet, server.port, '127.0.0.1');
      const [message] = (await withTimeout(answered, 8000)) as [Buffer];
      return message;
    }

    it('echoes the id and the question as sent, sets QR and AA, and keeps the case of the name', async () => {
      const query = rawQuery(0xbeef, 'NormaL.Test', 15);
      const response = await ask(query);
      expect(response.readUInt16BE(0)).to.equal(0xbeef);
      const flags = response.readUInt16BE(2);
      expect(flags & 0x8000, 'QR').to.not.equal(0);
      expect(flags & 0x0400, 'AA').to.not.equal(0);
      expect(flags & 0x000f, 'RCODE').to.equal(0);
      expect(response.readUInt16BE(4), 'QDCOUNT').to.equal(1);
      expect(response.readUInt16BE(6), 'ANCOUNT').to.equal(1);
      expect(response.subarray(12, query.length)).to.deep.equal(query.subarray(12));
      expect(server.queries).to.deep.equal([{ name: 'NormaL.Test', type: 'MX' }]);
    });

    it('ignores malformed packets and keeps answering', async () => {
      const pointerLoop = Buffer.concat([rawQuery(2, 'x', 1).subarray(0, 12), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
      const response = Buffer.from(rawQuery(3, 'normal.test', 15));
      response[2] = 0x81; // QR set: an answer, not a query
      const truncated = rawQuery(4, 'normal.test', 15).subarray(0, 20);
      for (const junk of [Buffer.from([1, 2, 3]), pointerLoop, response, truncated]) client.send(junk, server.port, '127.0.0.1');
      const answer = await ask(rawQuery(5, 'normal.test', 15));
      expect(answer.readUInt16BE(0)).to.equal(5);
      expect(received.map((m) => m.readUInt16BE(0))).to.deep.equal([5]);
    });

    it('answers NOTIMP to an opcode other than QUERY', async () => {
      const status = rawQuery(6, 'normal.test', 15);
      status[2] = (2 << 3) | 0x01; // opcode 2 (STATUS), RD
      const answer = await ask(status);
      expect(answer.readUInt16BE(2) & 0x000f).to.equal(4);
    });
  });
});

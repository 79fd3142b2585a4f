import { expect } from 'chai';
import fs from 'node:fs';
import net from 'node:net';
import { startDeliveryWorld, type DeliveryWorld } from './helpers/delivery-env.js';
import { TEST_TLS } from './helpers/tls-fixtures.js';
import { WireClient } from './helpers/wire-client.js';
import type { Zone } from './helpers/dns-server.js';
import { validateConfig } from '../src/config.js';

const ZONES: Record<string, Zone> = {
  'src.test': { mx: [{ preference: 10, exchange: 'mx.src.test' }] },
  'mx.src.test': { a: ['127.0.0.2'] },
  'plain.test': { mx: [{ preference: 10, exchange: 'mx.plain.test' }] },
  'mx.plain.test': { a: ['127.0.0.2'] },
  'secure.test': { mx: [{ preference: 10, exchange: 'mx.secure.test' }] },
  'mx.secure.test': { a: ['127.0.0.3'] },
  'nullmx.test': { mx: [{ preference: 0, exchange: '.' }] },
};
const CERT = { cert: fs.readFileSync(TEST_TLS.cert), key: fs.readFileSync(TEST_TLS.key) };

/** GET over a real socket; the status, the content type and the body. */
async function scrape(url: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; body: string }> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
  return { status: response.status, type: response.headers.get('content-type') ?? '', body: await response.text() };
}

/** "name{labels}" → value, for every sample line of an exposition. */
function samples(text: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    found.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return found;
}

/** The first line the server sends on a connection from `localAddress`. */
function firstLine(port: number, localAddress: string): Promise<{ line: string; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    const timer = setTimeout(() => { socket.destroy(); reject(new Error('no greeting within 3 s')); }, 3000);
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n');
      if (end === -1) return;
      clearTimeout(timer);
      socket.removeAllListeners('data');
      resolve({ line: text.slice(0, end), socket });
    });
    socket.once('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

describe('metrics: Prometheus text format at /metrics, scraped after real traffic', () => {
  let world: DeliveryWorld;
  afterEach(async () => { await world.stop(); });

  it('counts connections, refusals, messages, outcomes, latency, DNS verdicts, TLS and the queue on the dedicated listener', async () => {
    world = await startDeliveryWorld(structuredClone(ZONES), {
      tls: TEST_TLS,
      listen: [{ host: '127.0.0.1', port: 0, mode: 'relay', tls: 'starttls' }],
      limits: { maxConnectionsPerIp: 3 },
      // 127.0.0.5 outside relay.networks, so the per-address limit applies to it.
      relay: { networks: ['127.0.0.1/32'] },
      http: { metrics: '127.0.0.1:0' },
    });
    const relay = world.relay;
    expect(relay.http, 'http.metrics alone starts no HTTP API').to.equal(undefined);
    await world.addSink('127.0.0.3', {}, { tls: CERT });
    const url = relay.metricsServer!.url;

    // One message delivered in plaintext (127.0.0.2), one over STARTTLS (127.0.0.3).
    const plain = await world.send('a@src.test', ['u@plain.test']);
    expect(plain.reply.code).to.equal(250);
    const secure = await world.send('a@src.test', ['v@secure.test']);
    expect((await world.attempt(plain.id)).done).to.equal(true);
    expect((await world.attempt(secure.id)).done).to.equal(true);

    // A client that starts TLS, then asks for a null-MX domain (RFC 7505: 556 at RCPT).
    const client = await WireClient.connect(relay.port);
    await client.reply();
    expect(await client.command('EHLO client.test')).to.match(/^250/);
    expect(await client.command('STARTTLS')).to.match(/^220/);
    await client.startTls();
    expect(await client.command('EHLO client.test')).to.match(/^250/);
    expect(await client.command('MAIL FROM:<a@src.test>')).to.match(/^250/);
    expect(await client.command('RCPT TO:<x@nullmx.test>')).to.match(/^556/);

    // A fourth connection from one address while three are open: 421 (limits.maxConnectionsPerIp).
    const held = [];
    for (let i = 0; i < 3; i++) held.push(await firstLine(relay.port, '127.0.0.5'));
    expect(held.map((h) => h.line.slice(0, 4))).to.deep.equal(['220 ', '220 ', '220 ']);
    const refused = await firstLine(relay.port, '127.0.0.5');
    expect(refused.line).to.match(/^421 /);

    const { status, type, body } = await scrape(url);
    expect(status).to.equal(200);
    expect(type).to.equal('text/plain; version=0.0.4; charset=utf-8');
    const s = samples(body);
    // The two sends, the STARTTLS client and the three held from 127.0.0.5; the last four still open.
    expect(s.get('minimta_connections_total')).to.equal(6);
    expect(s.get('minimta_connections_current')).to.be.within(4, 6);
    expect(s.get('minimta_connections_refused_total{reason="max_connections_per_ip"}')).to.equal(1);
    expect(s.get('minimta_messages_received_total')).to.equal(2);
    expect(s.get('minimta_recipient_outcomes_total{outcome="delivered"}')).to.equal(2);
    expect(s.get('minimta_recipient_outcomes_total{outcome="bounced"}')).to.equal(0);
    expect(s.get('minimta_delivery_latency_seconds_count')).to.equal(2);
    expect(s.get('minimta_delivery_latency_seconds_bucket{le="+Inf"}')).to.equal(2);
    expect(s.get('minimta_delivery_latency_seconds_bucket{le="60"}')).to.equal(2);
    expect(s.get('minimta_dns_lookups_total{verdict="null-mx"}')).to.equal(1);
    expect(s.get('minimta_dns_lookups_total{verdict="hosts"}')).to.be.at.least(2);
    expect(s.get('minimta_tls_inbound_total{mode="starttls"}')).to.equal(1);
    expect(s.get('minimta_outbound_transactions_total{tls="yes"}')).to.equal(1);
    expect(s.get('minimta_outbound_transactions_total{tls="no"}')).to.equal(1);
    expect(s.get('minimta_queue_messages{state="queued"}')).to.equal(0);
    expect(s.get('minimta_queue_messages{state="deferred"}')).to.equal(0);
    expect(body).to.include('# TYPE minimta_delivery_latency_seconds histogram\n');

    client.close();
    for (const { socket } of [...held, refused]) socket.destroy();
    expect((await scrape(url.replace(/metrics$/, 'api/messages'))).status, 'only /metrics on the dedicated listener').to.equal(404);
  });

  it('serves /metrics on the HTTP API, behind http.token, with a deferred message counted in the queue', async () => {
    world = await startDeliveryWorld(structuredClone(ZONES), {
      http: { listen: '127.0.0.1:0', token: 'scrape-secret' },
      delivery: { retrySchedule: [60] },
    });
    const relay = world.relay;
    expect(relay.metricsServer).to.equal(undefined);
    // mx.secure.test (127.0.0.3) has no sink here: the connection is refused and the message deferred.
    const { id } = await world.send('a@src.test', ['v@secure.test']);
    expect((await world.attempt(id)).outcomes[0]!.kind).to.equal('deferred');
    const url = `${relay.http!.url}/metrics`;
    expect((await scrape(url)).status).to.equal(401);
    const { status, body } = await scrape(url, { authorization: 'Bearer scrape-secret' });
    expect(status).to.equal(200);
    const s = samples(body);
    expect(s.get('minimta_messages_received_total')).to.equal(1);
    expect(s.get('minimta_recipient_outcomes_total{outcome="deferred"}')).to.equal(1);
    expect(s.get('minimta_queue_messages{state="deferred"}')).to.equal(1);
    expect(s.get('minimta_delivery_latency_seconds_count')).to.equal(0);
  });
});

describe('config: http.metrics', () => {
  it('alone, starts no HTTP API; otherwise the API keeps its default address', () => {
    expect(validateConfig({ http: { metrics: '9465' } }).http).to.deep.equal({ metrics: '9465' });
    expect(validateConfig({ http: {} }).http).to.deep.equal({ listen: '127.0.0.1:8025' });
    expect(validateConfig({ http: { listen: '8025', metrics: '9465' } }).http).to.deep.equal({ listen: '8025', metrics: '9465' });
  });

  it('refuses an address that is not HOST:PORT or a port', () => {
    expect(() => validateConfig({ http: { metrics: 'nowhere' } })).to.throw(/http\.metrics/);
  });
});

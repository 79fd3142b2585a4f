import { expect } from 'chai';
import { startMinimta, type Minimta, type MtaEvent } from '../src/index.js';
import { validateConfig } from '../src/config.js';
import { WireClient } from './helpers/wire-client.js';

/**
 * A whole test world without a DNS server: dns.zones gives the records,
 * delivery.routes points MX hosts at listeners on other ports.
 */
describe('a test world: dns.zones and delivery.routes, no DNS server', function () {
  this.timeout(30_000);
  let sink: Minimta;
  let relay: Minimta;

  before(async () => {
    sink = await startMinimta({ listeners: [{ mode: 'capture' }, { mode: 'refuse' }] });
    const [capture, refuse] = sink.listeners;
    relay = await startMinimta({
      mode: 'relay',
      config: {
        dns: {
          servers: ['127.0.0.1:9'],
          timeout: 0.2,
          zones: {
            'app.test': { mx: [{ preference: 10, exchange: 'mx.app.test' }] },
            'mx.app.test': { a: ['127.0.0.1'] },
            'nomail.test': { mx: [{ preference: 0, exchange: '.' }] },
            'gone.test': 'NXDOMAIN',
            'refusing.test': { mx: [{ preference: 10, exchange: 'mx.refusing.test' }] },
            'mx.refusing.test': { a: ['127.0.0.1'] },
            'direct.test': { a: ['192.0.2.1'] },
          },
        },
        delivery: {
          routes: {
            'mx.app.test': `127.0.0.1:${capture!.port}`,
            'mx.refusing.test': `127.0.0.1:${refuse!.port}`,
            'direct.test': `127.0.0.1:${capture!.port}`,
          },
          retrySchedule: [60],
          timeouts: { connect: 2, greeting: 2, command: 2, dataBlock: 2, dataEnd: 2 },
        },
      },
    });
  });
  after(async () => {
    await relay?.close();
    await sink?.close();
  });

  async function client(): Promise<WireClient> {
    const c = await WireClient.connect(relay.port);
    await c.reply();
    expect(await c.command('EHLO app.test')).to.equal('250');
    return c;
  }

  it('answers RCPT from the static zones: a null MX gets 556 5.1.10, NXDOMAIN 550 5.1.2, a name below a zone that is not listed 550 5.1.2', async () => {
    const c = await client();
    expect(await c.command('MAIL FROM:<me@app.test>')).to.equal('250 2.1.0');
    expect(await c.command('RCPT TO:<u@nomail.test>')).to.equal('556 5.1.10');
    expect(await c.command('RCPT TO:<u@gone.test>')).to.equal('550 5.1.2');
    expect(await c.command('RCPT TO:<u@sub.gone.test>')).to.equal('550 5.1.2');
    expect(await c.command('RCPT TO:<u@unlisted.app.test>')).to.equal('550 5.1.2');
    c.close();
  });

  it('delivers through the MX of the zone to the port its route names, and a routed domain straight to its HOST:PORT', async () => {
    const c = await client();
    expect((await c.sendMail('me@app.test', ['bob@app.test'], 'Subject: via mx\r\n\r\nhi\r\n')).code).to.equal(250);
    expect((await c.sendMail('me@app.test', ['carol@direct.test'], 'Subject: via route\r\n\r\nhi\r\n')).code).to.equal(250);
    c.close();
    expect((await sink.waitForMessage({ subject: 'via mx' }, 10_000)).to).to.deep.equal(['bob@app.test']);
    expect((await sink.waitForMessage({ subject: 'via route' }, 10_000)).to).to.deep.equal(['carol@direct.test']);
  });

  it('an MX routed to a refuse listener gets 521 and the message bounces at once', async () => {
    const bounced = new Promise<MtaEvent>((resolve) => relay.events.once('bounced', resolve));
    const c = await client();
    expect((await c.sendMail('me@app.test', ['dave@refusing.test'], 'Subject: refused\r\n\r\nhi\r\n')).code).to.equal(250);
    c.close();
    const event = await bounced;
    expect(event.recipient).to.equal('dave@refusing.test');
    expect(event.reply).to.match(/^521 5\.3\.2 /);
    // The DSN goes back to me@app.test, whose MX is the sink.
    const dsn = await sink.waitForMessage({ to: 'me@app.test' }, 10_000);
    expect(dsn.from).to.equal('');
  });

  it('refuses a bad zone or route in the config, naming the key', () => {
    expect(() => validateConfig({ dns: { zones: { 'a.test': { a: ['::1'] } } } })).to.throw(/dns\.zones\.a\.test\.a\[0\]: "::1" is not an IPv4 address/);
    expect(() => validateConfig({ dns: { zones: { 'a.test': { cname: 'b.test' } } } })).to.throw(/dns\.zones\.a\.test\.cname: unknown key/);
    expect(() => validateConfig({ delivery: { routes: { 'a.test': 'host:port' } } })).to.throw(/delivery\.routes\.a\.test/);
  });
});

import { expect } from 'chai';
import { captureIo } from './helpers/cli-io.js';
import { TestDnsServer } from './helpers/dns-server.js';
import { resolveCommand } from '../src/cli/resolve-command.js';

describe('minimta resolve DOMAIN', () => {
  let dns: TestDnsServer;
  before(async () => {
    dns = await TestDnsServer.start({
      'nullmx.test': { mx: [{ preference: 0, exchange: '.' }] },
      'normal.test': { mx: [{ preference: 20, exchange: 'mx2.normal.test' }, { preference: 10, exchange: 'mx1.normal.test' }] },
      'mx1.normal.test': { a: ['127.0.0.2'], aaaa: ['::1'] },
      'mx2.normal.test': { a: ['127.0.0.3'] },
      'amx.test': { a: ['127.0.0.4'] },
      'servfail.test': { rcode: 'SERVFAIL' },
    });
  });
  after(async () => { await dns.stop(); });

  async function resolve(domain: string) {
    const captured = captureIo();
    const code = await resolveCommand([domain, '--dns-server', dns.address, '--hostname', 'mx.minimta.test'], captured.io);
    return { code, stdout: captured.stdout(), stderr: captured.stderr() };
  }

  it('says a null MX domain takes no mail and RCPT gets 556 5.1.10; a definite answer exits 0', async () => {
    const { code, stdout } = await resolve('nullmx.test');
    expect(code).to.equal(0);
    expect(stdout).to.equal('nullmx.test: null MX (RFC 7505): RCPT gets 556 5.1.10, MAIL FROM gets 550 5.7.27\n');
  });

  it('lists the MX hosts in order of preference with their addresses', async () => {
    const { code, stdout } = await resolve('normal.test');
    expect(code).to.equal(0);
    expect(stdout).to.equal('normal.test: MX 10 mx1.normal.test [127.0.0.2, ::1]\nnormal.test: MX 20 mx2.normal.test [127.0.0.3]\n'
      + 'normal.test: MTA-STS: no policy (no MTA-STS TXT record at _mta-sts.normal.test)\n'
      + 'normal.test: TLS: STARTTLS when offered, certificate not checked (delivery.tls)\n');
  });

  it('names the implicit MX of a domain with only an address record', async () => {
    const { code, stdout } = await resolve('amx.test');
    expect(code).to.equal(0);
    expect(stdout).to.match(/^amx\.test: no MX, implicit MX \(RFC 5321 §5\.1\): amx\.test \[127\.0\.0\.4\]\namx\.test: MTA-STS: no policy/);
  });

  it('says there is no such domain (NXDOMAIN), and exits 0: DNS answered', async () => {
    const { code, stdout } = await resolve('nx.test');
    expect(code).to.equal(0);
    expect(stdout).to.match(/^nx\.test: no such domain \(.*\): RCPT gets 550 5\.1\.2\n$/);
  });

  it('exits 1 on a temporary failure, where delivery would only wait', async () => {
    const { code, stdout } = await resolve('servfail.test');
    expect(code).to.equal(1);
    expect(stdout).to.match(/^servfail\.test: temporary DNS failure \(.*\): RCPT is accepted, delivery waits 451 4\.4\.3\n$/);
  });

  it('exits 2 with the usage when no domain is given', async () => {
    const captured = captureIo();
    expect(await resolveCommand([], captured.io)).to.equal(2);
    expect(captured.stderr()).to.equal('minimta: resolve: no domain given\nusage: minimta resolve DOMAIN [--config FILE] [--dns-server HOST:PORT]...\n');
  });
});

import { expect } from 'chai';
import fs from 'node:fs';
import { startDeliveryWorld, type DeliveryWorld } from './helpers/delivery-env.js';
import { TEST_TLS } from './helpers/tls-fixtures.js';
import type { Zone } from './helpers/dns-server.js';

const ZONES: Record<string, Zone> = {
  'secure.test': { mx: [{ preference: 10, exchange: 'mx.secure.test' }] },
  'mx.secure.test': { a: ['127.0.0.3'] },
  'smarthost.test': { a: ['127.0.0.3'] },
};
const CERT = { cert: fs.readFileSync(TEST_TLS.cert), key: fs.readFileSync(TEST_TLS.key) };

describe('delivery over TLS and through an authenticating smarthost (RFC 3207, RFC 4954)', () => {
  let world: DeliveryWorld;
  afterEach(async () => { await world.stop(); });

  it('uses STARTTLS to a next hop that offers it (opportunistic by default)', async () => {
    world = await startDeliveryWorld(structuredClone(ZONES));
    const sink = await world.addSink('127.0.0.3', {}, { tls: CERT });
    const { id } = await world.send('a@src.test', ['u@secure.test']);
    const [message] = await sink.waitForMessages(1);
    expect(message!.tls).to.equal(true);
    expect((await world.attempt(id)).done).to.equal(true);
  });

  it('with delivery.tls "required", defers rather than send in plaintext', async () => {
    world = await startDeliveryWorld(structuredClone(ZONES), { delivery: { tls: 'required' } });
    const sink = await world.addSink('127.0.0.3');
    const { id } = await world.send('a@src.test', ['u@secure.test']);
    const { outcomes } = await world.attempt(id);
    expect(outcomes[0]!.kind).to.equal('deferred');
    expect(sink.messages).to.have.length(0);
  });

  it('relays everything through a smarthost that requires AUTH, under STARTTLS', async () => {
    world = await startDeliveryWorld(structuredClone(ZONES), (port) => ({
      smarthost: { host: 'smarthost.test', port, username: 'relayuser', password: 's3cret pass', tls: 'required' },
      // Recipients' domains need no DNS: everything goes to the smarthost.
      dns: { checkRecipients: false, checkSenders: false },
    }));
    const smarthost = await world.addSink('127.0.0.3', {}, { tls: CERT, auth: { users: { relayuser: 's3cret pass' }, required: true } });
    const { id } = await world.send('a@src.test', ['x@anywhere.example', 'y@elsewhere.example'], 'Subject: via smarthost\r\n\r\nhi\r\n');
    const [message] = await smarthost.waitForMessages(1);
    expect(message!.authUser).to.equal('relayuser');
    expect(message!.tls).to.equal(true);
    expect(message!.recipients.sort()).to.deep.equal(['x@anywhere.example', 'y@elsewhere.example']);
    expect(smarthost.plaintextPasswordLines).to.deep.equal([]);
    expect((await world.attempt(id)).done).to.equal(true);
    expect(world.relay.logs.join('\n')).to.not.include('s3cret');
  });

  it('will not send the smarthost password in plaintext: defers instead', async () => {
    world = await startDeliveryWorld(structuredClone(ZONES), (port) => ({
      smarthost: { host: 'smarthost.test', port, username: 'relayuser', password: 's3cret pass' },
      dns: { checkRecipients: false, checkSenders: false },
    }));
    const smarthost = await world.addSink('127.0.0.3', {}, { auth: { users: { relayuser: 's3cret pass' }, withoutTls: true } });
    const { id } = await world.send('a@src.test', ['x@anywhere.example']);
    const { outcomes } = await world.attempt(id);
    expect(outcomes[0]!.kind).to.equal('deferred');
    expect(smarthost.plaintextPasswordLines).to.deep.equal([]);
    expect(smarthost.messages).to.have.length(0);
  });
});

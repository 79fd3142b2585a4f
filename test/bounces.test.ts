import { expect } from 'chai';
import { startDeliveryWorld, type DeliveryWorld } from './helpers/delivery-env.js';
import type { Zone } from './helpers/dns-server.js';
import { parseEntity, parseContentType, splitMultipart } from './helpers/mime-parse.js';

const ZONES: Record<string, Zone> = {
  'dest.test': { mx: [{ preference: 10, exchange: 'mx.dest.test' }] },
  'mx.dest.test': { a: ['127.0.0.2'] },
  'broken.test': { rcode: 'SERVFAIL' },
  'sender.test': { mx: [{ preference: 10, exchange: 'mx.sender.test' }] },
  'mx.sender.test': { a: ['127.0.0.4'] },
};

describe('bounces from the queue (RFC 3464, RFC 5321 §6.1)', function () {
  let world: DeliveryWorld;
  afterEach(async () => { await world.stop(); });

  async function senderMailbox() {
    return world.addSink('127.0.0.4');
  }

  it('sends one DSN listing every recipient that failed, from <> to the sender', async () => {
    world = await startDeliveryWorld(structuredClone(ZONES));
    const inbox = await senderMailbox();
    world.sinks[0]!.behaviour = { replies: { RCPT: (arg) => (arg.includes('ok@') ? undefined : '550 5.1.1 no such user') } };
    const { id } = await world.send('alice@sender.test', ['x@dest.test', 'y@dest.test', 'ok@dest.test'], 'Subject: original\r\nMessage-ID: <orig@sender.test>\r\n\r\nbody\r\n');
    expect((await world.attempt(id)).done).to.equal(true);
    const [dsn] = await inbox.waitForMessages(1);
    expect(dsn!.sender).to.equal('');
    expect(dsn!.recipients).to.deep.equal(['alice@sender.test']);
    const message = parseEntity(dsn!.data);
    expect(message.header('from')).to.include('MAILER-DAEMON@mx.minimta.test');
    expect(message.header('auto-submitted')).to.equal('auto-replied');
    const type = parseContentType(message.header('content-type')!);
    expect(message.header('content-type')).to.match(/^multipart\/report; report-type=delivery-status;/);
    const parts = splitMultipart(message.body, type.params.boundary!).parts.map(parseEntity);
    expect(parts.map((p) => parseContentType(p.header('content-type')!).type)).to.deep.equal(['text/plain', 'message/delivery-status', 'text/rfc822-headers']);
    const text = dsn!.data.toString();
    expect(text).to.include('Final-Recipient: rfc822; x@dest.test');
    expect(text).to.include('Final-Recipient: rfc822; y@dest.test');
    expect(text).to.not.include('Final-Recipient: rfc822; ok@dest.test');
    expect(text).to.include('Remote-MTA: dns; mx.dest.test');
    expect(text).to.include('Diagnostic-Code: smtp; 550 5.1.1 no such user');
    expect(text).to.include('Subject: original');
    expect(inbox.messages).to.have.length(1);
    // The delivered copy went to the one good recipient.
    expect(world.sinks[0]!.messages.map((m) => m.recipients)).to.deep.equal([['ok@dest.test']]);
  });

  it('gives up after delivery.maxQueueLifetime with the last real status', async () => {
    world = await startDeliveryWorld(structuredClone(ZONES), { delivery: { maxQueueLifetime: 0.5 } });
    const inbox = await senderMailbox();
    const { id } = await world.send('alice@sender.test', ['u@broken.test']);
    // The worker queues the DSN (durably) before it removes the original, and
    // the DSN's own delivery starts at once: it may reach the inbox before the
    // worker has reported the original done. Both must happen; wait for both.
    await Promise.all([inbox.waitForMessages(1, 8000), leftTheQueue(world, id, 8000)]);
    const attempts = world.attempts.get(id)!;
    // How many attempts fit in the lifetime depends on the machine's load
    // (a slow first attempt may already reach it): only the last one matters.
    expect(attempts.at(-1)!.done).to.equal(true);
    const text = inbox.messages[0]!.data.toString();
    expect(text).to.include('Action: failed');
    expect(text).to.include('Status: 4.4.3');
    expect(await world.relay.spool.exists(id)).to.equal(false);
  });

  it('warns the sender once when delivery.delayWarning passes, and keeps trying', async () => {
    world = await startDeliveryWorld(structuredClone(ZONES), { delivery: { delayWarning: 0.2 } });
    const inbox = await senderMailbox();
    const { id } = await world.send('alice@sender.test', ['u@broken.test']);
    const [warning] = await inbox.waitForMessages(1, 8000);
    const text = warning!.data.toString();
    expect(text).to.include('Action: delayed');
    expect(text).to.include('Will-Retry-Until:');
    const envelope = await world.relay.spool.readEnvelope(id);
    expect(envelope.delayWarned).to.equal(true);
    expect(envelope.recipients[0]!.state).to.equal('pending');
    await world.attempt(id, envelope.attempts + 1);
    expect(inbox.messages).to.have.length(1);
  });

  it('drops an undeliverable bounce after its own lifetime, without a bounce about it', async () => {
    world = await startDeliveryWorld(structuredClone(ZONES), { delivery: { bounceLifetime: 0.4 } });
    world.sinks[0]!.behaviour = { replies: { RCPT: '550 5.1.1 no such user' } };
    // The sender's own domain is broken: its bounce can never be delivered.
    const { id } = await world.send('alice@broken.test', ['x@dest.test']);
    await world.attempt(id);
    const bounceLog = () => world.relay.logs.find((l) => l.includes('non-delivery notification'));
    expect(bounceLog()).to.be.a('string');
    const bounceId = /notification: (\S+)/.exec(bounceLog()!)![1]!;
    // The worker logs the failure when it reports it, and only then removes the
    // bounce from the spool: wait for it to leave the queue, not for the log line.
    await leftTheQueue(world, bounceId, 8000);
    expect(world.relay.logs.some((l) => l.includes(`${bounceId}: to=<alice@broken.test>: undeliverable, sender is <>`))).to.equal(true);
    expect(await world.relay.spool.list()).to.deep.equal([]);
  });
});

/** Resolves once the worker reports message `id` done: it has left the spool. */
function leftTheQueue(world: DeliveryWorld, id: string, timeoutMs: number): Promise<void> {
  if (world.attempts.get(id)?.at(-1)?.done) return Promise.resolve();
  const worker = world.relay.worker;
  return new Promise((resolve, reject) => {
    const listener = (seen: string, _outcomes: unknown, done: boolean) => {
      if (seen !== id || !done) return;
      clearTimeout(timer);
      worker.off('attempted', listener);
      resolve();
    };
    const timer = setTimeout(() => {
      worker.off('attempted', listener);
      reject(new Error(`${id} was not done within ${timeoutMs} ms (${world.attempts.get(id)?.length ?? 0} attempts)`));
    }, timeoutMs);
    worker.on('attempted', listener);
  });
}

import { expect } from 'chai';
import http from 'node:http';
import { startMinimta, type Minimta } from '../src/index.js';
import { applyFlags, defaultConfig, validateConfig } from '../src/config.js';
import { WireClient } from './helpers/wire-client.js';
import { readStoredTranscript } from '../src/trace/trace-store.js';

async function send(port: number, to: string, subject: string, body = 'hello\r\n'): Promise<string> {
  const client = await WireClient.connect(port);
  try {
    await client.reply();
    await client.command('EHLO app.test');
    const reply = await client.sendMail('app@sender.test', [to], `Subject: ${subject}\r\n\r\n${body}`);
    expect(reply.code).to.equal(250);
    return /queued as (\S+)/.exec(reply.lines[0]!)![1]!;
  } finally {
    client.close();
  }
}

/** Reads Server-Sent Events until `until` returns true for one; bounded by timeoutMs. */
function readEvents(url: string, until: (type: string, data: Record<string, unknown>) => boolean, timeoutMs = 5000, opened?: () => void) {
  return new Promise<Record<string, unknown>>((resolve, reject) => {
    const request = http.get(url, (response) => {
      expect(response.headers['content-type']).to.match(/^text\/event-stream/);
      let buffer = '';
      response.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        if (buffer.startsWith(': minimta events') && opened) { const o = opened; opened = undefined; o(); }
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (type && data && until(type, JSON.parse(data) as Record<string, unknown>)) {
            clearTimeout(timer);
            request.destroy();
            resolve(JSON.parse(data) as Record<string, unknown>);
          }
        }
      });
    });
    request.on('error', () => undefined);
    const timer = setTimeout(() => { request.destroy(); reject(new Error('no such event in time')); }, timeoutMs);
  });
}

describe('HTTP API (off unless configured; JSON everywhere)', () => {
  let minimta: Minimta;
  let base: string;
  beforeEach(async () => {
    minimta = await startMinimta({ http: true });
    base = minimta.http!.url;
  });
  afterEach(async () => { await minimta.close(); });

  const getJson = async (path: string, init?: RequestInit) => {
    const response = await fetch(base + path, init);
    expect(response.headers.get('content-type')).to.equal('application/json; charset=utf-8');
    return { status: response.status, body: await response.json() as any };
  };

  it('is off by default, on loopback when asked for, and the config and --http flag take HOST:PORT or a bare port', async () => {
    const plain = await startMinimta();
    try {
      expect(plain.http).to.equal(undefined);
    } finally {
      await plain.close();
    }
    expect(minimta.http!.host).to.equal('127.0.0.1');
    expect(applyFlags(defaultConfig(), { http: '8025' }).http).to.deep.equal({ listen: '8025' });
    expect(() => validateConfig({ http: { listen: 'nohost:' } })).to.throw(/http\.listen/);
    expect(() => applyFlags(defaultConfig(), { http: 'a:b:c' })).to.throw(/--http/);
  });

  it('GET /readyz says ready', async () => {
    expect(await getJson('/readyz')).to.deep.equal({ status: 200, body: { ready: true } });
  });

  it('lists and searches messages newest first, shows one parsed, gives the raw source, deletes one and all', async () => {
    const first = await send(minimta.port, 'one@example.net', 'first');
    const second = await send(minimta.port, 'two@example.net', 'second', 'second body\r\n');
    const list = await getJson('/api/messages');
    expect(list.body.map((m: { id: string }) => m.id)).to.deep.equal([second, first]);
    expect(list.body[0]).to.include({ from: 'app@sender.test', subject: 'second', state: 'captured' });
    expect((await getJson('/api/messages?to=one%40')).body.map((m: { id: string }) => m.id)).to.deep.equal([first]);
    expect((await getJson('/api/messages?subject=SEC')).body.map((m: { id: string }) => m.id)).to.deep.equal([second]);
    expect((await getJson(`/api/messages?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).body).to.deep.equal([]);
    expect((await getJson('/api/messages?since=yesterday')).status).to.equal(400);

    const one = await getJson(`/api/messages/${second}`);
    expect(one.body).to.include({ id: second, text: 'second body\r\n', subject: 'second' });
    expect(one.body.envelope.recipients[0].address).to.equal('two@example.net');
    expect(one.body.headers.map((h: { name: string }) => h.name)).to.deep.equal(['Received', 'Subject']);

    const raw = await fetch(`${base}/api/messages/${second}/raw`);
    expect(raw.headers.get('content-type')).to.equal('message/rfc822');
    const text = await raw.text();
    expect(text).to.match(/^Received: /);
    expect(text).to.have.string('\r\nSubject: second\r\n\r\nsecond body\r\n');

    expect(await getJson(`/api/messages/${first}`, { method: 'DELETE' })).to.deep.equal({ status: 200, body: { deleted: first } });
    expect((await getJson(`/api/messages/${first}`)).status).to.equal(404);
    expect(await getJson('/api/messages', { method: 'DELETE' })).to.deep.equal({ status: 200, body: { deleted: 1 } });
    expect((await getJson('/api/messages')).body).to.deep.equal([]);
  });

  it('answers errors in JSON: unknown endpoint 404, wrong method 405, unknown id 404', async () => {
    expect(await getJson('/api/nothing')).to.deep.include({ status: 404 });
    expect((await getJson('/api/nothing')).body.code).to.equal('ENOTFOUND');
    expect((await getJson('/api/messages', { method: 'PUT' })).status).to.equal(405);
    const missing = await getJson('/api/messages/0MX0OWGKC01M3M');
    expect(missing).to.deep.equal({ status: 404, body: { error: 'no message 0MX0OWGKC01M3M', code: 'ENOMSG' } });
  });

  it('long-polls: /api/messages/wait answers when a matching message arrives, and 408 on timeout', async () => {
    const waiting = getJson('/api/messages/wait?to=later%40&timeout=5');
    // The wait is in place once the mailbox listens for arrivals.
    for (let i = 0; i < 500 && minimta.events.listenerCount('received') === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(minimta.events.listenerCount('received')).to.equal(1);
    await send(minimta.port, 'other@example.net', 'not this one');
    const id = await send(minimta.port, 'later@example.net', 'this one');
    const answer = await waiting;
    expect(answer.status).to.equal(200);
    expect(answer.body.id).to.equal(id);
    const started = Date.now();
    const timedOut = await getJson('/api/messages/wait?subject=never&timeout=0.2');
    expect(timedOut.status).to.equal(408);
    expect(timedOut.body.code).to.equal('ETIMEOUT');
    expect(Date.now() - started).to.be.within(190, 8000);
  });

  it('streams events: received, with the queue id', async () => {
    let opened!: () => void;
    const open = new Promise<void>((resolve) => { opened = resolve; });
    const received = readEvents(`${base}/api/events`, (type) => type === 'received', 5000, opened);
    await open;
    const id = await send(minimta.port, 'x@example.net', 'evented');
    expect(await received).to.include({ type: 'received', id });
  });

  it('offers the queue operations of the control socket', async () => {
    const id = await send(minimta.port, 'q@example.net', 'queued');
    const listing = await getJson('/api/queue');
    expect(listing.body.envelopes.map((e: { id: string }) => e.id)).to.deep.equal([id]);
    expect((await getJson(`/api/queue/${id}/hold`, { method: 'POST' })).body.held).to.equal(true);
    expect((await getJson(`/api/queue/${id}`)).body.envelope.held).to.equal(true);
    expect((await getJson(`/api/queue/${id}/release`, { method: 'POST' })).body.held).to.equal(false);
    expect((await getJson('/api/queue/flush', { method: 'POST' })).body).to.deep.equal({ ids: [] });
    expect((await getJson('/api/queue', { method: 'DELETE' })).body).to.deep.equal({ ids: [id] });
  });

  it('refuses requests that another web page makes the browser send (Origin check)', async () => {
    const response = await getJson('/api/messages', { method: 'DELETE', headers: { origin: 'http://evil.example' } });
    expect(response).to.deep.equal({ status: 403, body: { error: 'requests from http://evil.example are not allowed', code: 'EORIGIN' } });
  });

  it('serves the web inbox page and its script', async () => {
    const page = await fetch(`${base}/`);
    expect(page.headers.get('content-type')).to.equal('text/html; charset=utf-8');
    expect(await page.text()).to.have.string('<script type="module" src="/inbox.js">');
    expect((await fetch(`${base}/inbox.js`)).status).to.equal(200);
    expect((await fetch(`${base}/../package.json`)).status).to.equal(404);
  });
});

describe('HTTP API with a bearer token', () => {
  let minimta: Minimta;
  before(async () => { minimta = await startMinimta({ http: { token: 's3cret' } }); });
  after(async () => { await minimta.close(); });

  it('refuses /api/ without the token (401, JSON), accepts it as a header or as ?token= for EventSource', async () => {
    const base = minimta.http!.url;
    const refused = await fetch(`${base}/api/messages`);
    expect(refused.status).to.equal(401);
    expect(await refused.json()).to.deep.equal({ error: 'a valid bearer token is required', code: 'EAUTH' });
    expect((await fetch(`${base}/api/messages`, { headers: { authorization: 'Bearer wrong' } })).status).to.equal(401);
    expect((await fetch(`${base}/api/messages`, { headers: { authorization: 'Bearer s3cret' } })).status).to.equal(200);
    expect((await fetch(`${base}/api/messages?token=s3cret`)).status).to.equal(200);
    expect((await fetch(`${base}/readyz`)).status).to.equal(200);
  });
});

describe('HTTP API: SMTP session transcripts (config trace)', () => {
  let minimta: Minimta;
  let base: string;
  afterEach(async () => { await minimta.close(); });

  const getJson = async (path: string) => {
    const response = await fetch(base + path);
    expect(response.headers.get('content-type')).to.equal('application/json; charset=utf-8');
    return { status: response.status, body: await response.json() as any };
  };

  /** Polls the ring until `id`'s session has ended (the server sees the QUIT's close); bounded. */
  async function finishedSession(queueId: string, timeoutMs = 5000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { body } = await getJson('/api/sessions');
      const found = (body as any[]).find((s) => s.queueIds.includes(queueId) && s.finished);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`session of ${queueId} not finished in time`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('lists the ring, shows one session, and a message gives its stored transcript', async () => {
    minimta = await startMinimta({ http: true, config: { trace: { enabled: true } } });
    base = minimta.http!.url;
    const client = await WireClient.connect(minimta.port);
    await client.reply();
    await client.command('EHLO app.test');
    const reply = await client.sendMail('app@sender.test', ['bob@example.test'], 'Subject: traced\r\n\r\nhello\r\n');
    const queueId = /queued as (\S+)/.exec(reply.lines[0]!)![1]!;
    expect(await client.command('QUIT')).to.match(/^221/);
    client.close();

    const session = await finishedSession(queueId);
    expect(session).to.include({ direction: 'inbound', finished: true });
    expect(session.id).to.match(/^in-\d+$/);
    expect(session.peer).to.contain('127.0.0.1');

    const one = await getJson(`/api/sessions/${session.id}`);
    expect(one.status).to.equal(200);
    expect(one.body.info).to.deep.equal(session);
    expect(one.body.text).to.contain('EHLO app.test').and.to.contain('MAIL FROM:<app@sender.test>').and.to.contain(queueId);

    const stored = await getJson(`/api/messages/${queueId}/transcript`);
    expect(stored.status).to.equal(200);
    expect(stored.body.id).to.equal(queueId);
    expect(stored.body.text).to.contain('RCPT TO:<bob@example.test>').and.to.contain('QUIT');

    // Deleted, the message takes its stored transcripts with it (the ring keeps the session).
    expect(await readStoredTranscript(minimta.mta.spool.dir, queueId)).to.be.a('string');
    expect((await fetch(`${base}/api/messages/${queueId}`, { method: 'DELETE' })).status).to.equal(200);
    expect(await readStoredTranscript(minimta.mta.spool.dir, queueId)).to.equal(undefined);
    expect((await getJson(`/api/messages/${queueId}/transcript`)).status).to.equal(404);
    expect((await getJson(`/api/sessions/${session.id}`)).status).to.equal(200);

    expect(await getJson('/api/sessions/in-999999')).to.deep.include({ status: 404 });
    expect((await getJson('/api/sessions/in-999999')).body.code).to.equal('ENOSESSION');
    const unknown = await getJson('/api/messages/0MX0OWGKC01M3M/transcript');
    expect(unknown.status).to.equal(404);
  });

  it('says clearly that tracing is off, and a message without a transcript is a 404', async () => {
    minimta = await startMinimta({ http: true });
    base = minimta.http!.url;
    const list = await getJson('/api/sessions');
    expect(list.status).to.equal(409);
    expect(list.body).to.include({ code: 'ETRACEOFF' });
    expect(list.body.error).to.match(/tracing is off/);
    expect((await getJson('/api/sessions/in-1')).body.code).to.equal('ETRACEOFF');
    const client = await WireClient.connect(minimta.port);
    await client.reply();
    await client.command('EHLO app.test');
    const reply = await client.sendMail('app@sender.test', ['bob@example.test'], 'Subject: untraced\r\n\r\nhello\r\n');
    client.close();
    const queueId = /queued as (\S+)/.exec(reply.lines[0]!)![1]!;
    const stored = await getJson(`/api/messages/${queueId}/transcript`);
    expect(stored.status).to.equal(404);
    expect(stored.body).to.include({ code: 'ENOTRANSCRIPT' });
    expect(stored.body.error).to.match(/tracing is off/);
  });
});

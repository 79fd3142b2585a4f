// The lab (docs/learn-smtp.md) cannot rot: each exercise is run here over
// loopback, as the doc tells a student to run it, and its transcript must
// equal the one printed in the doc once times, queue ids and ports are
// normalised. The doc marks each expected transcript with
// <!-- lab: NAME --> right before its ```text block.
//
// When a change to minimta changes a transcript on purpose (a new EHLO
// keyword, say), `LAB_UPDATE=1 npx mocha --no-config --import=tsx --exit
// test/learn-smtp.test.ts` writes the new transcripts into the doc; read
// the diff before committing it.

import { expect } from 'chai';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestDnsServer, type Zone } from './helpers/dns-server.js';
import { WireClient } from './helpers/wire-client.js';
import { startTestRelay, type TestRelay } from './helpers/test-relay.js';
import { readStoredTranscript } from '../src/trace/trace-store.js';

const DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../docs/learn-smtp.md');

/** What the real DNS says about the lab's domains (example.com publishes a null MX, RFC 7505). */
const LAB_ZONES: Record<string, Zone> = { 'example.com': { mx: [{ preference: 0, exchange: '.' }] } };

/** The ```text block after each <!-- lab: NAME --> marker. */
async function expectedTranscripts(): Promise<Map<string, string>> {
  const text = await fs.readFile(DOC, 'utf8');
  const blocks = new Map<string, string>();
  for (const m of text.matchAll(/<!-- lab: ([\w-]+) -->\s*```text\n([\s\S]*?)```/g)) blocks.set(m[1]!, m[2]!);
  return blocks;
}

/** Times, dates, queue ids, ports, session numbers and generated header values vary from run to run. */
export function normalise(transcript: string): string {
  const ids = new Map<string, string>();
  return transcript
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '2026-01-01T12:00:00.000Z')
    .replace(/\b\d\d:\d\d:\d\d\.\d{3}\b/g, '12:00:00.000')
    .replace(/\b0[0-9A-Z]{13}\b/g, (id) => {
      if (!ids.has(id)) ids.set(id, `0LAB${String(ids.size + 1).padStart(10, '0')}`);
      return ids.get(id)!;
    })
    .replace(/(\]|127\.0\.0\.1):\d+/g, '$1:2526')
    .replace(/; \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}/g, '; Sun, 29 Nov 2026 12:00:00 +0000')
    .replace(/\b(in|out)-\d+\b/g, '$1-N')
    .replace(/^(\s*C: (?:Date|Message-ID): ).*$/gm, '$1…')
    .replace(/boundary="[^"]*"/g, 'boundary="…"')
    .replace(/message: \d+ bytes, \d+ lines/g, 'message: N bytes, N lines')
    .replace(/ SIZE=\d+/g, ' SIZE=N')
    .split('\n').map((l) => l.trimEnd()).join('\n')
    .trim();
}

/** A student at `nc -C`: one line at a time, waiting for each reply. */
async function typeAt(port: number, lines: string[]): Promise<void> {
  const client = await WireClient.connect(port);
  await client.reply();
  let inData = false;
  for (const line of lines) {
    client.send(`${line}\r\n`);
    if (inData && line !== '.') continue;
    inData = false;
    const r = await client.reply();
    if (r.code === 354) inData = true;
  }
  await client.waitClosed();
  client.close();
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Resolves when the session's transcript has ended (the server saw the close). */
async function finished(relay: TestRelay, direction: 'inbound' | 'outbound', count = 1): Promise<string[]> {
  for (let i = 0; i < 250; i++) {
    const done = relay.trace!.recent().filter((t) => t.direction === direction && t.finished);
    if (done.length >= count) return done.map((t) => relay.trace!.get(t.id)!.text);
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no ${count} finished ${direction} transcript(s) within 5 s`);
}

function attempted(relay: TestRelay, nth: number): Promise<void> {
  let seen = 0;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no delivery attempt #${nth} within 8 s`)), 8000);
    relay.worker.on('attempted', () => {
      if (++seen === nth) { clearTimeout(timer); resolve(); }
    });
  });
}

const LAB_TRACE = { enabled: true, bodies: false };
const RELAY_DNS_OFF = { checkRecipients: false, checkSenders: false };

/** Each exercise, run as the doc says; returns its transcript. */
const EXERCISES: Record<string, (cleanup: Array<() => Promise<void>>) => Promise<string>> = {
  async 'send-by-hand'(cleanup) {
    const relay = await startTestRelay({ hostname: 'relay.lab.test', listen: [{ host: '127.0.0.1', port: 0, mode: 'capture' }], trace: LAB_TRACE });
    cleanup.push(() => relay.cleanup());
    await typeAt(relay.port, [
      'EHLO student.lab.test', 'MAIL FROM:<you@lab.test>', 'RCPT TO:<friend@lab.test>', 'DATA',
      'Subject: my first message', 'From: you@lab.test', 'To: friend@lab.test', '', 'Hello from the keyboard.', '.', 'QUIT',
    ]);
    return (await finished(relay, 'inbound'))[0]!;
  },

  async 'null-mx'(cleanup) {
    const dns = await TestDnsServer.start(structuredClone(LAB_ZONES));
    cleanup.push(() => dns.stop());
    const relay = await startTestRelay({ hostname: 'relay.lab.test', dns: { servers: [dns.address], timeout: 0.5 }, trace: LAB_TRACE });
    cleanup.push(() => relay.cleanup());
    await typeAt(relay.port, ['EHLO student.lab.test', 'MAIL FROM:<>', 'RCPT TO:<bob@example.com>', 'QUIT']);
    return (await finished(relay, 'inbound'))[0]!;
  },

  async 'refused-521'(cleanup) {
    const relay = await startTestRelay({ hostname: 'closed.lab.test', listen: [{ host: '127.0.0.1', port: 0, mode: 'refuse' }], trace: LAB_TRACE });
    cleanup.push(() => relay.cleanup());
    await typeAt(relay.port, ['EHLO student.lab.test', 'QUIT']);
    return (await finished(relay, 'inbound'))[0]!;
  },

  async 'relay-and-retry'(cleanup) {
    const hopPort = await freePort();
    const relay = await startTestRelay({
      hostname: 'relay.lab.test', dns: { servers: ['127.0.0.1:9'], ...RELAY_DNS_OFF }, trace: LAB_TRACE,
      delivery: { port: hopPort, retrySchedule: [60], pollInterval: 0.1 },
    });
    cleanup.push(() => relay.cleanup());
    const first = attempted(relay, 1);
    await typeAt(relay.port, ['EHLO student.lab.test', 'MAIL FROM:<you@lab.test>', 'RCPT TO:<friend@[127.0.0.1]>', 'DATA', 'Subject: relay me', '', 'hi', '.', 'QUIT']);
    await first;
    const hop = await startTestRelay({ hostname: 'hop.lab.test', listen: [{ host: '127.0.0.1', port: hopPort, mode: 'capture' }] });
    cleanup.push(() => hop.cleanup());
    const second = attempted(relay, 1);
    await relay.queue.flush();
    await second;
    await relay.trace!.flushed();
    const [id] = (await hop.spool.list());
    expect(id, 'the hop captured the message').to.not.equal(undefined);
    // Delivered, the message and its stored transcripts are gone; the ring keeps both attempts.
    const inbound = (await finished(relay, 'inbound'))[0]!;
    const queueId = /queued as (\S+)/.exec(inbound)![1]!;
    expect(await readStoredTranscript(relay.config.spool, queueId)).to.equal(undefined);
    return (await finished(relay, 'outbound', 2)).join('');
  },

  async 'read-a-bounce'(cleanup) {
    const dns = await TestDnsServer.start(structuredClone(LAB_ZONES));
    cleanup.push(() => dns.stop());
    const hopPort = await freePort();
    const hop = await startTestRelay({ hostname: 'hop.lab.test', listen: [{ host: '127.0.0.1', port: hopPort, mode: 'capture' }] });
    cleanup.push(() => hop.cleanup());
    const relay = await startTestRelay({
      hostname: 'relay.lab.test', dns: { servers: [dns.address], timeout: 0.5, ...RELAY_DNS_OFF }, trace: LAB_TRACE,
      delivery: { port: hopPort, retrySchedule: [60], pollInterval: 0.1 },
    });
    cleanup.push(() => relay.cleanup());
    const bounced = attempted(relay, 2);
    await typeAt(relay.port, ['EHLO student.lab.test', 'MAIL FROM:<you@[127.0.0.1]>', 'RCPT TO:<bob@example.com>', 'DATA', 'Subject: to a domain without mail', '', 'hi', '.', 'QUIT']);
    await bounced;
    // What the doc says the student reads in the hop's spool.
    const [bounceId] = await hop.spool.list();
    const bounce = (await hop.spool.readMessage(bounceId!)).toString().replace(/\r\n[ \t]+/g, ' ');
    expect(bounce).to.include('Content-Type: multipart/report').and.include('Action: failed').and.include('Status: 5.1.10')
      .and.include('Diagnostic-Code: smtp; 556 5.1.10 Domain example.com does not accept mail (null MX)');
    return (await finished(relay, 'outbound', 2)).join('');
  },
};

async function updateDoc(name: string, transcript: string): Promise<void> {
  const text = await fs.readFile(DOC, 'utf8');
  const marker = new RegExp(`(<!-- lab: ${name} -->\\s*\`\`\`text\\n)[\\s\\S]*?(\`\`\`)`);
  await fs.writeFile(DOC, text.replace(marker, (_all, head: string, end: string) => `${head}${transcript}\n${end}`));
}

describe('the lab: docs/learn-smtp.md, every exercise run and its transcript compared', function () {
  this.timeout(20_000);
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => { for (const step of cleanup.splice(0).reverse()) await step(); });

  it('has exactly the five exercises, each with a transcript', async () => {
    expect([...(await expectedTranscripts()).keys()]).to.deep.equal(Object.keys(EXERCISES));
  });

  for (const [name, run] of Object.entries(EXERCISES)) {
    it(`exercise "${name}": the transcript in the doc is what minimta prints`, async () => {
      const actual = normalise(await run(cleanup));
      if (process.env.LAB_UPDATE) await updateDoc(name, actual);
      const expected = (await expectedTranscripts()).get(name);
      expect(expected, `docs/learn-smtp.md has a transcript for ${name}`).to.not.equal(undefined);
      expect(actual).to.equal(normalise(expected!));
    });
  }
});

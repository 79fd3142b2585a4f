import { expect } from 'chai';
import { readdir, readFile, rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { captureIo, runCli } from './helpers/cli-io.js';
import { makeTempDir } from './helpers/test-relay.js';
import { startDeliveryWorld, type DeliveryWorld } from './helpers/delivery-env.js';
import type { Zone } from './helpers/dns-server.js';
import { sendmailCommand } from '../src/cli/sendmail-command.js';
import { parseAddressList } from '../src/cli/address-list.js';
import {
  localReceivedField, missingFields, normalizeLineEnds, recipientsFromFields, splitMessage, withoutBcc,
} from '../src/cli/local-submission.js';
import { Spool } from '../src/queue/spool/spool.js';
import type { Envelope } from '../src/queue/spool/envelope.js';
import { PROCESS_TEST_TIMEOUT_MS } from './helpers/process-timeouts.js';

const DATE = new Date('2026-11-28T17:34:12.000Z');

describe('sendmail -t: addresses in To:, Cc:, Bcc: (RFC 5322 §3.4)', () => {
  it('takes the addr-spec of name-addr and plain forms, dropping display names and comments', () => {
    expect(parseAddressList('Ann <a@x.test>, b@y.test (Bob), "Smith, John" <c@z.test>, <d@w.test>'))
      .to.deep.equal(['a@x.test', 'b@y.test', 'c@z.test', 'd@w.test']);
  });

  it('takes the members of a group and nothing for an empty one', () => {
    expect(parseAddressList('friends: d@x.test, Eve <e@x.test>;, undisclosed-recipients:;, f@x.test'))
      .to.deep.equal(['d@x.test', 'e@x.test', 'f@x.test']);
  });

  it('keeps quoted local parts and address literals whole', () => {
    expect(parseAddressList('"a b"@x.test, u@[IPv6:::1], "x:y" <"q,r"@x.test>'))
      .to.deep.equal(['"a b"@x.test', 'u@[IPv6:::1]', '"q,r"@x.test']);
  });

  it('reads folded fields, and To, Cc and Bcc whatever their case', () => {
    const { fields } = splitMessage(normalizeLineEnds(Buffer.from('TO: a@x.test,\n  b@x.test\ncc: c@x.test\nBCC: d@x.test\nSubject: s\n\nbody\n')));
    expect(recipientsFromFields(fields)).to.deep.equal(['a@x.test', 'b@x.test', 'c@x.test', 'd@x.test']);
    expect(withoutBcc(fields).map((f) => f.name)).to.deep.equal(['TO', 'cc', 'Subject']);
  });
});

describe('local submission: the message as stored', () => {
  it('turns bare LF and bare CR into CRLF, and ends the message with CRLF', () => {
    expect(normalizeLineEnds(Buffer.from('a\nb\r\nc\rd'))).to.equal('a\r\nb\r\nc\r\nd\r\n');
    expect(normalizeLineEnds(Buffer.from(''))).to.equal('');
  });

  it('ends the header section at the empty line, or at the first line that is not a field', () => {
    expect(splitMessage('Subject: a\r\n  folded\r\n\r\nbody\r\n')).to.deep.equal({
      fields: [{ name: 'Subject', text: 'Subject: a\r\n  folded' }],
      body: 'body\r\n',
    });
    expect(splitMessage('just a line of text\r\n.\r\n')).to.deep.equal({ fields: [], body: 'just a line of text\r\n.\r\n' });
  });

  it('adds only the Date:, From: and Message-ID: fields that are missing (RFC 6409 §8)', () => {
    const facts = { hostname: 'mx.test', from: 'me@mx.test', queueId: '0MX0OWGKC01M3M', date: DATE };
    expect(missingFields([], facts).map((f) => f.text)).to.deep.equal([
      'Date: Sat, 28 Nov 2026 17:34:12 +0000',
      'From: me@mx.test',
      'Message-ID: <0MX0OWGKC01M3M@mx.test>',
    ]);
    const { fields } = splitMessage('date: x\r\nFROM: y\r\nMessage-Id: <z@y>\r\n\r\n');
    expect(missingFields(fields, facts)).to.deep.equal([]);
  });

  it('writes a Received: line in the RFC 5321 §4.4 form, "for" only with a single recipient', () => {
    const facts = { hostname: 'mx.test', uid: 1000, queueId: '0MX0OWGKC01M3M', date: DATE };
    expect(localReceivedField({ ...facts, recipients: ['u@x.test'] }))
      .to.equal('Received: from localhost (uid 1000) by mx.test with local id 0MX0OWGKC01M3M for <u@x.test>; Sat, 28 Nov 2026 17:34:12 +0000');
    expect(localReceivedField({ ...facts, recipients: ['u@x.test', 'secret@bcc.test'] }))
      .to.equal('Received: from localhost (uid 1000) by mx.test with local id 0MX0OWGKC01M3M; Sat, 28 Nov 2026 17:34:12 +0000');
  });
});

describe('minimta sendmail (the command)', () => {
  let dir: string;
  let spoolDir: string;
  beforeEach(async () => {
    dir = await makeTempDir();
    spoolDir = join(dir, 'spool');
  });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  async function sendmail(stdin: string | Buffer, ...args: string[]) {
    const captured = captureIo(stdin, { now: () => DATE, controlTimeoutMs: 1000 });
    const code = await sendmailCommand([...args, '--spool', spoolDir, '--hostname', 'host.test'], captured.io);
    return { code, stdout: captured.stdout(), stderr: captured.stderr() };
  }

  /** The one queued message: its envelope and its bytes as text. */
  async function queued(): Promise<{ envelope: Envelope; text: string }> {
    const ids = await readdir(join(spoolDir, 'queue'));
    expect(ids).to.have.length(1);
    const { spool } = await Spool.open(spoolDir);
    return { envelope: await spool.readEnvelope(ids[0]!), text: (await spool.readMessage(ids[0]!)).toString('latin1') };
  }

  it('queues a message read to its end: bare LF normalised, a lone "." kept, Date: and Message-ID: added', async () => {
    const { code, stdout, stderr } = await sendmail('From: me@host.test\nSubject: cron\n\nline 1\n.\nline 3\n', 'u@normal.test');
    expect({ code, stdout, stderr }).to.deep.equal({ code: 0, stdout: '', stderr: '' });
    const { envelope, text } = await queued();
    expect(envelope).to.deep.include({
      sender: `${userInfo().username}@host.test`,
      client: { ip: '127.0.0.1', ehlo: 'localhost', protocol: 'local' },
      body: '7BIT', smtputf8: false, capture: false, held: false, attempts: 0,
      arrivedAt: DATE.toISOString(), nextAttemptAt: DATE.toISOString(),
    });
    expect(envelope.recipients).to.deep.equal([{ address: 'u@normal.test', state: 'pending', attempts: 0 }]);
    expect(envelope.size).to.equal(Buffer.byteLength(text, 'latin1'));
    const uid = process.getuid?.();
    expect(text).to.equal([
      `Received: from localhost${uid === undefined ? '' : ` (uid ${uid})`} by host.test with local id ${envelope.id} for <u@normal.test>; Sat, 28 Nov 2026 17:34:12 +0000`,
      'From: me@host.test',
      'Subject: cron',
      'Date: Sat, 28 Nov 2026 17:34:12 +0000',
      `Message-ID: <${envelope.id}@host.test>`,
      '',
      'line 1',
      '.',
      'line 3',
      '',
    ].join('\r\n'));
  });

  it('-t takes To:, Cc: and Bcc: recipients, adds those given as arguments, and removes Bcc:', async () => {
    const message = 'To: Ann <a@normal.test>\nCc: b@normal.test, "Smith, C" <c@normal.test>\nBcc: secret@normal.test\nSubject: t\n\nhi\n';
    expect((await sendmail(message, '-t', 'extra@normal.test', 'a@normal.test')).code).to.equal(0);
    const { envelope, text } = await queued();
    expect(envelope.recipients.map((r) => r.address))
      .to.deep.equal(['a@normal.test', 'b@normal.test', 'c@normal.test', 'secret@normal.test', 'extra@normal.test']);
    expect(text).to.not.match(/^Bcc:/im);
    expect(text).to.not.include('secret@normal.test');
    expect(text).to.include('\r\nTo: Ann <a@normal.test>\r\nCc: b@normal.test, "Smith, C" <c@normal.test>\r\nSubject: t\r\n');
  });

  it('-f sets the envelope sender and the added From:; -f "" is the null sender', async () => {
    expect((await sendmail('Subject: s\n\nx\n', '-f', 'cron@src.test', '-F', 'Cron Daemon', 'u@normal.test')).code).to.equal(0);
    const first = await queued();
    expect(first.envelope.sender).to.equal('cron@src.test');
    expect(first.text).to.include('\r\nFrom: Cron Daemon <cron@src.test>\r\n');
    await rm(join(spoolDir, 'queue', first.envelope.id), { recursive: true });
    expect((await sendmail('Subject: s\n\nx\n', '-f', '', 'u@normal.test')).code).to.equal(0);
    expect((await queued()).envelope.sender).to.equal('');
  });

  it('puts a message without a header section after the added fields, as its body', async () => {
    expect((await sendmail('no header here\n', 'u@normal.test')).code).to.equal(0);
    const { text } = await queued();
    expect(text).to.match(/\r\nMessage-ID: <[0-9A-Z]+@host\.test>\r\n\r\nno header here\r\n$/);
  });

  it('marks an 8-bit message 8BITMIME and keeps its bytes', async () => {
    const body = Buffer.from('Subject: caf\u00e9\n\n\u00fcber\n', 'utf8');
    expect((await sendmail(body, 'u@normal.test')).code).to.equal(0);
    const { envelope, text } = await queued();
    expect(envelope.body).to.equal('8BITMIME');
    expect(Buffer.from(text, 'latin1').toString('utf8')).to.include('Subject: caf\u00e9\r\n');
  });

  it('prints the queue id with -v', async () => {
    const { code, stdout } = await sendmail('Subject: s\n\nx\n', '-v', 'u@normal.test');
    expect(code).to.equal(0);
    expect(stdout).to.equal(`${(await queued()).envelope.id}\n`);
  });

  it('exits 2 on a bad recipient, from the arguments or from the header, and queues nothing', async () => {
    const bad = await sendmail('Subject: s\n\nx\n', 'not an address');
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.equal('minimta: sendmail: bad recipient address "not an address" on the command line: 501 5.1.3 Bad recipient address syntax\n');
    const badHeader = await sendmail('To: a@normal.test, b@@x\n\nx\n', '-t');
    expect(badHeader.code).to.equal(2);
    expect(badHeader.stderr).to.include('bad recipient address "b@@x" in the header');
    expect(await readdir(join(spoolDir, 'queue')).catch(() => [])).to.deep.equal([]);
  });

  it('exits 2 when there is no recipient at all', async () => {
    const { code, stderr } = await sendmail('Subject: s\n\nx\n', '-t');
    expect(code).to.equal(2);
    expect(stderr).to.include('minimta: sendmail: no recipients: name them, or use -t\nusage: minimta sendmail');
  });

  it('exits 1 on a line longer than 998 octets, and queues nothing', async () => {
    const { code, stderr } = await sendmail(`Subject: s\n\n${'x'.repeat(999)}\n`, 'u@normal.test');
    expect(code).to.equal(1);
    expect(stderr).to.include('line 3 is longer than 998 octets');
    expect(await readdir(join(spoolDir, 'queue')).catch(() => [])).to.deep.equal([]);
  });

  it('works as a process, reading stdin to its end', async function () {
    this.timeout(PROCESS_TEST_TIMEOUT_MS);
    const result = await runCli(['sendmail', '-v', '-oi', '-f', 'a@src.test', '--spool', spoolDir, 'u@normal.test'], 'Subject: s\n\n.\nafter the dot\n');
    expect(result.code, result.stderr).to.equal(0);
    const { envelope, text } = await queued();
    expect(result.stdout).to.equal(`${envelope.id}\n`);
    expect(text).to.match(/\r\n\r\n\.\r\nafter the dot\r\n$/);
  });
});

describe('minimta sendmail with a relay running: the worker delivers what it queued', () => {
  const ZONES: Record<string, Zone> = {
    'normal.test': { mx: [{ preference: 10, exchange: 'mx.normal.test' }] },
    'mx.normal.test': { a: ['127.0.0.2'] },
  };
  let world: DeliveryWorld;
  beforeEach(async () => { world = await startDeliveryWorld(structuredClone(ZONES), { delivery: { retrySchedule: [60], pollInterval: 60 } }); });
  afterEach(async () => { await world.stop(); });

  it('writes into the spool, wakes the relay, and the sink gets To, Cc and Bcc recipients, no Bcc: and the "." line', async () => {
    const captured = captureIo('To: a@normal.test\nCc: b@normal.test\nBcc: c@normal.test\nSubject: hi\n\nfirst\n.\nlast\n');
    const code = await sendmailCommand(['-t', '-v', '-f', 'me@src.test', '--spool', world.relay.spool.dir, '--hostname', 'host.test'], captured.io);
    expect(code, captured.stderr()).to.equal(0);
    const id = captured.stdout().trim();
    // The poll interval is a minute: only the wake request can have started this delivery.
    expect((await world.attempt(id)).done).to.equal(true);
    const [message] = await world.sinks[0]!.waitForMessages(1);
    expect(message!.sender).to.equal('me@src.test');
    expect(message!.recipients.sort()).to.deep.equal(['a@normal.test', 'b@normal.test', 'c@normal.test']);
    const data = message!.data.toString('utf8');
    expect(data).to.not.match(/^Bcc:/im);
    expect(data).to.match(/^Received: from localhost .* by host\.test with local id /);
    expect(data.endsWith('\r\n\r\nfirst\r\n.\r\nlast\r\n')).to.equal(true);
    expect(message!.rawData.toString('utf8')).to.include('\r\n..\r\nlast\r\n');
  });
});

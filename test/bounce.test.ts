// "vector N" in a title is row N of docs/test-vectors.md.

import { expect } from 'chai';
import { formatMailDate } from '../src/protocol/shared/mail-date.js';
import {
  BounceError,
  buildBounce,
  chooseBoundary,
  headerSection,
  shouldBounce,
  statusFromReply,
  type Bounce,
  type BounceInput,
} from '../src/queue/dsn/bounce.js';
import type { Envelope, RecipientRecord } from '../src/queue/spool/envelope.js';
import { newQueueId } from '../src/queue/spool/queue-id.js';
import {
  fieldOf,
  parseContentType,
  parseEntity,
  parseFieldGroups,
  splitMultipart,
  type Entity,
  type HeaderField,
} from './helpers/mime-parse.js';

// ---- fixtures ----------------------------------------------------------------

const HOST = 'relay.example.org';
const ARRIVED = new Date('2026-03-01T08:00:00Z');
const ATTEMPTED = new Date('2026-03-01T08:00:05Z');
const NOW = new Date('2026-03-01T08:00:06Z');
const ID = newQueueId(ARRIVED.getTime());

const ORIGINAL_HEADERS = Buffer.from(
  `Received: from client.example.org ([127.0.0.1])\r\n\tby ${HOST} with ESMTP id ${ID};\r\n\t${formatMailDate(ARRIVED)}\r\n` +
  'From: Alice <alice@example.org>\r\n' +
  'To: bob@nullmx.test, carol@normal.test\r\n' +
  'Subject: Lunch\r\n' +
  'Message-ID: <lunch-1@example.org>\r\n',
);

const NULL_MX_REPLY = '556 5.1.10 Domain nullmx.test does not accept mail (null MX)';
const USER_UNKNOWN_REPLY = '550 5.1.1 <carol@normal.test>: Recipient address rejected: User unknown';

function failed(address: string, more: Partial<RecipientRecord> = {}): RecipientRecord {
  return {
    address, state: 'failed', attempts: 1, lastAttemptAt: ATTEMPTED.toISOString(), finalAt: ATTEMPTED.toISOString(), ...more,
  };
}

function envelope(recipients: RecipientRecord[], more: Partial<Envelope> = {}): Envelope {
  return {
    version: 1,
    id: ID,
    arrivedAt: ARRIVED.toISOString(),
    client: { ip: '127.0.0.1', ehlo: 'client.example.org', protocol: 'ESMTP' },
    sender: 'alice@example.org',
    recipients,
    body: '7BIT',
    smtputf8: false,
    size: 1234,
    capture: false,
    held: false,
    attempts: 1,
    nextAttemptAt: ARRIVED.toISOString(),
    ...more,
  };
}

function input(recipients: RecipientRecord[], more: Partial<BounceInput> = {}, envelopeMore: Partial<Envelope> = {}): BounceInput {
  return {
    hostname: HOST,
    original: envelope(recipients, envelopeMore),
    failed: recipients,
    action: 'failed',
    originalHeaders: ORIGINAL_HEADERS,
    now: NOW,
    messageId: `<bounce-1@${HOST}>`,
    ...more,
  };
}

interface ReadBack {
  top: Entity;
  boundary: string;
  preamble: Buffer;
  parts: Entity[];
  rawParts: readonly Buffer[];
  perMessage: HeaderField[];
  perRecipient: HeaderField[][];
  text: string;
}

/** Reads a built bounce back with the test parser, failing on bad framing. */
function readBack(bounce: Bounce): ReadBack {
  const top = parseEntity(bounce.message);
  const boundary = parseContentType(top.header('Content-Type') ?? '').params['boundary'];
  if (!boundary) throw new Error('no boundary parameter');
  const multipart = splitMultipart(top.body, boundary);
  const parts = multipart.parts.map(parseEntity);
  const [perMessage = [], ...perRecipient] = parseFieldGroups(parts[1]?.body.toString('utf8') ?? '');
  return {
    top, boundary, preamble: multipart.preamble, parts, rawParts: multipart.parts, perMessage, perRecipient,
    text: parts[0]?.body.toString('utf8') ?? '',
  };
}

const build = (i: BounceInput): ReadBack => readBack(buildBounce(i));

const lines = (message: Buffer): string[] => message.toString('latin1').split('\r\n');

const RFC5322_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d [+-]\d{4}$/;

// ---- tests -------------------------------------------------------------------

describe('bounce: statusFromReply', () => {
  it('takes the enhanced code of a reply: "556 5.1.10 …" gives 5.1.10', () => {
    expect(statusFromReply(NULL_MX_REPLY, '4.4.7')).to.equal('5.1.10');
    expect(statusFromReply('521 5.3.2 mx.example does not accept mail', '4.4.7')).to.equal('5.3.2');
  });

  it('derives x.0.0 from the basic code when the reply has no enhanced code', () => {
    expect(statusFromReply('550 no such user', '4.4.7')).to.equal('5.0.0');
    expect(statusFromReply('421 too busy, try later', '5.5.5')).to.equal('4.0.0');
    expect(statusFromReply('554', '4.4.7')).to.equal('5.0.0');
  });

  it('ignores an enhanced code whose class disagrees with the basic code (RFC 2034 §4)', () => {
    expect(statusFromReply('550 4.1.1 mixed up', '4.4.7')).to.equal('5.0.0');
  });

  it('gives the fallback without a reply, or for text that is not a reply', () => {
    expect(statusFromReply(undefined, '4.4.7')).to.equal('4.4.7');
    expect(statusFromReply('connection refused', '4.4.1')).to.equal('4.4.1');
  });
});

describe('bounce: shouldBounce', () => {
  it('reports failures of an ordinary message to its sender', () => {
    expect(shouldBounce(envelope([failed('bob@nullmx.test')]))).to.equal(true);
  });

  it('never bounces mail from the null reverse-path <> (RFC 5321 §4.5.5, §6.1)', () => {
    expect(shouldBounce(envelope([failed('bob@nullmx.test')], { sender: '' }))).to.equal(false);
  });

  it('never bounces one of our own bounces', () => {
    expect(shouldBounce(envelope([failed('bob@nullmx.test')], { sender: 'x@example.org', bounce: true }))).to.equal(false);
  });
});

describe('bounce: buildBounce refuses', () => {
  it('throws BounceError ENULLSENDER for a message from <>', () => {
    const i = input([failed('bob@nullmx.test', { lastReply: NULL_MX_REPLY })], {}, { sender: '' });
    expect(() => buildBounce(i)).to.throw(BounceError).with.property('code', 'ENULLSENDER');
  });

  it('throws BounceError ENORECIPIENTS when there is no recipient to report', () => {
    expect(() => buildBounce({ ...input([failed('bob@nullmx.test')]), failed: [] }))
      .to.throw(BounceError).with.property('code', 'ENORECIPIENTS');
  });
});

describe('bounce: the message', () => {
  const recipients = [failed('bob@nullmx.test', { lastReply: NULL_MX_REPLY })];

  it('goes to the original sender, from MAILER-DAEMON, marked auto-replied (RFC 3834 §5)', () => {
    const bounce = buildBounce(input(recipients));
    const { top } = readBack(bounce);
    expect(bounce.recipient).to.equal('alice@example.org');
    expect(top.header('From')).to.equal(`Mail Delivery System <MAILER-DAEMON@${HOST}>`);
    expect(top.header('To')).to.equal('<alice@example.org>');
    expect(top.header('Subject')).to.equal('Undelivered Mail Returned to Sender');
    expect(top.header('Message-ID')).to.equal(`<bounce-1@${HOST}>`);
    expect(top.header('Auto-Submitted')).to.equal('auto-replied');
    expect(top.header('MIME-Version')).to.equal('1.0');
  });

  it('is dated now, in the RFC 5322 date form', () => {
    const { top } = build(input(recipients));
    expect(top.header('Date')).to.equal('Sun, 1 Mar 2026 08:00:06 +0000');
    expect(top.header('Date')).to.match(RFC5322_DATE);
  });

  it('is a multipart/report with report-type=delivery-status and a quoted boundary', () => {
    const { top, boundary } = build(input(recipients));
    const contentType = parseContentType(top.header('Content-Type') ?? '');
    expect(contentType.type).to.equal('multipart/report');
    expect(contentType.params['report-type']).to.equal('delivery-status');
    expect(top.header('Content-Type')).to.include(`boundary="${boundary}"`);
    expect(boundary.length).to.be.within(1, 70); // RFC 2046 §5.1.1
  });

  it('has three parts: text/plain in UTF-8, message/delivery-status, text/rfc822-headers', () => {
    const { parts } = build(input(recipients));
    expect(parts.map((p) => parseContentType(p.header('Content-Type') ?? '').type))
      .to.deep.equal(['text/plain', 'message/delivery-status', 'text/rfc822-headers']);
    expect(parseContentType(parts[0]?.header('Content-Type') ?? '').params['charset']).to.equal('utf-8');
  });

  it('is all ASCII for ASCII input: 7BIT, no SMTPUTF8, no Content-Transfer-Encoding', () => {
    const bounce = buildBounce(input(recipients));
    const { top, parts } = readBack(bounce);
    expect(bounce.body).to.equal('7BIT');
    expect(bounce.smtputf8).to.equal(false);
    expect(bounce.message.every((b) => b < 0x80)).to.equal(true);
    expect(top.header('Content-Transfer-Encoding')).to.equal(undefined);
    expect(parts.map((p) => p.header('Content-Transfer-Encoding'))).to.deep.equal([undefined, undefined, undefined]);
  });

  it('ends every line with CRLF (no bare CR or LF)', () => {
    const text = buildBounce(input(recipients)).message.toString('latin1');
    expect(text.endsWith('\r\n')).to.equal(true);
    expect(/\r(?!\n)|(?<!\r)\n/.test(text)).to.equal(false);
  });

  it('says in words that it is an automatic message from this host', () => {
    const { text } = build(input(recipients));
    expect(text).to.match(/automatic message from the mail system at relay\.example\.org/);
    expect(text).to.include(ID);
  });
});

describe('bounce: the delivery-status part (RFC 3464 §2)', () => {
  it('starts with the per-message block: Reporting-MTA, queue id, Arrival-Date', () => {
    const { perMessage } = build(input([failed('bob@nullmx.test', { lastReply: NULL_MX_REPLY })]));
    expect(fieldOf(perMessage, 'Reporting-MTA')).to.equal(`dns; ${HOST}`);
    expect(fieldOf(perMessage, 'X-Minimta-Queue-ID')).to.equal(ID);
    expect(fieldOf(perMessage, 'Arrival-Date')).to.equal(formatMailDate(ARRIVED));
    expect(fieldOf(perMessage, 'Arrival-Date')).to.match(RFC5322_DATE);
  });

  it('reports several failed recipients in one notification, one block each, in order', () => {
    const recipients = [
      failed('bob@nullmx.test', { lastReply: NULL_MX_REPLY }),
      failed('carol@normal.test', { lastReply: USER_UNKNOWN_REPLY, remoteMta: 'mx.normal.test' }),
      failed('dave@normal.test', { lastReply: '550 no such user', remoteMta: 'mx.normal.test' }),
    ];
    const { perRecipient, text } = build(input(recipients));
    expect(perRecipient.map((g) => fieldOf(g, 'Final-Recipient'))).to.deep.equal([
      'rfc822; bob@nullmx.test', 'rfc822; carol@normal.test', 'rfc822; dave@normal.test',
    ]);
    expect(perRecipient.map((g) => fieldOf(g, 'Action'))).to.deep.equal(['failed', 'failed', 'failed']);
    expect(perRecipient.map((g) => fieldOf(g, 'Status'))).to.deep.equal(['5.1.10', '5.1.1', '5.0.0']);
    for (const r of recipients) {
      expect(text).to.include(`<${r.address}>`);
      expect(text).to.include(r.lastReply);
    }
    expect(text).to.include('3 recipients');
  });

  it('reports a null MX found at delivery: 5.1.10, Diagnostic-Code with the 556, no Remote-MTA (vectors 45, 50)', () => {
    const { top, perRecipient, text } = build(input([failed('bob@nullmx.test', { lastReply: NULL_MX_REPLY })]));
    const [block = []] = perRecipient;
    expect(parseContentType(top.header('Content-Type') ?? '').params['report-type']).to.equal('delivery-status');
    expect(fieldOf(block, 'Final-Recipient')).to.equal('rfc822; bob@nullmx.test');
    expect(fieldOf(block, 'Action')).to.equal('failed');
    expect(fieldOf(block, 'Status')).to.equal('5.1.10');
    expect(fieldOf(block, 'Diagnostic-Code')).to.equal(`smtp; ${NULL_MX_REPLY}`);
    expect(fieldOf(block, 'Remote-MTA')).to.equal(undefined);
    expect(fieldOf(block, 'Last-Attempt-Date')).to.equal(formatMailDate(ATTEMPTED));
    expect(text).to.include('null MX').and.to.include('RFC 7505');
    expect(text).to.include('nullmx.test');
  });

  it('names the remote MTA that refused a recipient with 550', () => {
    const { perRecipient, text } = build(input([
      failed('carol@normal.test', { lastReply: USER_UNKNOWN_REPLY, remoteMta: 'mx.normal.test' }),
    ]));
    const [block = []] = perRecipient;
    expect(fieldOf(block, 'Status')).to.equal('5.1.1');
    expect(fieldOf(block, 'Remote-MTA')).to.equal('dns; mx.normal.test');
    expect(fieldOf(block, 'Diagnostic-Code')).to.equal(`smtp; ${USER_UNKNOWN_REPLY}`);
    expect(text).to.include('mx.normal.test answered:');
  });

  it('reports 521 from every MX as 5.3.2 with the last host that said it (vector 44)', () => {
    const reply = '521 5.3.2 mx2.refuse.test does not accept mail';
    const { perRecipient } = build(input([failed('erin@refuse.test', { lastReply: reply, remoteMta: 'mx2.refuse.test' })]));
    const [block = []] = perRecipient;
    expect(fieldOf(block, 'Status')).to.equal('5.3.2');
    expect(fieldOf(block, 'Diagnostic-Code')).to.equal(`smtp; ${reply}`);
    expect(fieldOf(block, 'Remote-MTA')).to.equal('dns; mx2.refuse.test');
  });

  it('derives Status 5.0.0 from a reply without an enhanced code ("550 no such user")', () => {
    const { perRecipient } = build(input([failed('dave@normal.test', { lastReply: '550 no such user', remoteMta: 'mx.normal.test' })]));
    const [block = []] = perRecipient;
    expect(fieldOf(block, 'Status')).to.equal('5.0.0');
    expect(fieldOf(block, 'Diagnostic-Code')).to.equal('smtp; 550 no such user');
  });

  it('reports expiry without any reply as Action failed, Status 4.4.7, and no Diagnostic-Code', () => {
    const record: RecipientRecord = { address: 'frank@slow.test', state: 'failed', attempts: 0, finalAt: NOW.toISOString() };
    const { perRecipient, text } = build(input([record]));
    const [block = []] = perRecipient;
    expect(fieldOf(block, 'Action')).to.equal('failed');
    expect(fieldOf(block, 'Status')).to.equal('4.4.7');
    expect(fieldOf(block, 'Diagnostic-Code')).to.equal(undefined);
    expect(fieldOf(block, 'Remote-MTA')).to.equal(undefined);
    expect(fieldOf(block, 'Last-Attempt-Date')).to.equal(undefined);
    expect(text).to.include('expired');
  });

  it('keeps the real last 4.x.x status of a recipient given up on at expiry (RFC 3463 advice)', () => {
    const reply = '451 4.4.1 Connection timed out';
    const { perRecipient } = build(input([failed('gina@slow.test', { lastReply: reply, remoteMta: 'mx.slow.test' })]));
    const [block = []] = perRecipient;
    expect(fieldOf(block, 'Action')).to.equal('failed');
    expect(fieldOf(block, 'Status')).to.equal('4.4.1');
    expect(fieldOf(block, 'Diagnostic-Code')).to.equal(`smtp; ${reply}`);
  });

  it('leaves Will-Retry-Until out of a failure report even when given', () => {
    const { perRecipient } = build(input([failed('bob@nullmx.test', { lastReply: NULL_MX_REPLY })], {
      willRetryUntil: new Date('2026-03-06T08:00:00Z'),
    }));
    expect(fieldOf(perRecipient[0] ?? [], 'Will-Retry-Until')).to.equal(undefined);
  });
});

describe('bounce: delay warnings', () => {
  const until = new Date('2026-03-06T08:00:00Z');
  const pending: RecipientRecord = {
    address: 'hank@slow.test', state: 'pending', attempts: 3, lastReply: '451 4.4.1 Connection timed out',
    remoteMta: 'mx.slow.test', lastAttemptAt: ATTEMPTED.toISOString(),
  };

  it('reports Action delayed with Will-Retry-Until and the last status', () => {
    const { top, perRecipient, text } = build(input([pending], { action: 'delayed', willRetryUntil: until }));
    const [block = []] = perRecipient;
    expect(top.header('Subject')).to.equal('Delayed Mail (still being retried)');
    expect(fieldOf(block, 'Action')).to.equal('delayed');
    expect(fieldOf(block, 'Status')).to.equal('4.4.1');
    expect(fieldOf(block, 'Will-Retry-Until')).to.equal(formatMailDate(until));
    expect(fieldOf(block, 'Last-Attempt-Date')).to.equal(formatMailDate(ATTEMPTED));
    expect(text).to.include('not yet been delivered').and.to.include(formatMailDate(until));
  });

  it('gives a still pending recipient with no reply yet Status 4.0.0', () => {
    const fresh: RecipientRecord = { address: 'ivy@slow.test', state: 'pending', attempts: 0 };
    const { perRecipient } = build(input([fresh], { action: 'delayed' }));
    expect(fieldOf(perRecipient[0] ?? [], 'Status')).to.equal('4.0.0');
    expect(fieldOf(perRecipient[0] ?? [], 'Will-Retry-Until')).to.equal(undefined);
  });
});

describe('bounce: the returned header section', () => {
  const recipients = [failed('bob@nullmx.test', { lastReply: NULL_MX_REPLY })];

  it('reproduces the original header section byte for byte', () => {
    const { parts } = build(input(recipients));
    expect(Buffer.compare(parts[2]?.body ?? Buffer.alloc(0), ORIGINAL_HEADERS)).to.equal(0);
  });

  it('cuts a whole message at its empty line, keeping only the header section', () => {
    const whole = Buffer.concat([ORIGINAL_HEADERS, Buffer.from('\r\nHello Bob,\r\n\r\nlunch?\r\n')]);
    const { parts } = build(input(recipients, { originalHeaders: whole }));
    expect(parts[2]?.body.toString('latin1')).to.equal(ORIGINAL_HEADERS.toString('latin1'));
  });

  it('drops a last field cut short by the head size limit', () => {
    const truncated = Buffer.concat([ORIGINAL_HEADERS, Buffer.from('X-Long: aaaa')]);
    expect(headerSection(truncated).toString('latin1')).to.equal(ORIGINAL_HEADERS.toString('latin1'));
  });

  it('returns an empty part for a message without header fields', () => {
    const { parts } = build(input(recipients, { originalHeaders: Buffer.alloc(0) }));
    expect(parts).to.have.length(3);
    expect(parts[2]?.body.length).to.equal(0);
    expect(headerSection(Buffer.from('\r\nbody only\r\n')).length).to.equal(0);
  });

  it('labels 8-bit original headers 8bit and makes the bounce 8BITMIME without SMTPUTF8', () => {
    const latin = Buffer.concat([ORIGINAL_HEADERS, Buffer.from([0x58, 0x2d, 0x4e, 0x6f, 0x74, 0x65, 0x3a, 0x20, 0xe9, 0x0d, 0x0a])]);
    const bounce = buildBounce(input(recipients, { originalHeaders: latin }));
    const { parts } = readBack(bounce);
    expect(bounce.body).to.equal('8BITMIME');
    expect(bounce.smtputf8).to.equal(false);
    expect(parseContentType(parts[2]?.header('Content-Type') ?? '').type).to.equal('text/rfc822-headers');
    expect(parts[2]?.header('Content-Transfer-Encoding')).to.equal('8bit');
    expect(Buffer.compare(parts[2]?.body ?? Buffer.alloc(0), latin)).to.equal(0);
  });
});

describe('bounce: line length and boundary', () => {
  it('keeps every line within 998 octets with a 3000-character reply, which unfolds back verbatim', () => {
    const words = Array.from({ length: 600 }, (_, i) => `w${i % 10}rd`).join(' ');
    const reply = `550 5.7.1 ${words}`.slice(0, 3000).trimEnd();
    expect(reply.length).to.be.greaterThan(2900);
    const bounce = buildBounce(input([failed('bob@normal.test', { lastReply: reply, remoteMta: 'mx.normal.test' })]));
    expect(Math.max(...lines(bounce.message).map((l) => Buffer.byteLength(l, 'latin1')))).to.be.at.most(998);
    const { perRecipient, text } = readBack(bounce);
    expect(fieldOf(perRecipient[0] ?? [], 'Diagnostic-Code')).to.equal(`smtp; ${reply}`);
    expect(text.replace(/\r\n {4}/g, ' ')).to.include(reply);
  });

  it('keeps every line within 998 octets even for a 3000-character reply without spaces', () => {
    const reply = `550 ${'x'.repeat(2996)}`;
    const bounce = buildBounce(input([failed('bob@normal.test', { lastReply: reply })]));
    expect(Math.max(...lines(bounce.message).map((l) => Buffer.byteLength(l, 'latin1')))).to.be.at.most(998);
    const { perRecipient } = readBack(bounce);
    // Broken with CRLF SP where no white space was: unfolding leaves those spaces.
    expect(fieldOf(perRecipient[0] ?? [], 'Diagnostic-Code')?.replace(/ /g, '')).to.equal(`smtp;${reply.replace(/ /g, '')}`);
  });

  it('folds long fields near 78 octets where they have white space', () => {
    const reply = `550 5.7.1 ${'policy '.repeat(40)}end`;
    const bounce = buildBounce(input([failed('bob@normal.test', { lastReply: reply })]));
    const status = readBack(bounce).rawParts[1]?.toString('latin1') ?? '';
    const diagnosticLines = status.split('\r\n').filter((l) => l.startsWith('Diagnostic-Code:') || l.startsWith(' '));
    expect(diagnosticLines.length).to.be.greaterThan(1);
    for (const l of diagnosticLines) expect(l.length).to.be.at.most(78);
  });

  it('uses a boundary that occurs in none of the parts', () => {
    const { boundary, rawParts, preamble } = build(input([failed('bob@nullmx.test', { lastReply: NULL_MX_REPLY })]));
    expect(rawParts).to.have.length(3);
    for (const part of [...rawParts, preamble]) expect(part.toString('latin1').toLowerCase()).not.to.include(boundary.toLowerCase());
  });

  it('draws a new boundary when the first one occurs in the content, whatever its case', () => {
    const candidates = ['AAAA', 'bbbb'];
    const content = [Buffer.from('Subject: see =_MINIMTA_aaaa here\r\n')];
    expect(chooseBoundary(content, () => candidates.shift() ?? 'none')).to.equal('=_minimta_bbbb');
  });

  it('gives up with BounceError ENOBOUNDARY if every boundary drawn occurs in the content', () => {
    const content = [Buffer.from('=_minimta_same\r\n')];
    expect(() => chooseBoundary(content, () => 'same')).to.throw(BounceError).with.property('code', 'ENOBOUNDARY');
  });
});

describe('bounce: internationalized addresses (RFC 6531, RFC 6533)', () => {
  it('reports a UTF-8 recipient in message/global-delivery-status: 8BITMIME and SMTPUTF8', () => {
    const reply = '550 5.1.1 <用户@example.net>: Recipient address rejected: User unknown';
    const bounce = buildBounce(input([failed('用户@example.net', { lastReply: reply, remoteMta: 'mx.example.net' })], {}, { smtputf8: true }));
    const { top, parts, perRecipient, text } = readBack(bounce);
    expect(bounce.body).to.equal('8BITMIME');
    expect(bounce.smtputf8).to.equal(true);
    expect(top.header('Content-Transfer-Encoding')).to.equal('8bit');
    expect(parseContentType(top.header('Content-Type') ?? '').params['report-type']).to.equal('global-delivery-status');
    expect(parseContentType(parts[1]?.header('Content-Type') ?? '').type).to.equal('message/global-delivery-status');
    expect(parts[1]?.header('Content-Transfer-Encoding')).to.equal('8bit');
    expect(fieldOf(perRecipient[0] ?? [], 'Final-Recipient')).to.equal('utf-8; 用户@example.net');
    expect(fieldOf(perRecipient[0] ?? [], 'Diagnostic-Code')).to.equal(`smtp; ${reply}`);
    expect(text).to.include('<用户@example.net>');
    // ASCII original headers stay text/rfc822-headers.
    expect(parseContentType(parts[2]?.header('Content-Type') ?? '').type).to.equal('text/rfc822-headers');
  });

  it('addresses a UTF-8 sender in the To: field and needs SMTPUTF8', () => {
    const bounce = buildBounce(input([failed('bob@nullmx.test', { lastReply: NULL_MX_REPLY })], {}, { sender: 'jürgen@example.org', smtputf8: true }));
    const { top } = readBack(bounce);
    expect(bounce.recipient).to.equal('jürgen@example.org');
    expect(top.header('To')).to.equal('<jürgen@example.org>');
    expect(bounce.smtputf8).to.equal(true);
    expect(bounce.body).to.equal('8BITMIME');
  });

  it('returns the UTF-8 header section of an SMTPUTF8 message as message/global-headers', () => {
    const utf8Headers = Buffer.concat([ORIGINAL_HEADERS, Buffer.from('X-Note: Grüße\r\n')]);
    const bounce = buildBounce(input([failed('bob@nullmx.test', { lastReply: NULL_MX_REPLY })], { originalHeaders: utf8Headers }, { smtputf8: true }));
    const { parts } = readBack(bounce);
    expect(parseContentType(parts[2]?.header('Content-Type') ?? '').type).to.equal('message/global-headers');
    expect(parts[2]?.header('Content-Transfer-Encoding')).to.equal('8bit');
    expect(Buffer.compare(parts[2]?.body ?? Buffer.alloc(0), utf8Headers)).to.equal(0);
    expect(bounce.smtputf8).to.equal(false);
    expect(bounce.body).to.equal('8BITMIME');
  });
});

import { expect } from 'chai';
import { ReplyError, type Reply } from '../src/reply-codes/index.js';
import { MAX_REPLY_LINE_OCTETS, MAX_REPLY_LINES, ReplyReader } from '../src/protocol/client/reply-reader.js';
import { announcedSizeLimit, AFTER_HELO, offers, parseEhloReply } from '../src/protocol/client/extensions.js';
import { RecipientLedger } from '../src/protocol/client/recipients.js';

function feed(reader: ReplyReader, ...chunks: string[]): Reply[] {
  return chunks.flatMap((c) => reader.push(Buffer.from(c)));
}

function protocolErrorOf(action: () => unknown): Reply {
  try {
    action();
  } catch (err) {
    expect(err).to.be.instanceOf(ReplyError);
    return (err as ReplyError).reply;
  }
  throw new Error('expected a ReplyError');
}

describe('ReplyReader (RFC 5321 §4.2)', () => {
  it('reads single-line and multi-line replies, in order, from one chunk', () => {
    const replies = feed(new ReplyReader('mx[127.0.0.1]'), '220 mx ESMTP\r\n250-mx\r\n250-PIPELINING\r\n250 SIZE 100\r\n');
    expect(replies.map((r) => r.code)).to.deep.equal([220, 250]);
    expect(replies[1]?.lines).to.deep.equal(['mx', 'PIPELINING', 'SIZE 100']);
  });

  it('joins a reply split across chunks at any byte', () => {
    const text = '250-first\r\n250 2.1.5 second\r\n';
    const reader = new ReplyReader('mx');
    const replies = feed(reader, ...text.split(''));
    expect(replies).to.deep.equal([{ code: 250, lines: ['first', '2.1.5 second'] }]);
  });

  it('splits off the enhanced status code', () => {
    const [r] = feed(new ReplyReader('mx'), '550 5.1.1 <u@d.test>: no such user\r\n');
    expect(r).to.deep.equal({ code: 550, enhanced: '5.1.1', lines: ['<u@d.test>: no such user'] });
  });

  it('tolerates a bare LF ending a reply line', () => {
    const replies = feed(new ReplyReader('mx'), '250-a\n250 b\n');
    expect(replies).to.deep.equal([{ code: 250, lines: ['a', 'b'] }]);
  });

  it('accepts a bare code with or without the trailing space (§4.2)', () => {
    expect(feed(new ReplyReader('mx'), '250\r\n354 \r\n').map((r) => r.code)).to.deep.equal([250, 354]);
  });

  it('reports a line that is not a reply as remoteProtocolError 451 4.5.0, naming the peer', () => {
    const r = protocolErrorOf(() => feed(new ReplyReader('mx.test[127.0.0.1]'), 'HTTP/1.1 400 Bad Request\r\n'));
    expect(r.code).to.equal(451);
    expect(r.enhanced).to.equal('4.5.0');
    expect(r.lines.join(' ')).to.contain('mx.test[127.0.0.1]');
  });

  it('refuses a code that changes inside a multi-line reply', () => {
    expect(protocolErrorOf(() => feed(new ReplyReader('mx'), '250-a\r\n251 b\r\n')).code).to.equal(451);
  });

  it('refuses a reply code whose first digit is not 2 to 5', () => {
    expect(protocolErrorOf(() => feed(new ReplyReader('mx'), '199 hello\r\n')).code).to.equal(451);
    expect(protocolErrorOf(() => feed(new ReplyReader('mx'), '600 hello\r\n')).code).to.equal(451);
  });

  it(`stops buffering a line longer than ${MAX_REPLY_LINE_OCTETS} octets, even with no line end yet`, () => {
    const reader = new ReplyReader('mx');
    expect(protocolErrorOf(() => feed(reader, '250 ' + 'x'.repeat(MAX_REPLY_LINE_OCTETS)))).to.include({ code: 451 });
    const complete = new ReplyReader('mx');
    expect(protocolErrorOf(() => feed(complete, '250 ' + 'x'.repeat(MAX_REPLY_LINE_OCTETS) + '\r\n'))).to.include({ code: 451 });
  });

  it(`refuses a reply of more than ${MAX_REPLY_LINES} lines`, () => {
    const many = '250-x\r\n'.repeat(MAX_REPLY_LINES) + '250 end\r\n';
    expect(protocolErrorOf(() => feed(new ReplyReader('mx'), many)).code).to.equal(451);
    const enough = '250-x\r\n'.repeat(MAX_REPLY_LINES - 1) + '250 end\r\n';
    expect(feed(new ReplyReader('mx'), enough)[0]?.lines).to.have.length(MAX_REPLY_LINES);
  });

  it('tells whether part of a reply is held (for STARTTLS response injection)', () => {
    const reader = new ReplyReader('mx');
    feed(reader, '220 ready\r\n');
    expect(reader.holdsPartialReply).to.equal(false);
    feed(reader, '250-inj');
    expect(reader.holdsPartialReply).to.equal(true);
  });
});

describe('EHLO extensions (RFC 5321 §4.1.1.1)', () => {
  const ehlo: Reply = { code: 250, lines: ['mx.test greets you', 'pipelining', 'Size 1000', '8BITMIME', 'AUTH PLAIN LOGIN'] };

  it('reads keywords case-insensitively, with their parameters', () => {
    const ext = parseEhloReply(ehlo);
    expect(offers(ext, 'PIPELINING')).to.equal(true);
    expect(offers(ext, '8bitmime')).to.equal(true);
    expect(offers(ext, 'SMTPUTF8')).to.equal(false);
    expect(ext.keywords.get('AUTH')).to.deep.equal(['PLAIN', 'LOGIN']);
    expect(ext.greetedWith).to.equal('EHLO');
  });

  it('does not take the greeting line for a keyword', () => {
    expect(offers(parseEhloReply(ehlo), 'MX.TEST')).to.equal(false);
  });

  it('reads a SIZE limit; SIZE 0 or a bare SIZE announce none (RFC 1870 §3)', () => {
    expect(announcedSizeLimit(parseEhloReply(ehlo))).to.equal(1000);
    expect(announcedSizeLimit(parseEhloReply({ code: 250, lines: ['mx', 'SIZE 0'] }))).to.equal(undefined);
    expect(announcedSizeLimit(parseEhloReply({ code: 250, lines: ['mx', 'SIZE'] }))).to.equal(undefined);
    expect(announcedSizeLimit(AFTER_HELO)).to.equal(undefined);
  });

  it('offers nothing after HELO', () => {
    expect(AFTER_HELO.keywords.size).to.equal(0);
    expect(AFTER_HELO.greetedWith).to.equal('HELO');
  });
});

describe('RecipientLedger', () => {
  const ok: Reply = { code: 250, enhanced: '2.1.5', lines: ['Ok'] };

  it('reads a 552 to RCPT as 452 with a class 4 enhanced code and the same text (RFC 5321 §4.5.3.1.10)', () => {
    const ledger = new RecipientLedger(['a@d.test']);
    ledger.startTransaction();
    ledger.recordRcpt(0, { code: 552, enhanced: '5.5.3', lines: ['Too many recipients'] });
    expect(ledger.results()[0]?.reply).to.deep.equal({ code: 452, enhanced: '4.5.3', lines: ['Too many recipients'] });
  });

  it('lets the final reply decide only the recipients RCPT did not', () => {
    const ledger = new RecipientLedger(['a@d.test', 'b@d.test']);
    ledger.startTransaction();
    ledger.recordRcpt(0, { code: 550, enhanced: '5.1.1', lines: ['no'] });
    ledger.recordRcpt(1, ok);
    expect(ledger.anyAccepted).to.equal(true);
    ledger.decideRest({ code: 250, enhanced: '2.0.0', lines: ['queued'] });
    expect(ledger.results().map((r) => [r.address, r.reply.code])).to.deep.equal([['a@d.test', 550], ['b@d.test', 250]]);
  });

  it('keeps duplicate addresses apart, in request order', () => {
    const ledger = new RecipientLedger(['a@d.test', 'a@d.test']);
    ledger.recordRcpt(0, ok);
    ledger.recordRcpt(1, { code: 450, lines: ['busy'] });
    ledger.decideRest({ code: 250, lines: ['ok'] });
    expect(ledger.results().map((r) => r.reply.code)).to.deep.equal([250, 450]);
  });
});

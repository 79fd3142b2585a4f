// "vector N" in a title is row N of docs/test-vectors.md.

import { expect } from 'chai';
import {
  parseMailArguments, parseRcptArguments, splitCommand,
  type EnvelopeSyntax, type MailParameters, type ParameterContext,
} from '../src/protocol/server/commands.js';
import { ReplyError } from '../src/reply-codes/index.js';
import { rejection } from './helpers/rejection.js';

type Context = ParameterContext & EnvelopeSyntax;

// The tables below hold RFC 5321 as written (smtp.strictEnvelopes); the
// lenient default has its own table (issue 15) at the end.
const EHLO: Context = { extended: true, authAdvertised: false, strictEnvelopes: true };
const EHLO_WITH_AUTH: Context = { extended: true, authAdvertised: true, strictEnvelopes: true };
const HELO: Context = { extended: false, authAdvertised: false, strictEnvelopes: true };

/** The text of the ReplyError's first line. */
function rejectionText(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).to.be.instanceOf(ReplyError);
    return (error as ReplyError).reply.lines[0]!;
  }
  expect.fail('expected a ReplyError, but the command was accepted');
}

describe('commands: splitCommand', () => {
  const cases: Array<[string, string, string]> = [
    ['MAIL FROM:<a@b.test>', 'MAIL', 'FROM:<a@b.test>'],
    ['mail from:<a@b.test>', 'MAIL', 'from:<a@b.test>'],
    ['QUIT', 'QUIT', ''],
    ['noop', 'NOOP', ''],
    ['EHLO  c.test', 'EHLO', ' c.test'],
    ['RCPT TO:<"a  b"@x.test>', 'RCPT', 'TO:<"a  b"@x.test>'],
    ['QUIT   ', 'QUIT', ''],
    ['DATA \t', 'DATA', ''],
    ['EHLO c.test ', 'EHLO', 'c.test'],
    [' NOOP', '', 'NOOP'],
    ['', '', ''],
    ['Rset x', 'RSET', 'x'],
  ];
  for (const [line, verb, arg] of cases) {
    it(`splits ${JSON.stringify(line)} into verb ${JSON.stringify(verb)} and argument ${JSON.stringify(arg)}`, () => {
      expect(splitCommand(line)).to.deep.equal({ verb, arg });
    });
  }

  it('upper-cases ASCII letters only, so "maıl" (dotless i) is not MAIL', () => {
    expect(splitCommand('maıl FROM:<a@b.test>').verb).to.equal('MAıL');
  });
});

describe('commands: MAIL FROM arguments (RFC 5321 §4.1.1.2, §4.1.2)', () => {
  const accepted: Array<[string, string, Context, string, MailParameters]> = [
    ['a plain sender', 'FROM:<a@b.test>', EHLO, 'a@b.test', { smtputf8: false }],
    ['a lower-case keyword', 'from:<a@b.test>', EHLO, 'a@b.test', { smtputf8: false }],
    ['one space after the colon', 'FROM: <a@b.test>', EHLO, 'a@b.test', { smtputf8: false }],
    ['trailing white space', 'FROM:<a@b.test>  \t', EHLO, 'a@b.test', { smtputf8: false }],
    ['no parameters after HELO', 'FROM:<a@b.test>', HELO, 'a@b.test', { smtputf8: false }],
    ['SIZE', 'FROM:<a@b.test> SIZE=10', EHLO, 'a@b.test', { smtputf8: false, size: 10 }],
    ['a 20-digit SIZE', 'FROM:<a@b.test> SIZE=99999999999999999999', EHLO, 'a@b.test',
      { smtputf8: false, size: 99999999999999999999 }],
    ['SIZE=999999999, leaving the limit to the session (vector 18)', 'FROM:<a@b.test> SIZE=999999999', EHLO,
      'a@b.test', { smtputf8: false, size: 999999999 }],
    ['BODY=8BITMIME (vector 38)', 'FROM:<a@b.test> BODY=8BITMIME', EHLO, 'a@b.test', { smtputf8: false, body: '8BITMIME' }],
    ['body=7bit, upper-cased', 'FROM:<a@b.test> body=7bit', EHLO, 'a@b.test', { smtputf8: false, body: '7BIT' }],
    ['SMTPUTF8 with a UTF-8 sender (vector 39)', 'FROM:<ü@b.test> SMTPUTF8', EHLO, 'ü@b.test', { smtputf8: true }],
    ['smtputf8 in lower case', 'FROM:<a@b.test> smtputf8', EHLO, 'a@b.test', { smtputf8: true }],
    ['AUTH=<> when AUTH is advertised (vector 37)', 'FROM:<a@b.test> AUTH=<>', EHLO_WITH_AUTH, 'a@b.test',
      { smtputf8: false, auth: '<>' }],
    ['AUTH=xtext, kept encoded', 'FROM:<a@b.test> AUTH=e+3Dmc2@x.test', EHLO_WITH_AUTH, 'a@b.test',
      { smtputf8: false, auth: 'e+3Dmc2@x.test' }],
    ['all parameters together', 'FROM:<a@b.test> SIZE=1 BODY=8BITMIME SMTPUTF8 AUTH=a@b.test', EHLO_WITH_AUTH,
      'a@b.test', { smtputf8: true, size: 1, body: '8BITMIME', auth: 'a@b.test' }],
    ['a quoted local part with spaces and parameters', 'FROM:<"john  doe"@x.test> SIZE=5', EHLO,
      '"john  doe"@x.test', { smtputf8: false, size: 5 }],
  ];
  for (const [what, arg, ctx, address, params] of accepted) {
    it(`accepts ${what}: MAIL ${arg}`, () => {
      const parsed = parseMailArguments(arg, ctx);
      expect(parsed.path).to.deep.include({ kind: 'mailbox', address });
      expect(parsed.params).to.deep.equal(params);
    });
  }

  it('accepts the null reverse-path <> (RFC 5321 §4.5.5)', () => {
    expect(parseMailArguments('FROM:<>', EHLO).path).to.deep.equal({ kind: 'null' });
  });

  const refused: Array<[string, string, Context, string]> = [
    ['SIZE after HELO (vector 4)', 'FROM:<a@b.test> SIZE=10', HELO, '555 5.5.4'],
    ['a malformed parameter after HELO', 'FROM:<a@b.test> =10', HELO, '501 5.5.4'],
    ['SIZE=abc (vector 18)', 'FROM:<a@b.test> SIZE=abc', EHLO, '501 5.5.4'],
    ['an empty SIZE', 'FROM:<a@b.test> SIZE=', EHLO, '501 5.5.4'],
    ['SIZE with no value', 'FROM:<a@b.test> SIZE', EHLO, '501 5.5.4'],
    ['a 21-digit SIZE', 'FROM:<a@b.test> SIZE=100000000000000000000', EHLO, '501 5.5.4'],
    ['a negative SIZE', 'FROM:<a@b.test> SIZE=-1', EHLO, '501 5.5.4'],
    ['a repeated SIZE', 'FROM:<a@b.test> SIZE=1 size=2', EHLO, '501 5.5.4'],
    ['BODY=FOO (vector 38)', 'FROM:<a@b.test> BODY=FOO', EHLO, '501 5.5.4'],
    ['BODY with no value', 'FROM:<a@b.test> BODY', EHLO, '501 5.5.4'],
    ['BODY=BINARYMIME (vector 38)', 'FROM:<a@b.test> BODY=BINARYMIME', EHLO, '555 5.5.4'],
    ['body=binarymime', 'FROM:<a@b.test> body=binarymime', EHLO, '555 5.5.4'],
    ['SMTPUTF8 with a value', 'FROM:<a@b.test> SMTPUTF8=yes', EHLO, '501 5.5.4'],
    ['AUTH= when AUTH is not advertised', 'FROM:<a@b.test> AUTH=<>', EHLO, '555 5.5.4'],
    ['AUTH= that is not xtext', 'FROM:<a@b.test> AUTH=a+zz@b.test', EHLO_WITH_AUTH, '501 5.5.4'],
    ['AUTH with no value', 'FROM:<a@b.test> AUTH', EHLO_WITH_AUTH, '501 5.5.4'],
    ['an unknown keyword', 'FROM:<a@b.test> FOO=bar', EHLO, '555 5.5.4'],
    ['a DSN parameter after HELO', 'FROM:<a@b.test> RET=HDRS', HELO, '555 5.5.4'],
    ['an empty keyword', 'FROM:<a@b.test> =x', EHLO, '501 5.5.4'],
    ['a keyword starting with a hyphen', 'FROM:<a@b.test> -X', EHLO, '501 5.5.4'],
    ['a value holding "="', 'FROM:<a@b.test> SIZE=1=2', EHLO, '501 5.5.4'],
    ['two spaces between parameters', 'FROM:<a@b.test> SIZE=1  BODY=7BIT', EHLO, '501 5.5.4'],
    ['two spaces before the parameters', 'FROM:<a@b.test>  SIZE=1', EHLO, '501 5.5.4'],
    ['a missing FROM:', '<a@b.test>', EHLO, '501 5.5.4'],
    ['a wrong keyword', 'TO:<a@b.test>', EHLO, '501 5.5.4'],
    ['a space before the colon', 'FROM :<a@b.test>', EHLO, '501 5.5.4'],
    ['two spaces after the colon', 'FROM:  <a@b.test>', EHLO, '501 5.5.4'],
    ['no path', 'FROM:', EHLO, '501 5.5.4'],
    ['no argument at all', '', EHLO, '501 5.5.4'],
    ['a path without angle brackets', 'FROM:a@b.test', EHLO, '501 5.1.7'],
    ['a 257-octet path (vector 21)', `FROM:<${'l'.repeat(64)}@${'d'.repeat(63)}.${'d'.repeat(63)}.${'d'.repeat(62)}>`,
      EHLO, '501 5.1.7'],
    ['<Postmaster> as the sender', 'FROM:<Postmaster>', EHLO, '501 5.1.7'],
    ['a UTF-8 sender without SMTPUTF8 (vector 39)', 'FROM:<ü@b.test>', EHLO, '553 5.6.7'],
    ['a UTF-8 sender with SMTPUTF8=yes, which declares nothing', 'FROM:<ü@b.test> SMTPUTF8=yes', EHLO, '553 5.6.7'],
  ];
  for (const [what, arg, ctx, expected] of refused) {
    it(`answers ${expected} to ${what}: MAIL ${arg.length > 50 ? `${arg.slice(0, 47)}...` : arg}`, () => {
      expect(rejection(() => parseMailArguments(arg, ctx))).to.equal(expected);
    });
  }

  it('names the keyword in the reply to an unknown parameter', () => {
    expect(rejectionText(() => parseMailArguments('FROM:<a@b.test> foo=bar', EHLO))).to.equal('Unsupported parameter FOO');
  });

  it('names the whole parameter in the reply to a bad one', () => {
    expect(rejectionText(() => parseMailArguments('FROM:<a@b.test> SIZE=abc', EHLO))).to.equal('Bad parameter SIZE=abc');
  });

  it('gives the usage in the reply to a missing keyword', () => {
    expect(rejectionText(() => parseMailArguments('<a@b.test>', EHLO))).to.equal('Syntax: MAIL FROM:<address>');
  });

  describe('order of judgement', () => {
    const order: Array<[string, string, Context, string]> = [
      ['a broken path before a bad parameter', 'FROM:<a@@b.test> SIZE=abc', EHLO, '501 5.1.7'],
      ['a broken path before an unknown parameter', 'FROM:<a@@b.test> FOO', EHLO, '501 5.1.7'],
      ['a broken path before any parameter after HELO', 'FROM:<a@@b.test> SIZE=1', HELO, '501 5.1.7'],
      ['a non-ASCII path without SMTPUTF8 before a bad parameter', 'FROM:<ü@b.test> SIZE=abc', EHLO, '553 5.6.7'],
      ['a non-ASCII, broken path without SMTPUTF8', 'FROM:<ü@@b.test>', EHLO, '553 5.6.7'],
      ['a broken UTF-8 path, with SMTPUTF8 declared', 'FROM:<ü@@b.test> SMTPUTF8', EHLO, '501 5.1.7'],
      ['a bad parameter after SMTPUTF8, with a UTF-8 path', 'FROM:<ü@b.test> SMTPUTF8 SIZE=abc', EHLO, '501 5.5.4'],
      ['the first of two bad parameters: unknown, then malformed', 'FROM:<a@b.test> FOO SIZE=abc', EHLO, '555 5.5.4'],
      ['the first of two bad parameters: malformed, then unknown', 'FROM:<a@b.test> SIZE=abc FOO', EHLO, '501 5.5.4'],
      ['SMTPUTF8 after HELO, even with a UTF-8 path', 'FROM:<ü@b.test> SMTPUTF8', HELO, '555 5.5.4'],
    ];
    for (const [what, arg, ctx, expected] of order) {
      it(`answers ${expected} to ${what}: MAIL ${arg}`, () => {
        expect(rejection(() => parseMailArguments(arg, ctx))).to.equal(expected);
      });
    }
  });
});

describe('commands: RCPT TO arguments (RFC 5321 §4.1.1.3)', () => {
  const ASCII = { ...EHLO, utf8: false };
  const UTF8 = { ...EHLO, utf8: true };

  const accepted: Array<[string, string, typeof ASCII, object]> = [
    ['a plain recipient', 'TO:<c@normal.test>', ASCII, { kind: 'mailbox', address: 'c@normal.test' }],
    ['a lower-case keyword and one space after the colon', 'to: <c@normal.test>', ASCII, { address: 'c@normal.test' }],
    ['<Postmaster>', 'TO:<Postmaster>', ASCII, { kind: 'postmaster' }],
    ['<postmaster> in lower case', 'TO:<postmaster>', ASCII, { kind: 'postmaster' }],
    ['a source route, judged by its final domain', 'TO:<@us.test:u@them.test>', ASCII, { domain: 'them.test' }],
    ['a UTF-8 recipient in an SMTPUTF8 transaction', 'TO:<ü@münchen.test>', UTF8, { address: 'ü@münchen.test' }],
    ['a 64-octet local part', `TO:<${'l'.repeat(64)}@x.test>`, ASCII, { localPart: 'l'.repeat(64) }],
  ];
  for (const [what, arg, ctx, path] of accepted) {
    it(`accepts ${what}: RCPT ${arg.length > 50 ? `${arg.slice(0, 47)}...` : arg}`, () => {
      expect(parseRcptArguments(arg, ctx).path).to.deep.include(path);
    });
  }

  const refused: Array<[string, string, typeof ASCII, string]> = [
    ['a 65-octet local part (vector 21)', `TO:<${'l'.repeat(65)}@x.test>`, ASCII, '501 5.1.3'],
    ['the null path', 'TO:<>', ASCII, '501 5.1.3'],
    ['a second unquoted @', 'TO:<u@them.test@us.test>', ASCII, '501 5.1.3'],
    ['a UTF-8 recipient outside an SMTPUTF8 transaction', 'TO:<ü@b.test>', ASCII, '553 5.6.7'],
    ['an unknown RCPT parameter', 'TO:<c@normal.test> FOO=1', ASCII, '555 5.5.4'],
    ['SIZE, which belongs to MAIL', 'TO:<c@normal.test> SIZE=10', ASCII, '555 5.5.4'],
    ['a malformed parameter', 'TO:<c@normal.test> =x', ASCII, '501 5.5.4'],
    ['a parameter after HELO', 'TO:<c@normal.test> FOO', { ...HELO, utf8: false }, '555 5.5.4'],
    ['a broken path before a parameter', 'TO:<c@@normal.test> FOO', ASCII, '501 5.1.3'],
    ['a missing TO:', '<c@normal.test>', ASCII, '501 5.5.4'],
    ['FROM: instead of TO:', 'FROM:<c@normal.test>', ASCII, '501 5.5.4'],
    ['no path', 'TO:', ASCII, '501 5.5.4'],
  ];
  for (const [what, arg, ctx, expected] of refused) {
    it(`answers ${expected} to ${what}: RCPT ${arg.length > 50 ? `${arg.slice(0, 47)}...` : arg}`, () => {
      expect(rejection(() => parseRcptArguments(arg, ctx))).to.equal(expected);
    });
  }

  it('gives the usage in the reply to a missing keyword', () => {
    expect(rejectionText(() => parseRcptArguments('<c@x.test>', ASCII))).to.equal('Syntax: RCPT TO:<address>');
  });
});

describe('commands: lenient envelopes by default, strict with smtp.strictEnvelopes (issue 15)', () => {
  const LENIENT: Context = { extended: true, authAdvertised: false, strictEnvelopes: false };
  const STRICT: Context = { ...LENIENT, strictEnvelopes: true };

  // [command, address read by default, reply with strictEnvelopes: true]
  const table: Array<[string, string, string]> = [
    ['MAIL FROM:a@example.org', 'a@example.org', '501 5.1.7'],
    ['MAIL FROM: a@example.org', 'a@example.org', '501 5.1.7'],
    ['RCPT TO:b@example.net', 'b@example.net', '501 5.1.3'],
    ['RCPT TO:<b@example.net.>', 'b@example.net', '501 5.1.3'],
    ['mail from:a@example.org SIZE=10', 'a@example.org', '501 5.1.7'],
    ['rcpt to: b@example.net.', 'b@example.net', '501 5.1.3'],
    ['RCPT TO:postmaster', '', '501 5.1.3'],
  ];
  for (const [line, address, strictReply] of table) {
    it(`accepts "${line}" as <${address || 'Postmaster'}>; ${strictReply} when strict`, () => {
      const { verb, arg } = splitCommand(line);
      const parse = (ctx: Context) => (verb === 'MAIL' ? parseMailArguments(arg, ctx) : parseRcptArguments(arg, { ...ctx, utf8: false }));
      const path = parse(LENIENT).path;
      expect(path.kind === 'mailbox' ? path.address : '').to.equal(address);
      expect(rejection(() => parse(STRICT))).to.equal(strictReply);
    });
  }

  it('keeps the parameters after an unbracketed sender', () => {
    expect(parseMailArguments('FROM:a@example.org SIZE=10 BODY=8BITMIME', LENIENT).params)
      .to.deep.equal({ smtputf8: false, size: 10, body: '8BITMIME' });
  });

  const refused: Array<[string, string, string]> = [
    ['a phrase and a bracketed address', 'MAIL FROM:John <a@example.org>', '501 5.1.7'],
    ['a comment after an unbracketed address', 'MAIL FROM:a@example.org (comment)', '501 5.5.4'],
    ['a comment after a bracketed address', 'MAIL FROM:<a@example.org> (comment)', '501 5.5.4'],
    ['two unbracketed addresses', 'RCPT TO:b@example.net c@example.net', '501 5.5.4'],
    ['two bracketed addresses', 'RCPT TO:<b@example.net> <c@example.net>', '501 5.5.4'],
    ['an unbalanced bracket', 'RCPT TO:<b@example.net', '501 5.1.3'],
    ['an unbalanced bracket, the other way', 'RCPT TO:b@example.net>', '501 5.1.3'],
    ['two spaces after the colon', 'MAIL FROM:  a@example.org', '501 5.5.4'],
  ];
  for (const [what, line, expected] of refused) {
    it(`answers ${expected} to ${what}, and 501 when strict: ${line}`, () => {
      const { verb, arg } = splitCommand(line);
      const parse = (ctx: Context) => () => (verb === 'MAIL' ? parseMailArguments(arg, ctx) : parseRcptArguments(arg, { ...ctx, utf8: false }));
      expect(rejection(parse(LENIENT))).to.equal(expected);
      expect(rejection(parse(STRICT))).to.match(/^501 /);
    });
  }
});

// "vector N" in a title is row N of docs/test-vectors.md.

import { expect } from 'chai';
import { AUTH_LINE_LIMIT, SASL_MECHANISMS, startAuth, type SaslExchange, type SaslStep } from '../src/auth/sasl.js';
import { formatReply } from '../src/reply-codes/index.js';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const plain = (authzid: string, authcid: string, passwd: string): string => b64(`${authzid}\0${authcid}\0${passwd}`);

/** "code enhanced" of an error step, failing the test for any other kind. */
function errorOf(step: SaslStep): string {
  if (step.kind !== 'error') expect.fail(`expected an error step, got ${step.kind}`);
  return `${step.reply.code} ${step.reply.enhanced}`;
}

/** The challenge text of a 334 step, failing the test for any other kind. */
function challengeOf(step: SaslStep): string {
  if (step.kind !== 'challenge') expect.fail(`expected a challenge, got ${step.kind}`);
  expect(step.reply.code).to.equal(334);
  expect(step.reply.enhanced).to.equal(undefined);
  return step.reply.lines.join('');
}

/** The exchange startAuth returned, failing the test when there is none. */
function exchangeOf(started: { exchange?: SaslExchange }): SaslExchange {
  if (!started.exchange) expect.fail('expected the exchange to go on');
  return started.exchange;
}

describe('sasl: AUTH PLAIN (RFC 4616)', () => {
  it('yields the credentials from an initial response, with no exchange left to run', () => {
    const started = startAuth(`PLAIN ${plain('', 'alice', 'secret')}`);
    expect(started.mechanism).to.equal('PLAIN');
    expect(started.step).to.deep.equal({ kind: 'credentials', user: 'alice', password: 'secret' });
    expect(started.exchange).to.equal(undefined);
  });

  it('accepts an authzid equal to the authcid', () => {
    expect(startAuth(`PLAIN ${plain('alice', 'alice', 'secret')}`).step)
      .to.deep.equal({ kind: 'credentials', user: 'alice', password: 'secret' });
  });

  it('sends an empty 334 challenge without an initial response, then takes the payload', () => {
    const started = startAuth('PLAIN');
    expect(challengeOf(started.step)).to.equal('');
    expect(exchangeOf(started).respond(plain('', 'alice', 'secret')))
      .to.deep.equal({ kind: 'credentials', user: 'alice', password: 'secret' });
  });

  it('takes "=" (an empty initial response, RFC 4954 §4) as a cue to send the empty challenge', () => {
    const started = startAuth('PLAIN =');
    expect(challengeOf(started.step)).to.equal('');
    expect(exchangeOf(started).respond(plain('', 'bob', 'pw')))
      .to.deep.equal({ kind: 'credentials', user: 'bob', password: 'pw' });
  });

  it('answers 535 5.7.8 when the authzid names someone other than the authcid, without the secret', () => {
    const step = startAuth(`PLAIN ${plain('admin', 'alice', 'secret')}`).step;
    expect(errorOf(step)).to.equal('535 5.7.8');
    expect(step.kind === 'error' && step.reply.lines.join(' ')).not.to.match(/alice|admin|secret/);
  });

  const malformed: Array<[string, string]> = [
    ['no NUL at all', b64('alice secret')],
    ['one NUL', b64('alice\0secret')],
    ['three NULs', b64('\0alice\0secret\0')],
    ['no bytes at all', b64('')],
    ['an empty authcid', plain('', '', 'secret')],
    ['an empty password', plain('', 'alice', '')],
    ['bytes that are not UTF-8', Buffer.from([0, 0x61, 0, 0xff, 0xfe]).toString('base64')],
  ];
  for (const [what, payload] of malformed) {
    it(`answers 501 5.5.2 to a message with ${what}`, () => {
      expect(errorOf(startAuth(`PLAIN ${payload}`).step)).to.equal('501 5.5.2');
      expect(errorOf(exchangeOf(startAuth('PLAIN')).respond(payload))).to.equal('501 5.5.2');
    });
  }

  it('round-trips UTF-8 user names and passwords', () => {
    expect(startAuth(`PLAIN ${plain('', 'jörg@exämple.test', 'пароль✓密码')}`).step)
      .to.deep.equal({ kind: 'credentials', user: 'jörg@exämple.test', password: 'пароль✓密码' });
  });

  it('accepts a response near the RFC 4954 line limit', () => {
    const password = 'p'.repeat(9000);
    const payload = plain('', 'alice', password);
    expect(payload.length).to.be.below(AUTH_LINE_LIMIT);
    expect(startAuth(`PLAIN ${payload}`).step).to.deep.equal({ kind: 'credentials', user: 'alice', password });
  });
});

describe('sasl: AUTH LOGIN', () => {
  it('asks "Username:" then "Password:" in base64, then yields the credentials', () => {
    const started = startAuth('LOGIN');
    expect(started.mechanism).to.equal('LOGIN');
    expect(challengeOf(started.step)).to.equal('VXNlcm5hbWU6');
    expect(Buffer.from('VXNlcm5hbWU6', 'base64').toString()).to.equal('Username:');
    const exchange = exchangeOf(started);
    const second = exchange.respond(b64('alice'));
    expect(challengeOf(second)).to.equal('UGFzc3dvcmQ6');
    expect(Buffer.from('UGFzc3dvcmQ6', 'base64').toString()).to.equal('Password:');
    expect(exchange.respond(b64('secret'))).to.deep.equal({ kind: 'credentials', user: 'alice', password: 'secret' });
  });

  it('sends the challenges on the wire as "334 <base64>"', () => {
    const step = startAuth('LOGIN').step;
    expect(step.kind === 'challenge' && formatReply(step.reply)).to.equal('334 VXNlcm5hbWU6\r\n');
  });

  it('takes the user name as an initial response and asks only for the password', () => {
    const started = startAuth(`LOGIN ${b64('alice')}`);
    expect(challengeOf(started.step)).to.equal('UGFzc3dvcmQ6');
    expect(exchangeOf(started).respond(b64('secret')))
      .to.deep.equal({ kind: 'credentials', user: 'alice', password: 'secret' });
  });

  it('round-trips UTF-8 user names and passwords', () => {
    const exchange = exchangeOf(startAuth(`LOGIN ${b64('Zoë')}`));
    expect(exchange.respond(b64('mot de passe ✓'))).to.deep.equal({ kind: 'credentials', user: 'Zoë', password: 'mot de passe ✓' });
  });

  it('answers 501 5.5.2 to an empty password or a NUL inside the user name', () => {
    expect(errorOf(exchangeOf(startAuth(`LOGIN ${b64('alice')}`)).respond(''))).to.equal('501 5.5.2');
    expect(errorOf(exchangeOf(startAuth(`LOGIN ${b64('al\0ice')}`)).respond(b64('pw')))).to.equal('501 5.5.2');
  });
});

describe('sasl: cancelling and bad base64 (RFC 4954 §4)', () => {
  it('answers 501 5.7.0 when the client cancels a PLAIN exchange with "*"', () => {
    expect(errorOf(exchangeOf(startAuth('PLAIN')).respond('*'))).to.equal('501 5.7.0');
  });

  it('answers 501 when the client cancels LOGIN with "*" at either prompt (vector 36)', () => {
    expect(errorOf(exchangeOf(startAuth('LOGIN')).respond('*'))).to.equal('501 5.7.0');
    expect(errorOf(exchangeOf(startAuth(`LOGIN ${b64('alice')}`)).respond('*'))).to.equal('501 5.7.0');
  });

  const notBase64: Array<[string, string]> = [
    ['characters outside the alphabet', 'dGVz!A=='],
    ['missing padding', 'dGVzdA'],
    ['a length that is not a multiple of 4', 'dGVzdA='],
    ['padding in the middle', 'dA==dGVz'],
    ['stray bits after the last byte', 'dGVzdB=='],
    ['the base64url alphabet', 'a-_a'],
    ['white space', 'dGVz dA=='],
    ['a trailing tab', 'dGVzdA==\t'],
    ['"=" as a response to a challenge', '='],
  ];
  for (const [what, line] of notBase64) {
    it(`answers 501 5.5.2 to a response with ${what}`, () => {
      expect(errorOf(exchangeOf(startAuth('PLAIN')).respond(line))).to.equal('501 5.5.2');
      expect(errorOf(exchangeOf(startAuth('LOGIN')).respond(line))).to.equal('501 5.5.2');
    });
  }

  it('answers 501 5.5.2 to an initial response that is not base64', () => {
    const started = startAuth('PLAIN dGVzdA');
    expect(errorOf(started.step)).to.equal('501 5.5.2');
    expect(started.exchange).to.equal(undefined);
  });

  it('refuses to go on after the exchange has ended', () => {
    const exchange = exchangeOf(startAuth('PLAIN'));
    exchange.respond('*');
    expect(() => exchange.respond(plain('', 'alice', 'secret'))).to.throw(/after the exchange ended/);
  });
});

describe('sasl: choosing the mechanism', () => {
  it('answers 504 5.5.4 to an unknown mechanism such as CRAM-X (vector 36)', () => {
    const started = startAuth('CRAM-X');
    expect(errorOf(started.step)).to.equal('504 5.5.4');
    expect(started.exchange).to.equal(undefined);
    expect(errorOf(startAuth(`CRAM-MD5 ${b64('x')}`).step)).to.equal('504 5.5.4');
  });

  it('accepts mechanism names in any case', () => {
    expect(startAuth(`plain ${plain('', 'alice', 'secret')}`).step.kind).to.equal('credentials');
    expect(challengeOf(startAuth('Login').step)).to.equal('VXNlcm5hbWU6');
    expect(startAuth('pLaIn').mechanism).to.equal('PLAIN');
  });

  it('does not upper-case non-ASCII letters into a mechanism name ("plaın" with a dotless i)', () => {
    expect(errorOf(startAuth('pla\u0131n').step)).to.equal('504 5.5.4');
  });

  it('answers 504 to names inherited from Object, not a crash', () => {
    expect(errorOf(startAuth('constructor').step)).to.equal('504 5.5.4');
    expect(errorOf(startAuth('__PROTO__').step)).to.equal('504 5.5.4');
  });

  it('answers 501 5.5.4 to AUTH with no mechanism or with extra arguments', () => {
    expect(errorOf(startAuth('').step)).to.equal('501 5.5.4');
    expect(errorOf(startAuth(' PLAIN').step)).to.equal('501 5.5.4');
    expect(errorOf(startAuth(`PLAIN ${plain('', 'a', 'b')} extra`).step)).to.equal('501 5.5.4');
  });

  it('offers PLAIN and LOGIN for the EHLO keyword', () => {
    expect(SASL_MECHANISMS).to.deep.equal(['PLAIN', 'LOGIN']);
  });
});

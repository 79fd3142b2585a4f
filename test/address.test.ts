// "vector N" in a title is row N of docs/test-vectors.md.

import { expect } from 'chai';
import { domainOf, parsePath, splitPathAndParams, type Path, type PathOptions, type PathRole } from '../src/protocol/shared/address.js';
import { rejection } from './helpers/rejection.js';

// RFC 5321 as written (smtp.strictEnvelopes); the lenient default has its own tables.
const ASCII = { utf8: false, strict: true };
const UTF8 = { utf8: true, strict: true };

/** A domain of exactly `n` octets, in labels of at most 63. */
function domainOfLength(n: number): string {
  const labels: string[] = [];
  let left = n;
  while (left > 64) {
    labels.push('d'.repeat(63));
    left -= 64;
  }
  labels.push('e'.repeat(left));
  return labels.join('.');
}

const LOCAL_64 = 'l'.repeat(64);
// "<" + 64 + "@" + 189 + ">" = 256 octets, the most RFC 5321 §4.5.3.1.3 requires.
const PATH_256 = `<${LOCAL_64}@${domainOfLength(189)}>`;
const PATH_257 = `<${LOCAL_64}@${domainOfLength(190)}>`;

describe('address: parsePath (RFC 5321 §4.1.2)', () => {
  const accepted: Array<[string, string, PathRole, PathOptions, Partial<Extract<Path, { kind: 'mailbox' }>> | Path]> = [
    ['a plain mailbox', '<user@example.com>', 'recipient', ASCII,
      { kind: 'mailbox', localPart: 'user', domain: 'example.com', address: 'user@example.com' }],
    ['a dot-string with atext specials', "<a.b+c!d#e$f%g&h'i*j/k=l?m^n_o`p{q|r}s~t@x.test>", 'sender', ASCII,
      { localPart: "a.b+c!d#e$f%g&h'i*j/k=l?m^n_o`p{q|r}s~t" }],
    ['a quoted local part with a space', '<"john doe"@example.com>', 'recipient', ASCII,
      { localPart: '"john doe"', address: '"john doe"@example.com' }],
    ['a quoted local part with an escaped quote', '<"a\\"b"@x.test>', 'recipient', ASCII,
      { localPart: '"a\\"b"', domain: 'x.test' }],
    ['a quoted local part holding "@" and ">"', '<"u@them>"@us.test>', 'recipient', ASCII,
      { localPart: '"u@them>"', domain: 'us.test' }],
    ['an empty quoted local part', '<""@x.test>', 'sender', ASCII, { localPart: '""' }],
    ['a source route, which is dropped', '<@a.example,@b.example:user@c.example>', 'recipient', ASCII,
      { localPart: 'user', domain: 'c.example', address: 'user@c.example' }],
    ['an IPv4 address literal', '<u@[192.0.2.1]>', 'recipient', ASCII,
      { domain: '[192.0.2.1]', literal: { family: 4, ip: '192.0.2.1' } }],
    ['an IPv4 literal with leading zeros, read as decimal', '<u@[192.0.2.010]>', 'recipient', ASCII,
      { domain: '[192.0.2.010]', literal: { family: 4, ip: '192.0.2.10' } }],
    ['an IPv6 address literal', '<u@[IPv6:2001:db8::1]>', 'recipient', ASCII,
      { domain: '[IPv6:2001:db8::1]', literal: { family: 6, ip: '2001:db8::1' } }],
    ['an IPv6 literal in another spelling, canonicalised', '<u@[ipv6:2001:DB8:0:0::1]>', 'sender', ASCII,
      { domain: '[ipv6:2001:DB8:0:0::1]', literal: { family: 6, ip: '2001:db8::1' } }],
    ['the null reverse-path', '<>', 'sender', ASCII, { kind: 'null' }],
    ['<Postmaster> as a recipient', '<Postmaster>', 'recipient', ASCII, { kind: 'postmaster' }],
    ['<POSTMASTER> as a recipient', '<POSTMASTER>', 'recipient', ASCII, { kind: 'postmaster' }],
    ['postmaster@domain as an ordinary mailbox', '<postmaster@x.test>', 'recipient', ASCII,
      { kind: 'mailbox', localPart: 'postmaster', domain: 'x.test' }],
    ['mixed case, preserved in both parts', '<John.Doe@Example.COM>', 'recipient', ASCII,
      { localPart: 'John.Doe', domain: 'Example.COM', address: 'John.Doe@Example.COM' }],
    ['a single-label domain', '<root@localhost>', 'recipient', ASCII, { domain: 'localhost' }],
    ['a hyphen inside a label', '<u@a-b.x-1.test>', 'recipient', ASCII, { domain: 'a-b.x-1.test' }],
    ['UTF-8 in the local part with SMTPUTF8', '<ü@b.test>', 'sender', UTF8, { localPart: 'ü', domain: 'b.test' }],
    ['a U-label domain with SMTPUTF8', '<jürgen@münchen.test>', 'recipient', UTF8,
      { localPart: 'jürgen', domain: 'münchen.test' }],
    ['UTF-8 inside a quoted local part with SMTPUTF8', '<"ä ö"@x.test>', 'recipient', UTF8, { localPart: '"ä ö"' }],
    ['a 64-octet local part', `<${LOCAL_64}@x.test>`, 'recipient', ASCII, { localPart: LOCAL_64 }],
    ['a 256-octet path', PATH_256, 'sender', ASCII, { localPart: LOCAL_64 }],
  ];
  for (const [what, text, role, options, expected] of accepted) {
    it(`accepts ${what} for a ${role}: ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`, () => {
      expect(parsePath(text, role, options)).to.deep.include(expected);
    });
  }

  it('gives no literal field for an ordinary domain', () => {
    expect(parsePath('<u@x.test>', 'recipient', ASCII)).not.to.have.property('literal');
  });

  const BAD_SENDER = '501 5.1.7';
  const BAD_RECIPIENT = '501 5.1.3';
  const NON_ASCII = '553 5.6.7';
  const refused: Array<[string, string, PathRole, PathOptions, string]> = [
    ['a 65-octet local part (vector 21)', `<${'l'.repeat(65)}@x.test>`, 'recipient', ASCII, BAD_RECIPIENT],
    ['a 257-octet path (vector 21)', PATH_257, 'sender', ASCII, BAD_SENDER],
    ['a 256-octet domain', `<u@${domainOfLength(256)}>`, 'recipient', ASCII, BAD_RECIPIENT],
    ['a path over 256 octets only because of its source route',
      `<@${domainOfLength(60)}:${LOCAL_64}@${domainOfLength(130)}>`, 'recipient', ASCII, BAD_RECIPIENT],
    ['a local part over 64 octets only when counted in UTF-8', `<${'ü'.repeat(33)}@x.test>`, 'recipient', UTF8, BAD_RECIPIENT],
    ['a 64-character label', `<u@${'a'.repeat(64)}.test>`, 'recipient', ASCII, BAD_RECIPIENT],
    ['a missing pair of angle brackets', 'user@example.com', 'sender', ASCII, BAD_SENDER],
    ['a missing closing bracket', '<user@example.com', 'recipient', ASCII, BAD_RECIPIENT],
    ['text after the closing bracket', '<user@example.com>x', 'recipient', ASCII, BAD_RECIPIENT],
    ['an empty string', '', 'sender', ASCII, BAD_SENDER],
    ['<> as a recipient', '<>', 'recipient', ASCII, BAD_RECIPIENT],
    ['<Postmaster> as a sender', '<Postmaster>', 'sender', ASCII, BAD_SENDER],
    ['a local part with no domain', '<user>', 'recipient', ASCII, BAD_RECIPIENT],
    ['an empty local part', '<@x.test>', 'recipient', ASCII, BAD_RECIPIENT],
    ['an empty domain', '<u@>', 'recipient', ASCII, BAD_RECIPIENT],
    ['a second unquoted @ (RFC 2505 trick)', '<u@them.test@us.test>', 'recipient', ASCII, BAD_RECIPIENT],
    ['a leading dot in the local part', '<.u@x.test>', 'recipient', ASCII, BAD_RECIPIENT],
    ['a trailing dot in the local part', '<u.@x.test>', 'recipient', ASCII, BAD_RECIPIENT],
    ['a double dot in the local part', '<a..b@x.test>', 'recipient', ASCII, BAD_RECIPIENT],
    ['a space in an unquoted local part', '<a b@x.test>', 'recipient', ASCII, BAD_RECIPIENT],
    ['a quote inside an unquoted local part', '<a"b"@x.test>', 'recipient', ASCII, BAD_RECIPIENT],
    ['an unterminated quoted local part', '<"ab@x.test>', 'recipient', ASCII, BAD_RECIPIENT],
    ['text after a quoted local part', '<"a"b@x.test>', 'recipient', ASCII, BAD_RECIPIENT],
    ['a control character in a quoted local part', '<"a\tb"@x.test>', 'recipient', ASCII, BAD_RECIPIENT],
    ['an underscore in the domain', '<u@my_host.test>', 'recipient', ASCII, BAD_RECIPIENT],
    ['a label starting with a hyphen', '<u@-x.test>', 'recipient', ASCII, BAD_RECIPIENT],
    ['a label ending with a hyphen', '<u@x-.test>', 'recipient', ASCII, BAD_RECIPIENT],
    ['an empty label', '<u@a..test>', 'recipient', ASCII, BAD_RECIPIENT],
    ['a trailing dot on the domain', '<u@x.test.>', 'recipient', ASCII, BAD_RECIPIENT],
    ['a leading dot on the domain', '<u@.x.test>', 'sender', ASCII, BAD_SENDER],
    ['an IPv4 literal with an octet over 255', '<u@[192.0.2.256]>', 'recipient', ASCII, BAD_RECIPIENT],
    ['an IPv4 literal with three parts', '<u@[192.0.2]>', 'recipient', ASCII, BAD_RECIPIENT],
    ['an IPv6 literal without its tag', '<u@[2001:db8::1]>', 'recipient', ASCII, BAD_RECIPIENT],
    ['an invalid IPv6 literal', '<u@[IPv6:2001:db8:::1]>', 'recipient', ASCII, BAD_RECIPIENT],
    ['an IPv6 literal with a zone', '<u@[IPv6:fe80::1%eth0]>', 'recipient', ASCII, BAD_RECIPIENT],
    ['a general address literal', '<u@[tag:content]>', 'recipient', ASCII, BAD_RECIPIENT],
    ['an unclosed address literal', '<u@[192.0.2.1>', 'recipient', ASCII, BAD_RECIPIENT],
    ['a source route with a bad domain', '<@a_b.test:u@c.test>', 'recipient', ASCII, BAD_RECIPIENT],
    ['a source route without its colon', '<@a.test,u@c.test>', 'recipient', ASCII, BAD_RECIPIENT],
    ['a source route hop without its @', '<@a.test,b.test:u@c.test>', 'recipient', ASCII, BAD_RECIPIENT],
    ['a source route to <Postmaster>', '<@a.test:Postmaster>', 'recipient', ASCII, BAD_RECIPIENT],
    ['a non-ASCII local part without SMTPUTF8 (vector 39)', '<ü@b.test>', 'sender', ASCII, NON_ASCII],
    ['a U-label without SMTPUTF8', '<u@münchen.test>', 'recipient', ASCII, NON_ASCII],
    ['a non-ASCII path that is also malformed, without SMTPUTF8', '<ü@@b.test>', 'recipient', ASCII, NON_ASCII],
    ['a non-ASCII character in an address literal', '<u@[192.0.2.1ü]>', 'recipient', UTF8, BAD_RECIPIENT],
    ['U+FFFD, which stands for bytes that were not UTF-8', '<a\uFFFDb@x.test>', 'recipient', UTF8, BAD_RECIPIENT],
    ['a U-label starting with a hyphen', '<u@-ü.test>', 'recipient', UTF8, BAD_RECIPIENT],
    ['a U-label holding an underscore', '<u@ü_x.test>', 'recipient', UTF8, BAD_RECIPIENT],
    ['a U-label holding an ideographic full stop', '<u@ü\u3002x.test>', 'recipient', UTF8, BAD_RECIPIENT],
  ];
  for (const [what, text, role, options, expected] of refused) {
    it(`answers ${expected} for ${what} as a ${role}`, () => {
      expect(rejection(() => parsePath(text, role, options))).to.equal(expected);
    });
  }
});

describe('address: the domain relaying is judged by (RFC 2505 §2.1)', () => {
  it('takes the final domain of a source route: <@us.test:u@them.test> is for them.test', () => {
    const path = parsePath('<@us.test:u@them.test>', 'recipient', ASCII);
    expect(path).to.deep.include({ kind: 'mailbox', domain: 'them.test', address: 'u@them.test' });
  });

  it('never routes on "%" inside a quoted local part: <"u%them.test"@us.test> is for us.test', () => {
    expect(parsePath('<"u%them.test"@us.test>', 'recipient', ASCII)).to.deep.include({ domain: 'us.test' });
  });

  it('never routes on "%" or "!" in a dot-string local part', () => {
    expect(parsePath('<u%them.test@us.test>', 'recipient', ASCII)).to.deep.include({ domain: 'us.test' });
    expect(parsePath('<them.test!u@us.test>', 'recipient', ASCII)).to.deep.include({ domain: 'us.test' });
  });

  it('refuses an unquoted second @: <u@them.test@us.test> → 501 5.1.3', () => {
    expect(rejection(() => parsePath('<u@them.test@us.test>', 'recipient', ASCII))).to.equal('501 5.1.3');
  });
});

describe('address: domainOf', () => {
  const cases: Array<[string, string]> = [
    ['u@Example.COM', 'example.com'],
    ['"a@b"@x.test', 'x.test'],
    ['u@[IPv6:2001:DB8::1]', '[ipv6:2001:db8::1]'],
    ['u@MÜNCHEN.test', 'münchen.test'],
    ['no-at-sign', ''],
  ];
  for (const [address, domain] of cases) {
    it(`gives "${domain}" for ${address}`, () => {
      expect(domainOf(address)).to.equal(domain);
    });
  }
});

describe('address: splitPathAndParams', () => {
  const cases: Array<[string, string, string]> = [
    ['<a@b.test>', '<a@b.test>', ''],
    ['<a@b.test> SIZE=10 BODY=8BITMIME', '<a@b.test>', 'SIZE=10 BODY=8BITMIME'],
    ['<"john doe"@x.test> SIZE=10', '<"john doe"@x.test>', 'SIZE=10'],
    ['<"a>b c"@x.test> SMTPUTF8', '<"a>b c"@x.test>', 'SMTPUTF8'],
    ['<"a\\" >b"@x.test> SIZE=1', '<"a\\" >b"@x.test>', 'SIZE=1'],
    ['<a@b.test>  SIZE=10', '<a@b.test>', ' SIZE=10'],
    ['<a@b.test>SIZE=10', '<a@b.test>SIZE=10', ''],
    ['<a@b.test>x SIZE=10', '<a@b.test>x', 'SIZE=10'],
    ['a@b.test SIZE=10', 'a@b.test', 'SIZE=10'],
    ['<"unterminated@x.test> SIZE=1', '<"unterminated@x.test> SIZE=1', ''],
    ['', '', ''],
  ];
  for (const [rest, pathText, paramsText] of cases) {
    it(`splits ${JSON.stringify(rest)} into ${JSON.stringify(pathText)} and ${JSON.stringify(paramsText)}`, () => {
      expect(splitPathAndParams(rest)).to.deep.equal({ pathText, paramsText });
    });
  }
});

describe('address: lenient paths, as Postfix strict_rfc821_envelopes = no (issue 15)', () => {
  const LENIENT = { utf8: false, strict: false };
  const LENIENT_UTF8 = { utf8: true, strict: false };
  // [path text, role, options, what it reads as]; each also checked against the strict reading.
  const accepted: Array<[string, PathRole, PathOptions, Partial<Extract<Path, { kind: 'mailbox' }>> | Path]> = [
    ['user@example.org', 'sender', LENIENT, { kind: 'mailbox', localPart: 'user', domain: 'example.org', address: 'user@example.org' }],
    ['<user@example.org.>', 'recipient', LENIENT, { domain: 'example.org', address: 'user@example.org' }],
    ['user@example.org.', 'recipient', LENIENT, { domain: 'example.org', address: 'user@example.org' }],
    ['<"a@b."@example.org.>', 'recipient', LENIENT, { localPart: '"a@b."', domain: 'example.org' }],
    ['"john doe"@example.org', 'recipient', LENIENT, { localPart: '"john doe"', domain: 'example.org' }],
    ['u@[192.0.2.1]', 'recipient', LENIENT, { domain: '[192.0.2.1]', literal: { family: 4, ip: '192.0.2.1' } }],
    ['postmaster', 'recipient', LENIENT, { kind: 'postmaster' }],
    ['@relay.test:u@them.test', 'recipient', LENIENT, { domain: 'them.test', address: 'u@them.test' }],
    ['jürgen@münchen.test.', 'recipient', LENIENT_UTF8, { domain: 'münchen.test', address: 'jürgen@münchen.test' }],
  ];
  for (const [text, role, options, expected] of accepted) {
    it(`reads ${text} as a ${role}; strictly it is a 501`, () => {
      expect(parsePath(text, role, options)).to.deep.include(expected);
      expect(rejection(() => parsePath(text, role, { ...options, strict: true }))).to.match(/^501 5\.1\.[37]$/);
    });
  }

  it('reads a path the same with and without its brackets', () => {
    for (const text of ['u@ours.test', '"u@them"@ours.test', 'u%them@ours.test', 'them!u@ours.test', '@a.test:u@b.test']) {
      expect(parsePath(text, 'recipient', LENIENT)).to.deep.equal(parsePath(`<${text}>`, 'recipient', LENIENT));
    }
  });

  const refused: Array<[string, string, PathRole, string]> = [
    ['a phrase before the address', 'John<a@example.org>', 'sender', '501 5.1.7'],
    ['a comment before the address', '(comment)a@example.org', 'sender', '501 5.1.7'],
    ['a comment after the domain', 'a@example.org(comment)', 'recipient', '501 5.1.3'],
    ['two addresses with a comma', 'a@example.org,b@example.org', 'recipient', '501 5.1.3'],
    ['an opening bracket only', '<a@example.org', 'recipient', '501 5.1.3'],
    ['a closing bracket only', 'a@example.org>', 'recipient', '501 5.1.3'],
    ['doubled brackets', '<<a@example.org>>', 'recipient', '501 5.1.3'],
    ['two trailing dots', 'a@example.org..', 'recipient', '501 5.1.3'],
    ['a dot after an address literal', '<u@[192.0.2.1].>', 'recipient', '501 5.1.3'],
    ['a dot as the whole domain', 'a@.', 'recipient', '501 5.1.3'],
    ['a trailing dot on a mailbox without a domain', '<postmaster.>', 'recipient', '501 5.1.3'],
    ['a second unquoted @', 'u@them.test@us.test', 'recipient', '501 5.1.3'],
    ['an empty null path without brackets', '', 'sender', '501 5.1.7'],
    ['a non-ASCII address without SMTPUTF8', 'ü@example.org', 'sender', '553 5.6.7'],
  ];
  for (const [what, text, role, expected] of refused) {
    it(`answers ${expected} to ${what}: ${text}`, () => {
      expect(rejection(() => parsePath(text, role, LENIENT))).to.equal(expected);
    });
  }
});

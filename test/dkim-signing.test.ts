import { expect } from 'chai';
import { DkimSigner, fromDomain } from '../src/dkim/signer.js';
import { signedFieldNames } from '../src/dkim/signature.js';
import { splitFields } from '../src/dkim/header-section.js';
import { dkimVerifyAll, type DkimVerdict } from './helpers/dkim-verify.js';
import { recordsOf, testKey, testKeyPems } from './helpers/dkim-keys.js';
import type { DkimKey } from '../src/dkim/dkim-keys.js';

const MESSAGE = [
  'Received: from client.test ([127.0.0.1]) by mx.minimta.test',
  'From: "Alice, Example" <alice@example.org>',
  'To: bob@example.net,',
  '\tcarol@example.net',
  'Subject:   Lunch   today?  ',
  'Date: Sun, 29 Nov 2026 10:00:00 +0000',
  'Message-ID: <1@example.org>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Trailing spaces here   ',
  '\t\tand tabs\tinside',
  'caf\xc3\xa9',
  '',
  '',
].join('\r\n');

describe('DKIM signing (RFC 6376, RFC 8463), checked by python3-dkim', function () {
  this.timeout(30_000);
  let rsa: DkimKey;
  let ed: DkimKey;
  let signer: DkimSigner;
  let records: Record<string, string>;
  const now = new Date('2026-11-29T12:00:00Z');

  before(function () {
    const { rsaPem, ed25519Pem } = testKeyPems();
    rsa = testKey('example.org', 'rsa1', rsaPem);
    ed = testKey('example.org', 'ed1', ed25519Pem);
    signer = new DkimSigner([rsa, ed], () => now);
    records = recordsOf([rsa, ed]);
  });

  function signed(message: string | Buffer, by: DkimSigner = signer): Buffer {
    const bytes = typeof message === 'string' ? Buffer.from(message, 'latin1') : message;
    const signature = by.signMessage(bytes);
    expect(signature, 'a signature').to.not.equal(undefined);
    return Buffer.concat([signature!.prefix, bytes]);
  }

  // Every message python3-dkim is to check, verified in one batch (its start-up is slow).
  const cases: Record<string, () => Buffer> = {
    both: () => signed(MESSAGE),
    rsaAlone: () => signed(MESSAGE, new DkimSigner([rsa], () => now)),
    edAlone: () => signed(MESSAGE, new DkimSigner([ed], () => now)),
    emptyBody: () => signed('From: a@example.org\r\nSubject: x\r\n\r\n'),
    allHeader: () => signed('From: a@example.org\r\nSubject: x\r\n'),
    noFinalCrlf: () => signed('From: a@example.org\r\n\r\nno line end'),
    respaced: () => Buffer.from(signed(MESSAGE).toString('latin1')
      .replace('Trailing spaces here   ', 'Trailing  spaces here').replace('Subject:   Lunch', 'Subject: Lunch'), 'latin1'),
    bodyChanged: () => Buffer.from(signed(MESSAGE).toString('latin1').replace('and tabs', 'and TABS'), 'latin1'),
    subjectAdded: () => Buffer.from(signed(MESSAGE).toString('latin1')
      .replace('\r\n\r\nTrailing', '\r\nSubject: You won a prize\r\n\r\nTrailing'), 'latin1'),
    subdomain: () => signed('From: cron@host.example.org\r\n\r\nhi\r\n'),
  };
  const verdicts: Record<string, DkimVerdict> = {};
  const messages: Record<string, Buffer> = {};

  before(async () => {
    for (const [name, make] of Object.entries(cases)) messages[name] = make();
    const names = Object.keys(messages);
    const results = await dkimVerifyAll(names.map((n) => messages[n]!), records);
    names.forEach((name, i) => { verdicts[name] = results[i]!; });
  });

  it('signs twice, rsa-sha256 and ed25519-sha256, and both signatures verify', () => {
    expect(verdicts.both!.lines).to.deep.equal(['pass d=example.org s=rsa1 a=rsa-sha256', 'pass d=example.org s=ed1 a=ed25519-sha256']);
    expect(verdicts.both!.passed).to.equal(true);
  });

  it('each algorithm alone verifies', () => {
    expect(verdicts.rsaAlone!.lines).to.deep.equal(['pass d=example.org s=rsa1 a=rsa-sha256']);
    expect(verdicts.edAlone!.lines).to.deep.equal(['pass d=example.org s=ed1 a=ed25519-sha256']);
  });

  it('signs an empty body, and a message that is all header', () => {
    expect(verdicts.emptyBody!.passed).to.equal(true);
    expect(verdicts.allHeader!.passed).to.equal(true);
  });

  it('signs a body without a final CRLF', () => {
    expect(verdicts.noFinalCrlf!.passed).to.equal(true);
  });

  it('still verifies after a relay changes whitespace (relaxed), and fails once the body changes', () => {
    expect(verdicts.respaced!.passed).to.equal(true);
    expect(verdicts.bodyChanged!.passed).to.equal(false);
    expect(verdicts.bodyChanged!.lines.join()).to.include('body hash mismatch');
  });

  it('over-signs From, To and Subject: a second Subject added later breaks the signature', () => {
    const fields = splitFields(MESSAGE.slice(0, MESSAGE.indexOf('\r\n\r\n') + 2));
    const names = signedFieldNames(fields);
    expect(names.filter((n) => n === 'from')).to.have.length(2);
    expect(names.filter((n) => n === 'to')).to.have.length(2);
    expect(names.filter((n) => n === 'subject')).to.have.length(2);
    expect(names).to.not.include('received');
    expect(verdicts.subjectAdded!.passed).to.equal(false);
  });

  it('never uses l=, and the same message signed in chunks gives the same bytes', () => {
    const whole = signer.signMessage(Buffer.from(MESSAGE, 'latin1'))!;
    expect(whole.prefix.toString()).to.not.match(/[;\s]l=/);
    const streaming = signer.start();
    for (let i = 0; i < MESSAGE.length; i += 7) streaming.update(Buffer.from(MESSAGE.slice(i, i + 7), 'latin1'));
    expect(streaming.finish()!.prefix.equals(whole.prefix)).to.equal(true);
  });

  it('folds the signature into lines of at most 78 octets', () => {
    const lines = signer.signMessage(Buffer.from(MESSAGE, 'latin1'))!.prefix.toString().split('\r\n');
    for (const line of lines) expect(line.length).to.be.at.most(78);
  });

  it('uses the key of a parent domain for a subdomain, and none for a domain without a key', () => {
    expect(messages.subdomain!.toString()).to.include('d=example.org;');
    expect(verdicts.subdomain!.passed).to.equal(true);
    expect(signer.signMessage(Buffer.from('From: a@example.com\r\n\r\nhi\r\n'))).to.equal(undefined);
    expect(signer.signMessage(Buffer.from('From: a@notexample.org\r\n\r\nhi\r\n'))).to.equal(undefined);
  });

  it('finds the From: domain in the usual forms, and none where it is ambiguous', () => {
    const from = (value: string) => fromDomain([{ name: 'From', text: `From: ${value}` }]);
    expect(from('a@Example.ORG')).to.equal('example.org');
    expect(from('"Doe, John" <john@example.org>')).to.equal('example.org');
    expect(from('John (at home) <john@example.org>')).to.equal('example.org');
    expect(from('"a@evil.test" <john@example.org>')).to.equal('example.org');
    expect(from('a@example.org, b@example.net')).to.equal(undefined);
    expect(from('undisclosed')).to.equal(undefined);
    expect(fromDomain([{ name: 'From', text: 'From: a@example.org' }, { name: 'FROM', text: 'FROM: b@example.org' }])).to.equal(undefined);
  });
});

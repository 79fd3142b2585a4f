import { expect } from 'chai';
import { RelaxedBody, relaxedBody, relaxedHeader } from '../src/dkim/canonicalization.js';
import { bodyHash } from '../src/dkim/signature.js';
import { HeaderSection } from '../src/dkim/header-section.js';

// Hand-made vectors for RFC 6376 §3.4.2 and §3.4.4 (relaxed/relaxed).
describe('DKIM relaxed canonicalization (RFC 6376 §3.4.2, §3.4.4)', () => {
  describe('header fields', () => {
    const vectors: Array<[string, string, string]> = [
      ['lower-cases the name, keeps the value\'s case', 'SUBJECT: Hello World', 'subject:Hello World\r\n'],
      ['drops trailing whitespace of the value', 'Subject: hello \t \r\n', 'subject:hello\r\n'],
      ['turns runs of WSP into one space', 'Subject:  a \t\t b', 'subject:a b\r\n'],
      ['unfolds folded lines', 'Subject: first\r\n  second\r\n\tthird', 'subject:first second third\r\n'],
      ['drops whitespace around the colon', 'Subject \t:   value', 'subject:value\r\n'],
      ['keeps an empty value empty', 'X-Empty:', 'x-empty:\r\n'],
      ['keeps an empty value made of folding only empty', 'X-Empty: \r\n \t', 'x-empty:\r\n'],
      ['passes 8-bit octets through', 'Subject: caf\xe9  au lait', 'subject:caf\xe9 au lait\r\n'],
    ];
    for (const [what, field, canonical] of vectors) {
      it(what, () => expect(relaxedHeader(field)).to.equal(canonical));
    }
  });

  describe('body', () => {
    const vectors: Array<[string, string, string]> = [
      ['drops trailing whitespace on each line', 'a  \r\nb\t\r\n', 'a\r\nb\r\n'],
      ['turns runs of WSP within a line into one space', ' a \t b\r\n', ' a b\r\n'],
      ['ignores empty lines at the end', 'a\r\n\r\n\r\n', 'a\r\n'],
      ['ignores whitespace-only lines at the end', 'a\r\n \t\r\n  \r\n', 'a\r\n'],
      ['keeps empty lines between text', 'a\r\n\r\n \r\nb\r\n', 'a\r\n\r\n\r\nb\r\n'],
      ['an empty body is empty (no CRLF added)', '', ''],
      ['a body of only empty lines is empty', '\r\n\r\n', ''],
      ['a body without a final CRLF gets one', 'a\r\nlast line', 'a\r\nlast line\r\n'],
      ['a last line of whitespace without CRLF is an empty line', 'a\r\n  ', 'a\r\n'],
    ];
    for (const [what, body, canonical] of vectors) {
      it(what, () => expect(relaxedBody(body)).to.equal(canonical));
    }

    it('gives the same result however the body is cut into chunks (CRLF and WSP runs split)', () => {
      const body = 'one  \t two \r\n\r\nthree\t\r\n \r\n\r\n';
      for (let size = 1; size <= body.length; size++) {
        const canon = new RelaxedBody();
        let out = '';
        for (let i = 0; i < body.length; i += size) out += canon.update(body.slice(i, i + size));
        out += canon.final();
        expect(out, `chunks of ${size}`).to.equal('one two\r\n\r\nthree\r\n');
      }
    });

    it('hashes the empty body to SHA-256 of nothing', () => {
      expect(bodyHash(relaxedBody(''))).to.equal('47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
    });

    it('matches the body hash of the RFC 8463 appendix A example', () => {
      const body = 'Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n';
      expect(bodyHash(relaxedBody(body))).to.equal('2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=');
    });
  });

  describe('the header section as it streams', () => {
    it('splits fields (folded lines kept together) from the body, byte by byte', () => {
      const message = 'From: a@b.test\r\nSubject: x\r\n y\r\n\r\nbody\r\n';
      const section = new HeaderSection(1000);
      let body = '';
      for (const c of message) body += section.update(c);
      expect(section.complete).to.equal(true);
      expect(section.fields()).to.deep.equal([
        { name: 'From', text: 'From: a@b.test' },
        { name: 'Subject', text: 'Subject: x\r\n y' },
      ]);
      expect(body).to.equal('body\r\n');
    });

    it('takes a message with no empty line as all header', () => {
      const section = new HeaderSection(1000);
      expect(section.update('From: a@b.test\r\n')).to.equal('');
      expect(section.complete).to.equal(false);
      expect(section.fields()).to.deep.equal([{ name: 'From', text: 'From: a@b.test' }]);
    });

    it('gives up on a header section over the limit', () => {
      const section = new HeaderSection(20);
      section.update('X-Long: ' + 'x'.repeat(40) + '\r\n');
      section.update('\r\nbody\r\n');
      expect(section.fields()).to.equal(undefined);
    });
  });
});

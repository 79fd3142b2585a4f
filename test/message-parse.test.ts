import { expect } from 'chai';
import { parseMail } from '../src/mime/message-parse.js';
import { decodeEncodedWords, parseParameterized } from '../src/mime/header-fields.js';

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'));

describe('message parser (RFC 2045, RFC 2046, RFC 2047)', () => {
  it('reads a plain message with no Content-Type as text/plain', () => {
    const mail = parseMail(crlf(['Subject: hi', 'From: a@b.test', '', 'hello', '']));
    expect(mail.subject).to.equal('hi');
    expect(mail.text).to.equal('hello\r\n');
    expect(mail.html).to.equal(undefined);
    expect(mail.attachments).to.deep.equal([]);
  });

  it('finds text and HTML in multipart/alternative inside multipart/mixed, and lists the attachment with its decoded size', () => {
    const mail = parseMail(crlf([
      'Subject: =?utf-8?B?Y2Fmw6k=?= au lait',
      'Content-Type: multipart/mixed; boundary="outer"',
      '',
      'preamble',
      '--outer',
      'Content-Type: multipart/alternative; boundary=inner',
      '',
      '--inner',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'caf=C3=A9 =',
      'soft',
      '--inner',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<p>hi</p>',
      '--inner--',
      '--outer',
      'Content-Type: application/pdf; name="r.pdf"',
      'Content-Disposition: attachment; filename*=utf-8\'\'r%C3%A9port.pdf',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('0123456789').toString('base64'),
      '--outer--',
      '',
    ]));
    expect(mail.subject).to.equal('café au lait');
    expect(mail.text).to.equal('café soft');
    expect(mail.html).to.equal('<p>hi</p>');
    expect(mail.attachments).to.deep.equal([
      { filename: 'réport.pdf', contentType: 'application/pdf', size: 10, disposition: 'attachment' },
    ]);
  });

  it('decodes Q encoded words and drops the space between two of them (RFC 2047 §6.2)', () => {
    expect(decodeEncodedWords('=?ISO-8859-1?Q?a_=E9?= =?utf-8?Q?b?=')).to.equal('a éb');
  });

  it('reads quoted parameters with semicolons inside', () => {
    expect(parseParameterized('Attachment; filename="a;b.txt"')).to.deep.equal({ value: 'attachment', params: { filename: 'a;b.txt' } });
  });

  it('never throws on garbage', () => {
    const mail = parseMail(Buffer.from('no header at all\nContent-Type: multipart/mixed; boundary=x\n\n--x\n'));
    expect(mail.attachments).to.be.an('array');
  });
});

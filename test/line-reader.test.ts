// "vector N" in a title is row N of docs/test-vectors.md.

import { expect } from 'chai';
import { LineReader, type LineEvent } from '../src/protocol/server/line-reader.js';

function drain(reader: LineReader): LineEvent[] {
  const events: LineEvent[] = [];
  for (let e = reader.next(); e; e = reader.next()) events.push(e);
  return events;
}

function readAll(input: string | Buffer, limit = 512, chunkSize?: number): LineEvent[] {
  const reader = new LineReader(limit);
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input, 'latin1');
  const events: LineEvent[] = [];
  const step = chunkSize ?? bytes.length;
  for (let i = 0; i < bytes.length; i += step) {
    reader.push(bytes.subarray(i, i + step));
    events.push(...drain(reader));
  }
  return events;
}

const texts = (events: LineEvent[]) => events.map((e) => (e.kind === 'line' ? e.text : `<${e.kind}>`));

describe('line-reader: CRLF framing (RFC 5321 §2.3.8)', () => {
  it('splits CRLF-terminated lines and keeps an incomplete one for later', () => {
    const reader = new LineReader(512);
    reader.push(Buffer.from('EHLO a\r\nMAIL FROM:<a@b>\r\nRC'));
    expect(texts(drain(reader))).to.deep.equal(['EHLO a', 'MAIL FROM:<a@b>']);
    reader.push(Buffer.from('PT TO:<c@d>\r\n'));
    expect(texts(drain(reader))).to.deep.equal(['RCPT TO:<c@d>']);
  });

  it('finds CRLF when CR and LF arrive in separate reads, one byte per read', () => {
    expect(texts(readAll('NOOP\r\nQUIT\r\n', 512, 1))).to.deep.equal(['NOOP', 'QUIT']);
  });

  it('reports a bare LF instead of ending the line there', () => {
    expect(texts(readAll('NOOP\nQUIT\r\n'))).to.deep.equal(['<bare-lf>']);
  });

  it('reports a bare CR, also when the next byte comes in a later read', () => {
    expect(texts(readAll('NO\rOP\r\n'))).to.deep.equal(['<bare-cr>']);
    expect(texts(readAll('NOOP\rX\r\n', 512, 1))).to.deep.equal(['<bare-cr>']);
  });

  it('accepts a 512-octet line including CRLF and refuses a 513-octet one (vector 20)', () => {
    const ok = 'RCPT TO:<' + 'a'.repeat(512 - 2 - 'RCPT TO:<>'.length) + '>';
    expect(Buffer.byteLength(ok) + 2).to.equal(512);
    expect(texts(readAll(ok + '\r\n'))).to.deep.equal([ok]);
    const long = 'X'.repeat(511);
    expect(texts(readAll(long + '\r\nNOOP\r\n'))).to.deep.equal(['<too-long>', 'NOOP']);
  });

  it('drops an over-long line up to its CRLF without buffering it, however it is split', () => {
    const reader = new LineReader(512);
    const events: LineEvent[] = [];
    reader.push(Buffer.from('A'.repeat(1000)));
    events.push(...drain(reader));
    for (let i = 0; i < 100; i++) {
      reader.push(Buffer.from('B'.repeat(10_000)));
      events.push(...drain(reader));
      expect(reader.buffered).to.be.below(512);
    }
    reader.push(Buffer.from('C\r'));
    events.push(...drain(reader));
    reader.push(Buffer.from('\nNOOP\r\n'));
    events.push(...drain(reader));
    expect(texts(events)).to.deep.equal(['<too-long>', 'NOOP']);
  });

  it('never runs the tail of an over-long line as a command', () => {
    const events = readAll('X'.repeat(600) + 'QUIT\r\nNOOP\r\n', 512, 7);
    expect(texts(events)).to.deep.equal(['<too-long>', 'NOOP']);
  });

  it('hands buffered bytes to another reader and takes back what is left', () => {
    const reader = new LineReader(512);
    reader.push(Buffer.from('DATA\r\nbody'));
    expect(texts(drain(reader))).to.deep.equal(['DATA']);
    expect(reader.takeBuffered().toString()).to.equal('body');
    reader.unshift(Buffer.from('QUIT\r\n'));
    expect(texts(drain(reader))).to.deep.equal(['QUIT']);
  });

  it('forgets everything on discard (STARTTLS injection defence)', () => {
    const reader = new LineReader(512);
    reader.push(Buffer.from('RSET\r\n'));
    reader.discard();
    expect(reader.next()).to.equal(null);
  });

  it('decodes UTF-8 command lines', () => {
    expect(texts(readAll(Buffer.from('MAIL FROM:<ü@b.test> SMTPUTF8\r\n')))).to.deep.equal(['MAIL FROM:<ü@b.test> SMTPUTF8']);
  });
});

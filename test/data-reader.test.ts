// "vector N" in a title is row N of docs/test-vectors.md.

import { expect } from 'chai';
import { DataReader, type DataOutcome } from '../src/protocol/server/data-reader.js';

interface Run { body: string; outcome?: DataOutcome; rest?: string }

function feed(input: string | Buffer, options: { maxSize?: number; chunk?: number } = {}): Run {
  const parts: Buffer[] = [];
  const reader = new DataReader(options.maxSize ?? 10_000_000, (b) => parts.push(Buffer.from(b)));
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input, 'latin1');
  const step = options.chunk ?? bytes.length;
  for (let i = 0; i < bytes.length; i += step) {
    const progress = reader.push(bytes.subarray(i, i + step));
    if (progress.outcome) {
      const rest = Buffer.concat([progress.rest ?? Buffer.alloc(0), bytes.subarray(i + step)]);
      return { body: Buffer.concat(parts).toString('latin1'), outcome: progress.outcome, rest: rest.toString('latin1') };
    }
  }
  return { body: Buffer.concat(parts).toString('latin1') };
}

describe('data-reader: the DATA phase (RFC 5321 §4.1.1.4, §4.5.2)', () => {
  it('ends only at CRLF.CRLF and passes the body through unchanged', () => {
    const run = feed('Subject: x\r\n\r\nhello\r\n.\r\n');
    expect(run.body).to.equal('Subject: x\r\n\r\nhello\r\n');
    expect(run.outcome).to.deep.include({ kind: 'complete', tooBig: false, lineTooLong: false });
  });

  it('finds the end when it arrives one byte per read (vector 27)', () => {
    const run = feed('a\r\nb\r\n.\r\nQUIT\r\n', { chunk: 1 });
    expect(run.body).to.equal('a\r\nb\r\n');
    expect(run.outcome?.kind).to.equal('complete');
    expect(run.rest).to.equal('QUIT\r\n');
  });

  it('returns the bytes after the final dot as the next commands (vector 28)', () => {
    const run = feed('x\r\n.\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d>\r\nDATA\r\n');
    expect(run.rest).to.equal('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d>\r\nDATA\r\n');
  });

  it('removes the stuffed dot (vector 25), whatever the read boundaries', () => {
    for (const chunk of [1, 2, 3, 100]) {
      const run = feed('..hidden\r\n.x\r\n...\r\n.\r\n', { chunk });
      expect(run.body).to.equal('.hidden\r\nx\r\n..\r\n');
    }
  });

  it('accepts an empty message', () => {
    expect(feed('.\r\n').body).to.equal('');
  });

  it('does not end at LF.LF and refuses the bare LF (vector 23)', () => {
    const run = feed('x\n.\nMAIL FROM:<evil@x>\r\n.\r\n');
    expect(run.outcome).to.deep.equal({ kind: 'bare-lf' });
  });

  it('refuses the smuggling forms \\r\\n.\\n, \\n.\\r\\n and \\r.\\r\\n (vector 24)', () => {
    expect(feed('x\r\n.\nMAIL FROM:<e@x>\r\n.\r\n').outcome).to.deep.equal({ kind: 'bare-lf' });
    expect(feed('x\n.\r\nMAIL FROM:<e@x>\r\n.\r\n').outcome).to.deep.equal({ kind: 'bare-lf' });
    expect(feed('x\r.\r\nMAIL FROM:<e@x>\r\n.\r\n').outcome).to.deep.equal({ kind: 'bare-cr' });
    expect(feed('a\rb\r\n.\r\n', { chunk: 1 }).outcome).to.deep.equal({ kind: 'bare-cr' });
  });

  it('reads a too-big message to its end, then reports it (vector 19)', () => {
    const line = 'y'.repeat(998) + '\r\n';
    const run = feed(line.repeat(2000) + '.\r\nQUIT\r\n', { maxSize: 1_000_000, chunk: 65536 });
    expect(run.outcome).to.deep.include({ kind: 'complete', tooBig: true });
    expect(run.rest).to.equal('QUIT\r\n');
    expect(run.body.length).to.be.at.most(1_000_000);
  });

  it('does not count the stuffed dot in the 1000-octet line limit (vector 26)', () => {
    const stuffed = feed('.' + '.'.repeat(1) + 'a'.repeat(997) + '\r\n.\r\n');
    expect(stuffed.outcome).to.deep.include({ lineTooLong: false });
    const tooLong = feed('b'.repeat(999) + '\r\n.\r\n');
    expect(tooLong.outcome).to.deep.include({ lineTooLong: true });
  });

  it('counts Received: fields in the header section only', () => {
    const headers = 'Received: a\r\nreceived: b\r\nSubject: c\r\nRECEIVED: d\r\n\r\nReceived: body\r\n.\r\n';
    expect(feed(headers, { chunk: 3 }).outcome).to.deep.include({ hops: 3 });
  });
});

import { expect } from 'chai';
import { DotStuffer } from '../src/protocol/shared/dot-stuffing.js';

/** Runs the stuffer over the chunks and returns the wire text, final dot included. */
function wire(...chunks: string[]): string {
  const stuffer = new DotStuffer();
  const out = chunks.map((c) => stuffer.push(Buffer.from(c, 'latin1')));
  return Buffer.concat([...out, stuffer.end()]).toString('latin1');
}

/** The same input fed one byte per chunk. */
function wireByteByByte(text: string): string {
  return wire(...text.split(''));
}

describe('DotStuffer (RFC 5321 §4.5.2, §2.3.8)', () => {
  it('passes CRLF text through and ends the data with ".\\r\\n"', () => {
    expect(wire('Subject: x\r\n\r\nhello\r\n')).to.equal('Subject: x\r\n\r\nhello\r\n.\r\n');
  });

  it('doubles a dot at the start of a line, including the first line', () => {
    expect(wire('.hidden\r\na.b\r\n..two\r\n.\r\n')).to.equal('..hidden\r\na.b\r\n...two\r\n..\r\n.\r\n');
  });

  it('leaves a dot in the middle of a line alone', () => {
    expect(wire('a.\r\nb .c\r\n')).to.equal('a.\r\nb .c\r\n.\r\n');
  });

  it('turns a bare LF into CRLF before judging the next line start', () => {
    expect(wire('x\n.\nMAIL FROM:<evil@x>\r\n')).to.equal('x\r\n..\r\nMAIL FROM:<evil@x>\r\n.\r\n');
  });

  it('turns a bare CR into CRLF before judging the next line start', () => {
    expect(wire('x\r.\r\nnext\r\n')).to.equal('x\r\n..\r\nnext\r\n.\r\n');
  });

  it('reads CR CR LF as a bare CR followed by a CRLF', () => {
    expect(wire('a\r\r\nb\r\n')).to.equal('a\r\n\r\nb\r\n.\r\n');
  });

  it('adds CRLF to a last line without one, and only then the final dot', () => {
    expect(wire('no newline at end')).to.equal('no newline at end\r\n.\r\n');
    expect(wire('ends with a bare CR\r')).to.equal('ends with a bare CR\r\n.\r\n');
    expect(wire('ends with a bare LF\n')).to.equal('ends with a bare LF\r\n.\r\n');
  });

  it('sends an empty message as the final dot alone', () => {
    expect(wire()).to.equal('.\r\n');
    expect(wire('')).to.equal('.\r\n');
  });

  it('keeps a CRLF split across chunks as one line end', () => {
    expect(wire('line one\r', '\n.dot\r\n')).to.equal('line one\r\n..dot\r\n.\r\n');
  });

  it('judges a dot at the start of a chunk by what the previous chunk ended with', () => {
    expect(wire('abc', '.def\r\n')).to.equal('abc.def\r\n.\r\n');
    expect(wire('abc\r\n', '.def\r\n')).to.equal('abc\r\n..def\r\n.\r\n');
  });

  it('gives the same bytes when fed one byte per chunk', () => {
    const samples = [
      '.hidden\r\nplain\r\n..two\r\n',
      'x\n.\ny\r.\rz',
      'a\r\r\n.\r\n\r\n.',
      '\r\n.\r\n',
    ];
    for (const text of samples) expect(wireByteByByte(text)).to.equal(wire(text), JSON.stringify(text));
  });

  it('never lets a bare CR or LF through, whatever the input', () => {
    const alphabet = ['\r', '\n', '.', 'a'];
    for (let seed = 1; seed <= 500; seed++) {
      let text = '';
      let state = seed;
      for (let i = 0; i < 12; i++) {
        state = (state * 1103515245 + 12345) % 2147483648;
        text += alphabet[state % alphabet.length];
      }
      const out = wire(text);
      expect(out.replace(/\r\n/g, ''), JSON.stringify(text)).to.not.match(/[\r\n]/);
      // No line but the final one is a lone ".": the data can't end early.
      expect(out.split('\r\n').slice(0, -2), JSON.stringify(text)).to.not.include('.');
      expect(wireByteByByte(text)).to.equal(out);
    }
  });

  it('keeps 8-bit bytes unchanged', () => {
    const body = Buffer.from([0xc3, 0xbc, 0x0d, 0x0a, 0xff, 0x2e, 0x0d, 0x0a]);
    const stuffer = new DotStuffer();
    const out = Buffer.concat([stuffer.push(body), stuffer.end()]);
    expect([...out]).to.deep.equal([0xc3, 0xbc, 0x0d, 0x0a, 0xff, 0x2e, 0x0d, 0x0a, 0x2e, 0x0d, 0x0a]);
  });

  it('hands a chunk that needs no change back as it is, and copies one that does', () => {
    const stuffer = new DotStuffer();
    const clean = Buffer.from('Subject: x\r\n\r\nline. one\r\nline two\r\n');
    expect(stuffer.push(clean)).to.equal(clean);
    const dotted = Buffer.from('.starts with a dot\r\n');
    expect(stuffer.push(dotted).toString()).to.equal('..starts with a dot\r\n');
    // The same chunks, each clean on its own, but split where the state matters.
    const split = new DotStuffer();
    const out = [split.push(Buffer.from('a\r\n')), split.push(Buffer.from('.b\r')), split.push(Buffer.from('\n.c\n'))];
    expect(Buffer.concat([...out, split.end()]).toString()).to.equal('a\r\n..b\r\n..c\r\n.\r\n');
  });
});

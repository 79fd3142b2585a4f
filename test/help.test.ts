import { expect } from 'chai';
import { formatReply } from '../src/reply-codes/index.js';
import { COMMAND_FACTS, helpReply } from '../src/protocol/server/help.js';
import { WireClient } from './helpers/wire-client.js';
import { startTestRelay, type TestRelay } from './helpers/test-relay.js';

describe('HELP (RFC 5321 §4.1.1.8)', () => {
  it('HELP alone lists the commands minimta offers, as 214 2.0.0', () => {
    const r = helpReply('');
    expect(r.code).to.equal(214);
    expect(r.enhanced).to.equal('2.0.0');
    expect(r.lines[0]).to.equal('Commands: EHLO HELO MAIL RCPT DATA RSET VRFY HELP NOOP QUIT STARTTLS AUTH');
  });

  it('HELP <verb> gives the syntax, the RFC section and what it asks, for every command in the table', () => {
    for (const [verb, facts] of Object.entries(COMMAND_FACTS)) {
      const r = helpReply(verb.toLowerCase());
      expect(r.code, verb).to.equal(214);
      expect(r.lines[0]).to.equal(facts.syntax);
      expect(r.lines[1]).to.include(facts.rfc.replaceAll('§', 'section '));
      expect(r.lines[2]).to.equal(facts.summary);
      // Reply text is US-ASCII (RFC 5321 §4.2).
      for (const line of r.lines) expect(line, verb).to.match(/^[\x20-\x7e]*$/);
    }
    expect(helpReply('MAIL').lines.slice(0, 2)).to.deep.equal([
      'MAIL FROM:<sender> [SIZE=n] [BODY=7BIT|8BITMIME] [SMTPUTF8] [AUTH=<mailbox>]', 'RFC 5321 section 4.1.1.2',
    ]);
    expect(helpReply('EXPN').lines[1]).to.equal('RFC 5321 section 4.1.1.7 (not implemented by minimta: 502)');
  });

  it('HELP about an unknown word is 504 5.5.4, the word cut short and escaped on the wire', () => {
    const r = helpReply('FROB\x07' + 'x'.repeat(100));
    expect(r.code).to.equal(504);
    expect(r.enhanced).to.equal('5.5.4');
    expect(formatReply(r)).to.not.include('\x07');
    expect(r.lines[0]!.length).to.be.below(60);
    expect(helpReply('constructor').code).to.equal(504);
  });

  describe('over a socket', () => {
    let relay: TestRelay;
    let client: WireClient | undefined;
    beforeEach(async () => { relay = await startTestRelay(); });
    afterEach(async () => { client?.close(); await relay.cleanup(); });

    it('answers HELP RCPT with a multi-line 214 and goes on', async () => {
      client = await WireClient.connect(relay.port);
      await client.reply();
      client.send('HELP RCPT\r\n');
      const r = await client.reply();
      expect(r.enhanced).to.equal('2.0.0');
      expect(r.code).to.equal(214);
      expect(r.lines).to.deep.equal([
        'RCPT TO:<recipient>', 'RFC 5321 section 4.1.1.3', 'Names one recipient of the message; repeat for each.',
      ]);
      expect(await client.command('NOOP')).to.equal('250 2.0.0');
    });
  });
});

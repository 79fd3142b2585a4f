import { expect } from 'chai';
import { REPLIES, reply, replyToString, type ReplyName } from '../src/reply-codes/index.js';
import { BASIC_CODES, ENHANCED_DETAILS, enhancedMeaning } from '../src/reply-codes/status-meanings.js';
import { describeReply, explain, parseCodeQuery, repliesMatching } from '../src/reply-codes/explain.js';
import { explainCommand } from '../src/cli/explain-command.js';
import { captureIo } from './helpers/cli-io.js';

const NAMES = Object.keys(REPLIES) as ReplyName[];

describe('explain: every reply code, from the reply table', () => {
  for (const name of NAMES) {
    const def = REPLIES[name];
    it(`explains ${name} (${def.code}${'enhanced' in def ? ` ${def.enhanced}` : ''}) by code, enhanced code and reply line`, () => {
      expect(BASIC_CODES[def.code], `basic code ${def.code} has a general meaning`).to.not.equal(undefined);
      const byCode = explain(String(def.code)).join('\n');
      expect(byCode).to.include(`[${name}]`).and.include(def.when).and.include(def.advice).and.include(def.rfc);
      expect(byCode).to.include(BASIC_CODES[def.code]!.meaning);
      const line = replyToString(reply(name));
      const byLine = explain(line).join('\n');
      expect(byLine).to.include(`[${name}]`);
      if ('enhanced' in def) {
        const [, subject, detail] = def.enhanced.split('.');
        expect(ENHANCED_DETAILS[`${subject}.${detail}`], `${def.enhanced} has an RFC 3463 meaning`).to.not.equal(undefined);
        const byEnhanced = explain(def.enhanced).join('\n');
        expect(byEnhanced).to.include(`[${name}]`).and.include(enhancedMeaning(def.enhanced)!);
        expect(repliesMatching(parseCodeQuery(line))).to.include(name);
        expect(repliesMatching(parseCodeQuery(line)).every((n) => REPLIES[n].code === def.code)).to.equal(true);
      }
    });
  }

  it('answers 556 with its meaning, RFC 7504 §4, the null-MX rule and the advice not to retry', () => {
    const text = explain('556').join('\n');
    expect(text).to.match(/^556 {2}Domain does not accept mail {2}\(RFC 7504 §4\)/);
    expect(text).to.include('RFC 7505 §4.1').and.include('null MX').and.include('Do not retry');
  });

  it('answers 5.1.10 with the RFC 3463 class and the RFC 7505 detail', () => {
    expect(explain('5.1.10')[0]).to.equal('5.1.10  Permanent failure: Recipient address has null MX  (RFC 7505 §4.1)');
  });

  it('reads a whole reply line, and keeps to the replies with both codes', () => {
    const query = parseCodeQuery('556 5.1.10 <bob@nullmx.test>: Recipient address rejected: domain nullmx.test does not accept mail (null MX)');
    expect(query).to.deep.equal({ code: 556, enhanced: '5.1.10' });
    expect(parseCodeQuery('250-2.1.0 Ok')).to.deep.equal({ code: 250, enhanced: '2.1.0' });
    expect(parseCodeQuery('220 mx ESMTP')).to.deep.equal({ code: 220 });
    expect(repliesMatching({ code: 421, enhanced: '4.4.2' })).to.deep.equal(['idleTimeout', 'dataTooSlow']);
  });

  it('judges a code minimta never sends by its first digit', () => {
    const text = explain('599').join('\n');
    expect(text).to.include('permanent negative').and.include('never sends');
    expect(enhancedMeaning('4.9.99')).to.equal('Persistent transient failure: Unknown subject (detail 99 not listed)');
  });

  it('describes a reply in one line for the transcripts', () => {
    expect(describeReply({ code: 556, enhanced: '5.1.10' })).to.equal('Domain does not accept mail; 5.1.10 Permanent failure: Recipient address has null MX');
    expect(describeReply({ code: 354 })).to.equal('Start mail input; end with <CRLF>.<CRLF>');
  });

  it('`minimta explain` prints the explanation; text that is no code is a usage error (exit 2)', async () => {
    const ok = captureIo();
    expect(await explainCommand(['556', '5.1.10', 'whatever'], ok.io)).to.equal(0);
    expect(ok.stdout()).to.include('[nullMxRecipient]').and.not.include('[dnsNoSuchDomain]');
    const bad = captureIo();
    expect(await explainCommand(['hello'], bad.io)).to.equal(2);
    expect(bad.stderr()).to.include('is not a reply code').and.include('usage: minimta explain');
    const none = captureIo();
    expect(await explainCommand([], none.io)).to.equal(2);
  });
});

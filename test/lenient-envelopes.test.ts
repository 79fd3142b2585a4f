// Clients that are not RFC-perfect (issue 15): MAIL and RCPT without angle
// brackets, a space after the colon, a root dot on the domain, lower-case
// verbs and trailing white space are accepted, as Postfix accepts them by
// default; smtp.strictEnvelopes: true refuses them again. Phrases, comments,
// two addresses and unbalanced brackets are refused either way.

import { expect } from 'chai';
import { WireClient } from './helpers/wire-client.js';
import { CHECKLIST_ZONES, startTestRelay, type TestRelay } from './helpers/test-relay.js';
import { TestDnsServer } from './helpers/dns-server.js';

/**
 * Runs a dialog written as a transcript: "-> " lines are sent (with CRLF),
 * "<- " lines give the expected "code enhanced" of the next reply, other
 * lines are message text sent as they are. Returns the text of every reply.
 */
async function dialog(client: WireClient, transcript: string): Promise<string[]> {
  const texts: string[] = [];
  for (const line of transcript.split('\n').map((l) => l.replace(/^ +/, '')).filter((l) => l !== '')) {
    if (line.startsWith('-> ')) {
      client.send(`${line.slice(3)}\r\n`);
    } else if (line.startsWith('<- ')) {
      const reply = await client.reply();
      const got = reply.enhanced ? `${reply.code} ${reply.enhanced}` : String(reply.code);
      expect(got, `${line} (${reply.lines.join(' ')})`).to.equal(line.slice(3));
      texts.push(reply.lines.join(' '));
    } else {
      client.send(`${line}\r\n`);
    }
  }
  return texts;
}

const ZONES = {
  ...structuredClone(CHECKLIST_ZONES),
  'example.net': { mx: [{ preference: 10, exchange: 'mx.normal.test' }] },
  'example.org': { mx: [{ preference: 10, exchange: 'mx.normal.test' }] },
};

/** The issue's table: every line 250 by default, 501 with smtp.strictEnvelopes. */
const ISSUE_TABLE = ['MAIL FROM:a@example.org', 'MAIL FROM: a@example.org', 'RCPT TO:b@example.net', 'RCPT TO:<b@example.net.>'];

describe('lenient envelopes over a socket (issue 15)', () => {
  let dns: TestDnsServer;
  let lenient: TestRelay;
  let strict: TestRelay;
  const clients: WireClient[] = [];

  before(async () => {
    dns = await TestDnsServer.start(ZONES);
    lenient = await startTestRelay({ dns: { servers: [dns.address], timeout: 0.5 } });
    strict = await startTestRelay({ dns: { servers: [dns.address], timeout: 0.5 }, smtp: { strictEnvelopes: true } });
  });
  after(async () => {
    for (const c of clients) c.close();
    await lenient.cleanup();
    await strict.cleanup();
    await dns.stop();
  });

  async function connect(relay: TestRelay): Promise<WireClient> {
    const client = await WireClient.connect(relay.port);
    clients.push(client);
    return client;
  }

  it('takes a message through a dialog that uses every sloppy form, and refuses what stays ambiguous', async () => {
    const client = await connect(lenient);
    dns.queries.length = 0;
    const replies = await dialog(client, `
      <- 220
      -> ehlo client.test
      <- 250
      -> mail from: a@example.org SIZE=100
      <- 250 2.1.0
      -> rcpt to:b@example.net
      <- 250 2.1.5
      -> RCPT TO:<c@example.net.>
      <- 250 2.1.5
      -> Rcpt To: d@Example.NET. \t
      <- 250 2.1.5
      -> RCPT TO:"John Doe" <e@example.net>
      <- 501 5.1.3
      -> RCPT TO:John Doe <e@example.net>
      <- 501 5.1.3
      -> RCPT TO:e@example.net (Comment)
      <- 501 5.5.4
      -> RCPT TO:<e@example.net> (Comment)
      <- 501 5.5.4
      -> RCPT TO:(Comment)e@example.net
      <- 501 5.1.3
      -> RCPT TO:e@example.net f@example.net
      <- 501 5.5.4
      -> RCPT TO:e@example.net,f@example.net
      <- 501 5.1.3
      -> RCPT TO:<e@example.net
      <- 501 5.1.3
      -> RCPT TO:e@example.net>
      <- 501 5.1.3
      -> data
      <- 354
      Subject: sloppy but fine

      body
      .
      <- 250 2.0.0
      -> quit
      <- 221 2.0.0
    `);
    const id = replies.map((text) => /queued as (\S+)/.exec(text)?.[1]).find(Boolean)!;
    const envelope = await lenient.spool.readEnvelope(id);
    expect(envelope.sender).to.equal('a@example.org');
    // The root dot is gone before anything else sees the name: envelope and DNS alike.
    expect(envelope.recipients.map((r) => r.address)).to.deep.equal(['b@example.net', 'c@example.net', 'd@Example.NET']);
    expect(dns.queries.map((q) => q.name).filter((name) => name.endsWith('.'))).to.deep.equal([]);
    expect(dns.queries.some((q) => q.name.toLowerCase() === 'example.net')).to.equal(true);
  });

  it('answers the issue\'s table 250 by default', async () => {
    const client = await connect(lenient);
    await client.reply();
    await client.command('EHLO client.test');
    for (const line of ISSUE_TABLE) {
      // Each MAIL in a transaction of its own; the RCPTs in the last one.
      if (line.startsWith('MAIL')) await client.command('RSET');
      expect(await client.command(line), line).to.match(/^250 /);
    }
  });

  it('answers the issue\'s table 501 with smtp.strictEnvelopes: true', async () => {
    const client = await connect(strict);
    await client.reply();
    await client.command('EHLO client.test');
    for (const line of ISSUE_TABLE) {
      if (line.startsWith('RCPT')) await client.command('MAIL FROM:<a@example.org>');
      expect(await client.command(line), line).to.match(/^501 5\.1\.[37]$/);
      await client.command('RSET');
    }
  });
});

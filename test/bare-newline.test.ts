// smtp.bareNewline (after Postfix 3.9's smtpd_forbid_bare_newline): the
// framing units under "normalize", and every smuggling vector over a socket
// under both policies. Under "reject" a bare LF is 550 5.5.2 and a close;
// under "normalize" it is a line end, but DATA still ends only at
// <CR><LF>.<CR><LF>, so what follows a fake end stays in the message.
import { expect } from 'chai';
import fs from 'node:fs/promises';
import { LineReader, type BareNewlinePolicy, type LineEvent } from '../src/protocol/server/line-reader.js';
import { DataReader, type DataOutcome } from '../src/protocol/server/data-reader.js';
import { WireClient } from './helpers/wire-client.js';
import { startTestRelay, type TestRelay } from './helpers/test-relay.js';
import { validateConfig } from '../src/config.js';

function lines(input: string, chunk = input.length): string[] {
  const reader = new LineReader(512, 'normalize');
  const out: string[] = [];
  for (let i = 0; i < input.length; i += chunk) {
    reader.push(Buffer.from(input.slice(i, i + chunk), 'latin1'));
    for (let e: LineEvent | null = reader.next(); e; e = reader.next()) out.push(e.kind === 'line' ? `${e.text}/${e.octets}` : `<${e.kind}>`);
  }
  return out;
}

function data(input: string, chunk = input.length): { body: string; outcome?: DataOutcome; rest?: string } {
  const parts: Buffer[] = [];
  const reader = new DataReader(1_000_000, (b) => parts.push(Buffer.from(b)), 'normalize');
  for (let i = 0; i < input.length; i += chunk) {
    const progress = reader.push(Buffer.from(input.slice(i, i + chunk), 'latin1'));
    if (progress.outcome) {
      return { body: Buffer.concat(parts).toString('latin1'), outcome: progress.outcome, rest: (progress.rest?.toString('latin1') ?? '') + input.slice(i + chunk) };
    }
  }
  return { body: Buffer.concat(parts).toString('latin1') };
}

describe('smtp.bareNewline "normalize": framing', () => {
  it('is "reject" unless configured; anything but reject or normalize is a config error', () => {
    expect(validateConfig({}).smtp.bareNewline).to.equal('reject');
    expect(() => validateConfig({ smtp: { bareNewline: 'allow' } })).to.throw('smtp.bareNewline: must be one of "reject", "normalize"');
  });

  it('takes a bare LF as the end of a command line, counted as CRLF', () => {
    for (const chunk of [1, 3, 100]) expect(lines('EHLO a\nNOOP\r\nQUIT\n', chunk)).to.deep.equal(['EHLO a/8', 'NOOP/6', 'QUIT/6']);
  });

  it('still refuses a bare CR, and still drops an over-long line (ended by LF) once', () => {
    expect(lines('NO\rOP\n')).to.deep.equal(['<bare-cr>']);
    expect(lines('X'.repeat(600) + '\nNOOP\n')).to.deep.equal(['<too-long>', 'NOOP/6']);
    expect(lines('X'.repeat(511) + '\nNOOP\n')).to.deep.equal(['<too-long>', 'NOOP/6']);
  });

  it('stores bare-LF content lines as CRLF and ends at CRLF.CRLF, whatever the read size', () => {
    for (const chunk of [1, 2, 5, 1000]) {
      const run = data('Subject: x\n\nhello\n..dot\r\n.\r\nQUIT\r\n', chunk);
      expect(run.body).to.equal('Subject: x\r\n\r\nhello\r\n.dot\r\n');
      expect(run.outcome?.kind).to.equal('complete');
      expect(run.rest).to.equal('QUIT\r\n');
    }
  });

  for (const [name, fake] of [['<LF>.<LF>', 'x\n.\n'], ['<CR><LF>.<LF>', 'x\r\n.\n'], ['<LF>.<CR><LF>', 'x\n.\r\n']] as const) {
    it(`does not end the data at ${name}: the dot line is content (its dot removed), the rest stays in the message`, () => {
      for (const chunk of [1, 4, 1000]) {
        const run = data(`${fake}MAIL FROM:<evil@x>\r\n.\r\n`, chunk);
        expect(run.outcome?.kind).to.equal('complete');
        expect(run.body).to.equal('x\r\n\r\nMAIL FROM:<evil@x>\r\n');
        expect(run.rest).to.equal('');
      }
    });
  }

  it('still refuses a bare CR in the data', () => {
    expect(data('a\rb\r\n.\r\n').outcome).to.deep.equal({ kind: 'bare-cr' });
    expect(data('x\r.\r\n.\r\n', 1).outcome).to.deep.equal({ kind: 'bare-cr' });
  });
});

const SMUGGLING: ReadonlyArray<readonly [string, string, 'bare-lf' | 'bare-cr']> = [
  ['LF.LF', 'x\n.\nMAIL FROM:<evil@x.test>\r\n', 'bare-lf'],
  ['CRLF.LF', 'x\r\n.\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<v@normal.test>\r\nDATA\r\nforged\r\n', 'bare-lf'],
  ['LF.CRLF', 'x\n.\r\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<v@normal.test>\r\nDATA\r\nforged\r\n', 'bare-lf'],
  ['bare CR', 'a\rb\r\n', 'bare-cr'],
  ['CR.CRLF', 'x\r.\r\nMAIL FROM:<evil@x.test>\r\n', 'bare-cr'],
];

for (const policy of ['reject', 'normalize'] as BareNewlinePolicy[]) {
  describe(`SMTP smuggling over a socket, smtp.bareNewline "${policy}" (vectors 23, 24)`, () => {
    let relay: TestRelay;
    let client: WireClient | undefined;
    beforeEach(async () => { relay = await startTestRelay({ smtp: { bareNewline: policy }, limits: { idleTimeout: 2 } }); });
    afterEach(async () => { client?.close(); await relay.cleanup(); });

    async function inData(): Promise<WireClient> {
      client = await WireClient.connect(relay.port);
      await client.reply();
      expect(await client.command('EHLO c.test')).to.equal('250');
      expect(await client.command('MAIL FROM:<a@b.test>')).to.equal('250 2.1.0');
      expect(await client.command('RCPT TO:<u@normal.test>')).to.equal('250 2.1.5');
      expect(await client.command('DATA')).to.equal('354');
      return client;
    }

    for (const [name, payload, kind] of SMUGGLING) {
      const refused = policy === 'reject' || kind === 'bare-cr';
      it(refused ? `refuses ${name} with 550 5.5.2, closes, and queues nothing`
                 : `keeps ${name} and what follows inside one message; no second transaction runs`, async () => {
        const c = await inData();
        c.send(payload + '.\r\n');
        if (refused) {
          expect(await c.replyCodes(1)).to.deep.equal(['550 5.5.2']);
          await c.waitClosed();
          expect(await relay.spool.list()).to.deep.equal([]);
          return;
        }
        expect(await c.replyCodes(1)).to.deep.equal(['250 2.0.0']);
        // The next reply answers NOOP: nothing smuggled ran in between.
        expect(await c.command('NOOP')).to.equal('250 2.0.0');
        const ids = await relay.spool.list();
        expect(ids).to.have.length(1);
        // The message alone: the queue file ends with its envelope line.
        const stored = (await relay.spool.readMessage(ids[0]!)).toString('latin1');
        expect(stored).to.include('\r\nMAIL FROM:<evil@x.test>\r\n');
        expect(stored.replace(/\r\n/g, '')).to.not.match(/[\r\n]/);
      });
    }

    it(policy === 'reject' ? 'refuses a bare LF in a command with 550 5.5.2 and closes'
                           : 'takes commands ended by a bare LF, as typed at nc', async () => {
      client = await WireClient.connect(relay.port);
      await client.reply();
      client.send('NOOP\n');
      if (policy === 'reject') {
        expect(await client.replyCodes(1)).to.deep.equal(['550 5.5.2']);
        await client.waitClosed();
      } else {
        expect(await client.replyCodes(1)).to.deep.equal(['250 2.0.0']);
        client.send('EHLO c.test\nMAIL FROM:<a@b.test>\nRCPT TO:<u@normal.test>\nDATA\n');
        expect(await client.replyCodes(4)).to.deep.equal(['250', '250 2.1.0', '250 2.1.5', '354']);
      }
    });
  });
}

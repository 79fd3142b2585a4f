import { expect } from 'chai';
import fs from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_LOG_STYLE, formatLogLine, streamLogger } from '../src/log.js';
import { applyFlags, defaultConfig, validateConfig } from '../src/config.js';
import { RelayProcess } from './helpers/relay-process.js';
import { WireClient } from './helpers/wire-client.js';
import { makeTempDir } from './helpers/test-relay.js';
import { PROCESS_TEST_TIMEOUT_MS, PROCESS_TIMEOUT_MS } from './helpers/process-timeouts.js';

const TIME = new Date('2026-11-28T17:34:12.459Z');

describe('log lines: text with or without the time, or JSON (log.timestamps, --log-format)', () => {
  describe('formatLogLine', () => {
    it('keeps the design.md shape by default: "<time> minimta/<component>: <id>: <event>"', () => {
      expect(formatLogLine(DEFAULT_LOG_STYLE, TIME, 'smtpd', 'from=<a@b.test>, size=28, nrcpt=1', '0MX0OWGKC01M3M'))
        .to.equal('2026-11-28T17:34:12.459Z minimta/smtpd: 0MX0OWGKC01M3M: from=<a@b.test>, size=28, nrcpt=1');
      expect(formatLogLine(DEFAULT_LOG_STYLE, TIME, 'smtpd', 'connect from [127.0.0.1]'))
        .to.equal('2026-11-28T17:34:12.459Z minimta/smtpd: connect from [127.0.0.1]');
    });

    it('drops only the time with timestamps off, for journald', () => {
      expect(formatLogLine({ timestamps: false, format: 'text' }, TIME, 'qmgr', 'removed', '0MX0OWGKC01M3M'))
        .to.equal('minimta/qmgr: 0MX0OWGKC01M3M: removed');
    });

    it('writes one JSON object per line in json format, the time only when asked for', () => {
      expect(JSON.parse(formatLogLine({ timestamps: true, format: 'json' }, TIME, 'qmgr', 'removed', '0MX0OWGKC01M3M')))
        .to.deep.equal({ time: '2026-11-28T17:34:12.459Z', component: 'minimta/qmgr', id: '0MX0OWGKC01M3M', text: 'removed' });
      expect(JSON.parse(formatLogLine({ timestamps: false, format: 'json' }, TIME, 'smtpd', 'a "quoted" \\ text')))
        .to.deep.equal({ component: 'minimta/smtpd', text: 'a "quoted" \\ text' });
    });

    it('keeps client text on one line in both formats', () => {
      for (const format of ['text', 'json'] as const) {
        const out: string[] = [];
        streamLogger({ timestamps: false, format }, { write: (t: string) => out.push(t) })('smtpd', 'bad\r\nfake line\u2028x\u0007');
        expect(out.join('').split('\n'), format).to.have.length(2);
        expect(out.join(''), format).to.not.match(/[\r\u2028\u0007]/);
      }
    });
  });

  describe('config', () => {
    it('takes log.timestamps and log.format, and --log-format over them', () => {
      expect(defaultConfig().log).to.deep.equal({ timestamps: true, format: 'text' });
      const config = validateConfig({ log: { timestamps: false } });
      expect(config.log).to.deep.equal({ timestamps: false, format: 'text' });
      expect(applyFlags(config, { logFormat: 'json' }).log).to.deep.equal({ timestamps: false, format: 'json' });
      expect(() => applyFlags(config, { logFormat: 'xml' })).to.throw('--log-format');
      expect(() => validateConfig({ log: { format: 'yaml' } })).to.throw('log.format');
    });
  });

  describe('minimta serve', function () {
    this.timeout(PROCESS_TEST_TIMEOUT_MS);
    let dir: string;
    let relay: RelayProcess | undefined;
    beforeEach(async () => { dir = await makeTempDir(); });
    afterEach(async () => {
      await relay?.kill();
      await fs.rm(dir, { recursive: true, force: true });
    });

    async function session(port: number): Promise<string> {
      const client = await WireClient.connect(port);
      try {
        await client.reply();
        await client.command('EHLO c.test');
        const reply = await client.sendMail('a@src.test', ['postmaster@mx.minimta.test'], 'Subject: x\r\n\r\nbody\r\n');
        return /queued as (\S+)/.exec(reply.lines[0]!)![1]!;
      } finally {
        client.close();
      }
    }

    it('--log-format json with log.timestamps false: every stdout line is a JSON object without a time', async () => {
      const config = {
        hostname: 'mx.minimta.test',
        listen: [{ host: '127.0.0.1', port: 0, mode: 'capture' }],
        spool: path.join(dir, 'spool'),
        log: { timestamps: false },
      };
      const started = await RelayProcess.start(config, path.join(dir, 'config.json'), [], ['--log-format', 'json']);
      relay = started.relay;
      const id = await session(started.port);
      await relay.waitFor(new RegExp(`"id":"${id}","text":"from=<a@src.test>`), PROCESS_TIMEOUT_MS);
      relay.signal('SIGTERM');
      expect(await relay.waitForExit(PROCESS_TIMEOUT_MS)).to.equal(0);
      const lines = relay.output.split('\n').filter((l) => l !== '');
      for (const line of lines) {
        const entry = JSON.parse(line) as Record<string, string>;
        expect(entry).to.not.have.property('time');
        expect(entry.component).to.match(/^minimta\/\w+$/);
      }
      expect(lines.map((l) => JSON.parse(l).text)).to.include('stopped');
    });

    it('log.timestamps false keeps the text shape without the time', async () => {
      const config = {
        hostname: 'mx.minimta.test',
        listen: [{ host: '127.0.0.1', port: 0, mode: 'capture' }],
        spool: path.join(dir, 'spool'),
        log: { timestamps: false },
      };
      const started = await RelayProcess.start(config, path.join(dir, 'config.json'));
      relay = started.relay;
      const id = await session(started.port);
      const [line] = await relay.waitFor(new RegExp(`^minimta/smtpd: ${id}: from=<a@src.test>, size=\\d+, nrcpt=1.*$`, 'm'), PROCESS_TIMEOUT_MS);
      expect(line).to.match(/^minimta\/smtpd: /);
      expect(relay.output).to.not.match(/^\d{4}-\d\d-\d\dT/m);
    });
  });
});

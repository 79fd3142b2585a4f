// A deep queue made in a hurry: N deferred messages written straight into a
// spool in its on-disk format (src/queue/spool/queue-file.ts), each a queue
// file and a state file, without the fsyncs a real receipt makes. For the
// deep-queue test and the bench: what a relay finds after a long outage.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Envelope } from '../../src/queue/spool/envelope.js';
import { envelopeLine, envelopeTrailer } from '../../src/queue/spool/queue-file.js';
import { newQueueId } from '../../src/queue/spool/queue-id.js';

/** Files written at once. */
const PARALLEL = 64;

export interface DeepQueueOptions {
  /** Message size in bytes (default 4096). */
  size?: number;
  /** When the messages are next due (default: an hour from now). */
  nextAttemptAt?: Date;
}

/** Writes `count` deferred messages into the spool at `spoolDir`; returns their ids. */
export async function fillDeepQueue(spoolDir: string, count: number, options: DeepQueueOptions = {}): Promise<string[]> {
  for (const sub of ['tmp', 'queue', 'state']) await mkdir(join(spoolDir, sub), { recursive: true, mode: 0o700 });
  const body = message(options.size ?? 4096);
  const arrivedAt = new Date(Date.now() - 60_000).toISOString();
  const next = (options.nextAttemptAt ?? new Date(Date.now() + 3_600_000)).toISOString();
  const ids = Array.from({ length: count }, () => newQueueId());
  let at = 0;
  const writer = async (): Promise<void> => {
    while (at < ids.length) {
      const id = ids[at++]!;
      const accepted: Envelope = {
        version: 1, id, arrivedAt,
        client: { ip: '127.0.0.1', ehlo: 'deep.test', protocol: 'ESMTP' },
        sender: 'sender@deep.test',
        recipients: [{ address: `rcpt${at}@dest.test`, state: 'pending', attempts: 0 }],
        body: '7BIT', smtputf8: false, size: body.length, capture: false, held: false, attempts: 0, nextAttemptAt: arrivedAt,
      };
      const deferred: Envelope = {
        ...accepted,
        attempts: 1,
        nextAttemptAt: next,
        recipients: [{ ...accepted.recipients[0]!, attempts: 1, lastReply: '421 4.4.2 next hop down', lastAttemptAt: arrivedAt }],
      };
      await writeFile(join(spoolDir, 'queue', id), Buffer.concat([body, envelopeTrailer(accepted, true)]), { mode: 0o600 });
      await writeFile(join(spoolDir, 'state', id), envelopeLine(deferred), { mode: 0o600 });
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, writer));
  return ids;
}

function message(size: number): Buffer {
  const head = 'From: <sender@deep.test>\r\nSubject: deep queue\r\n\r\n';
  const line = `${'x'.repeat(76)}\r\n`;
  return Buffer.from(head + line.repeat(Math.max(1, Math.floor((size - head.length) / line.length))));
}

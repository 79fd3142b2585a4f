// Where a queued message's transcripts live in the spool:
// <spool>/transcripts/<id>.in.txt (how it arrived) and <id>.out.txt (each
// delivery attempt, appended). They go when the message leaves the queue
// (Spool.remove), so the directory never outgrows the queue.

import { existsSync } from 'node:fs';
import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isQueueId } from '../queue/spool/queue-id.js';

export type TranscriptDirection = 'inbound' | 'outbound';

export function transcriptDir(spoolDir: string): string {
  return join(spoolDir, 'transcripts');
}

export function transcriptPath(spoolDir: string, queueId: string, direction: TranscriptDirection): string {
  if (!isQueueId(queueId)) throw new Error(`not a queue id: ${JSON.stringify(queueId)}`);
  return join(transcriptDir(spoolDir), `${queueId}.${direction === 'inbound' ? 'in' : 'out'}.txt`);
}

/** The stored transcripts of a message (arrival, then delivery attempts), or undefined when none was recorded. */
export async function readStoredTranscript(spoolDir: string, queueId: string): Promise<string | undefined> {
  const parts: string[] = [];
  for (const direction of ['inbound', 'outbound'] as const) {
    try {
      parts.push(await readFile(transcriptPath(spoolDir, queueId, direction), 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return parts.length > 0 ? parts.join('') : undefined;
}

/** Removes a message's stored transcripts; none there is fine. */
export async function removeStoredTranscripts(spoolDir: string, queueId: string): Promise<void> {
  // A spool that never stored a transcript has no directory: a lookup in the
  // kernel's cache, cheaper than two unlinks through the thread pool.
  if (!existsSync(transcriptDir(spoolDir))) return;
  await Promise.all((['inbound', 'outbound'] as const).map(async (d) => {
    try {
      await unlink(transcriptPath(spoolDir, queueId, d));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }));
}

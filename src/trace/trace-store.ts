// Where transcripts go: live to stdout (`--trace`), into a ring of the last N
// conversations in memory (refused ones too: a 521 listener, a rejected RCPT),
// and, for a conversation that queued a message, into the spool beside it:
// <spool>/transcripts/<id>.in.txt (how it arrived) and <id>.out.txt (each
// delivery attempt, appended), shown by `minimta queue show ID --transcript`.
//
// For the HTTP API (GET /api/sessions/:id): recent() lists the ring, get(id)
// returns one transcript; both are cheap and never touch the disk.

import { appendFile, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeStoredTranscripts, transcriptDir, transcriptPath } from './transcript-files.js';
import { Transcript, type Direction, type TranscriptLine } from './transcript.js';
import { colourLine } from './live-view.js';

export interface TraceSettings {
  /** Print every line as it happens. */
  live: boolean;
  bodies: boolean;
  /** Conversations kept in the ring. */
  sessions: number;
  maxBytes: number;
  /** The spool directory: transcripts of queued messages are stored in its transcripts/. */
  spoolDir?: string;
  /** Where live lines go (default stdout), and whether to colour them. */
  write?: (text: string) => void;
  colour?: boolean;
  now?: () => Date;
}

export interface TranscriptInfo {
  readonly id: string;
  readonly direction: Direction;
  readonly peer: string;
  readonly startedAt: string;
  readonly finished: boolean;
  readonly queueIds: readonly string[];
  readonly size: number;
}

export class TraceStore {
  private readonly ring: Transcript[] = [];
  private next = 1;
  /** Writes to the spool, in order, so a test or a shutdown can wait for them. */
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly settings: TraceSettings) {}

  /** A new transcript, live from its first line. */
  open(direction: Direction, peer: string): Transcript {
    const id = `${direction === 'inbound' ? 'in' : 'out'}-${this.next++}`;
    const write = this.settings.write ?? ((text: string) => process.stdout.write(text));
    const colour = this.settings.colour ?? Boolean(process.stdout.isTTY);
    const transcript = new Transcript({
      id,
      direction,
      peer,
      bodies: this.settings.bodies,
      maxBytes: this.settings.maxBytes,
      now: this.settings.now,
      onLine: this.settings.live ? (line: TranscriptLine) => write(`${id.padEnd(6)} ${colour ? colourLine(line) : line.text}\n`) : undefined,
      onEnd: (t) => this.finished(t),
    });
    this.ring.push(transcript);
    while (this.ring.length > this.settings.sessions) this.ring.shift();
    return transcript;
  }

  /** The ring, newest last. */
  recent(): TranscriptInfo[] {
    return this.ring.map(info);
  }

  /** One transcript of the ring by its id ("in-3", "out-7"), or undefined. */
  get(id: string): { info: TranscriptInfo; text: string } | undefined {
    const t = this.ring.find((x) => x.id === id);
    return t ? { info: info(t), text: t.toString() } : undefined;
  }

  /** Resolves once every transcript finished so far is on disk. */
  flushed(): Promise<void> {
    return this.pending;
  }

  private finished(t: Transcript): void {
    const dir = this.settings.spoolDir;
    if (!dir || t.queueIds.length === 0) return;
    const text = t.toString();
    this.pending = this.pending.then(async () => {
      await mkdir(transcriptDir(dir), { recursive: true, mode: 0o700 });
      for (const id of t.queueIds) {
        const file = transcriptPath(dir, id, t.direction);
        await (t.direction === 'inbound' ? writeFile(file, text, { mode: 0o600 }) : appendFile(file, text, { mode: 0o600 }));
        // The message may have left the queue (delivered) before this write:
        // Spool.remove unlinks queue/<id> before the transcripts, so checking
        // after the write leaves no file behind whichever came first.
        if (!(await isQueued(dir, id))) await removeStoredTranscripts(dir, id);
      }
    }).catch((err: unknown) => {
      // A transcript is a teaching aid: failing to store one never touches the mail.
      (this.settings.write ?? ((s: string) => process.stderr.write(s)))(`trace: cannot store transcript ${t.id}: ${(err as Error).message}\n`);
    });
  }
}

function info(t: Transcript): TranscriptInfo {
  return { id: t.id, direction: t.direction, peer: t.peer, startedAt: t.startedAt.toISOString(), finished: t.finished, queueIds: [...t.queueIds], size: t.size };
}

export { readStoredTranscript, transcriptDir } from './transcript-files.js';

async function isQueued(spoolDir: string, queueId: string): Promise<boolean> {
  try {
    return (await stat(join(spoolDir, 'queue', queueId))).isFile();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

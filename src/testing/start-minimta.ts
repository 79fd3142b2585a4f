// The JS API for test suites: a real minimta in the test's own process, on
// port 0, with a fresh temporary spool, in capture mode unless told
// otherwise. The handle reads, waits for and deletes messages, and close()
// stops everything and removes the temporary spool.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { validateConfig, type ListenConfig } from '../config.js';
import { startMta, type RunningMta } from '../mta.js';
import { silentLogger, stdoutLogger, type Logger } from '../log.js';
import type { ListenerMode } from '../protocol/server/session-types.js';
import type { MessageFilter } from '../inbox/message-filter.js';
import type { MessageDetail, MessageSummary } from '../inbox/mailbox.js';
import type { MtaEvents } from '../inbox/mta-events.js';

export interface StartMinimtaOptions {
  /** The mode of the default listener (default `capture`). */
  mode?: ListenerMode;
  /** Listeners as in the config file's `listen`; default one on 127.0.0.1, port 0. */
  listeners?: Array<Partial<ListenConfig>>;
  /** A spool directory to use (and keep); default a fresh temporary one, removed by close(). */
  spool?: string;
  /** Our host name (greeting, Received:); default `minimta.test`. */
  hostname?: string;
  /** Any other config-file keys (`limits`, `relay`, `dns`, `delivery` …), validated as the file is. */
  config?: Record<string, unknown>;
  /** true: the mail log on stdout; a function: your own logger; default silent. */
  log?: boolean | Logger;
}

export interface MinimtaListener {
  host: string;
  port: number;
  mode: ListenerMode;
}

export interface Minimta {
  /** The first listener's address: where the program under test sends mail. */
  readonly host: string;
  readonly port: number;
  /** Every listener, in the order configured. */
  readonly listeners: MinimtaListener[];
  readonly spool: string;
  /** received, delivered, deferred, bounced, deleted: each with an MtaEvent. */
  readonly events: MtaEvents;
  /** Messages in the spool matching the filter, newest first. */
  messages(filter?: MessageFilter): Promise<MessageSummary[]>;
  /** One message, parsed: envelope, headers, text, HTML, attachments. */
  message(id: string): Promise<MessageDetail>;
  /** The stored bytes of a message. */
  raw(id: string): Promise<Buffer>;
  /** The newest matching message already there, or the next to arrive; rejects after timeoutMs (default 5000). */
  waitForMessage(filter?: MessageFilter, timeoutMs?: number): Promise<MessageDetail>;
  /** Deletes every message; returns how many there were. */
  clear(): Promise<number>;
  /** Stops listening and delivering; removes the spool if it was a temporary one. */
  close(): Promise<void>;
  /** The running MTA underneath, for what the handle does not cover. */
  readonly mta: RunningMta;
}

export async function startMinimta(options: StartMinimtaOptions = {}): Promise<Minimta> {
  const temporary = options.spool === undefined;
  const spool = options.spool ?? await mkdtemp(path.join(os.tmpdir(), 'minimta-'));
  const mode = options.mode ?? 'capture';
  const config = validateConfig({
    hostname: 'minimta.test',
    ...options.config,
    ...(options.hostname !== undefined ? { hostname: options.hostname } : {}),
    listen: (options.listeners ?? [{}]).map((l) => ({ host: '127.0.0.1', port: 0, mode, ...l })),
    spool,
  });
  const log: Logger = typeof options.log === 'function' ? options.log : options.log ? stdoutLogger : silentLogger;
  let mta: RunningMta;
  try {
    mta = await startMta(config, log);
  } catch (err) {
    if (temporary) await rm(spool, { recursive: true, force: true });
    throw err;
  }
  const listeners = mta.listeners.map((l) => ({ host: l.host, port: l.boundPort, mode: l.mode }));
  let closed: Promise<void> | undefined;
  return {
    host: listeners[0]!.host,
    port: listeners[0]!.port,
    listeners,
    spool,
    events: mta.events,
    mta,
    messages: (filter) => mta.mailbox.list(filter),
    message: (id) => mta.mailbox.get(id),
    raw: (id) => mta.mailbox.raw(id),
    waitForMessage: (filter = {}, timeoutMs = 5000) => mta.mailbox.waitFor(filter, timeoutMs),
    clear: () => mta.mailbox.deleteAll(),
    close() {
      closed ??= (async () => {
        await mta.stop(0);
        if (temporary) await rm(spool, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}

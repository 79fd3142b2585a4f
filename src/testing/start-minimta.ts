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
import type { FaultRuleSpec } from '../faults/fault-rule.js';

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
  /** The HTTP API and web inbox: true for 127.0.0.1 on port 0, or `{listen, token}` as in the config. */
  http?: boolean | { listen?: string; token?: string };
  /** Fault rules in force from the start (as config `faults`; see README). */
  faults?: FaultRuleSpec[];
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
  /** Where the HTTP API and web inbox listen, when asked for: `url` is e.g. http://127.0.0.1:40123 */
  readonly http?: { url: string; host: string; port: number };
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
  /** Replaces the fault rules (checked: a bad rule throws FaultRuleError naming the key); counters start again. */
  setFaults(rules: FaultRuleSpec[]): void;
  /** The fault rules in force. */
  faults(): FaultRuleSpec[];
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
    ...(options.faults ? { faults: options.faults } : {}),
    ...(options.http ? { http: { listen: '127.0.0.1:0', ...(options.http === true ? {} : options.http) } } : {}),
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
    ...(mta.http ? { http: { url: mta.http.url, host: mta.http.host, port: mta.http.port } } : {}),
    events: mta.events,
    mta,
    messages: (filter) => mta.mailbox.list(filter),
    message: (id) => mta.mailbox.get(id),
    raw: (id) => mta.mailbox.raw(id),
    waitForMessage: (filter = {}, timeoutMs = 5000) => mta.mailbox.waitFor(filter, timeoutMs),
    clear: () => mta.mailbox.deleteAll(),
    setFaults: (rules) => { mta.faults.setFromJson(rules); },
    faults: () => mta.faults.specs(),
    close() {
      closed ??= (async () => {
        await mta.stop(0);
        if (temporary) await rm(spool, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}

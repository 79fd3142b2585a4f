// What the delivery worker (worker.ts) is given, what it reports, and the
// seam where failed recipients are reported (bounces, src/queue/dsn/).

import type { Spool } from '../spool/spool.js';
import type { Envelope, RecipientRecord } from '../spool/envelope.js';
import type { DestinationDeps, RecipientOutcome } from './destination.js';
import type { RetryPolicy } from './scheduler.js';
import type { Logger } from '../../log.js';

/** Where recipients that failed for good are reported (the bounce seam). */
export interface FailureReporter {
  report(envelope: Envelope, failed: RecipientRecord[]): Promise<void>;
  /** Optional delay warning for recipients still pending (RFC 3464 Action: delayed). */
  warn?(envelope: Envelope, pending: RecipientRecord[], willRetryUntil: Date): Promise<void>;
  /** Optional success notice for delivered recipients that asked for one (RFC 3461 NOTIFY=SUCCESS). */
  delivered?(envelope: Envelope, delivered: RecipientRecord[]): Promise<void>;
}

export interface WorkerOptions {
  spool: Spool;
  retry: RetryPolicy & { bounceLifetime?: number };
  /** Seconds after arrival at which a still-pending message gets one delay warning; off when absent. */
  delayWarning?: number;
  /**
   * Deliveries at once, in all and per destination; `whenBusy`: messages in
   * flight at most while clients are sending to a saturated event loop, and
   * `holdWhenBusy`: seconds a message that fell due meanwhile waits before
   * it may start (saturation.ts; never held back when `whenBusy` is absent).
   */
  concurrency: { total: number; perDestination: number; whenBusy?: number; holdWhenBusy?: number };
  /** Reads the SMTP server has made from its clients so far: with `whenBusy`, clients that are sending come first. */
  clientReads?: () => number;
  /** Clients connected to the SMTP server now: while there are any, new mail starts when one waits for the disk (new-mail-start.ts). */
  clientsConnected?: () => number;
  /** The longest new mail waits for that, in ms (default NEW_MAIL_WAIT_MS, 20). Tests make it long, to see the disk wait start it. */
  newMailWaitMs?: number;
  /** How often the spool is looked at for messages put there by another process (`minimta sendmail`). */
  pollIntervalMs: number;
  /** All mail goes to this host instead of the MX (smarthost). */
  smarthost?: string;
  destination: DestinationDeps;
  failures: FailureReporter;
  log: Logger;
  now?: () => Date;
  /**
   * Envelopes kept in memory between tries, at most (default 10 000, about
   * 1 KiB each); past that, a queued message costs a small entry and its
   * envelope is read from the spool when needed (about 25 µs).
   */
  keptEnvelopes?: number;
}

export interface WorkerEvents {
  /** A message was tried; `done` when it has left the spool. */
  attempted: [id: string, outcomes: RecipientOutcome[], done: boolean];
  /** Clients first (the loop is saturated while they are sending), or no longer. */
  saturation: [saturated: boolean];
}

/** How many queued messages are in each state (the metrics' queue gauge). */
export interface QueueSizes {
  /** Not tried yet. */
  queued: number;
  /** Tried, waiting to be tried again. */
  deferred: number;
  held: number;
  captured: number;
}

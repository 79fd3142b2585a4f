// Clients first when the relay is saturated.
//
// The relay is one event loop: receiving and delivering share it. A client
// in the middle of a transaction waits for each reply, while a queued
// message can wait a moment without anyone noticing; the queue exists to
// absorb that difference. So when the loop is saturated while clients are
// sending, the delivery worker holds back what falls due: a message starts
// only once it has waited `delivery.concurrency.holdWhenBusy` seconds, and
// then at most `whenBusy` at once. Everything goes back to full concurrency
// as soon as the loop has room or the clients fall silent. So a burst of
// mail shorter than the hold is taken in whole and delivered right after it,
// and under load that lasts, mail still moves, a few messages at a time.
// sendmail (QueueLA) and Exim (queue_only_load) make the same trade with the
// load average; a single process can measure its own event loop instead,
// directly and at once.
//
// Only the starting of deliveries is held back: those under way go on, and
// a relay busy with delivery alone (a drain, with no client or only idle
// ones) is never slowed.

import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { Logger } from '../../log.js';

/** The event loop's utilization is looked at over windows this long. */
export const SATURATION_WINDOW_MS = 100;
/** A window at least this busy, with clients sending, is saturation... */
const ENTER_AT = 0.9;
/** ...which lasts until a window is less busy than this (hysteresis: no flapping at the edge). */
const LEAVE_BELOW = 0.5;
/** A saturation is logged again only this long after the last one was (it may come and go with every burst). */
const LOG_EVERY_MS = 60_000;

/**
 * The next state from the last one, the last window's utilization (0…1) and
 * whether clients sent anything in it; pure, for the tests.
 */
export function nextSaturated(wasSaturated: boolean, utilization: number, clientsSending: boolean): boolean {
  if (!clientsSending) return false;
  return wasSaturated ? utilization >= LEAVE_BELOW : utilization >= ENTER_AT;
}

/** The worker's side: how many messages may be in flight now, and the log of each change. */
export class ClientsFirst {
  private saturatedNow = false;
  /** Whether the last window itself was saturation's entry (ENTER_AT, clients sending): holds apply only then. */
  private fullNow = false;
  /** Where the current window began: the loop's utilization and the clients' reads then. */
  private last: EventLoopUtilization = performance.eventLoopUtilization();
  private lastAt = performance.now();
  private lastReads: number;
  private loggedAt = -Infinity;
  private logged = false;

  /**
   * @param clientReads how many reads the SMTP server has made from its clients so far (it only grows)
   * @param whenBusy messages in flight at most while saturated (delivery.concurrency.whenBusy)
   * @param holdMs how long a message due while saturated waits before it may start (holdWhenBusy)
   * @param changed told of each change, after the log line
   */
  constructor(
    private readonly clientReads: () => number,
    private readonly whenBusy: number,
    private readonly holdMs: number,
    private readonly log: Logger,
    private readonly changed: (saturated: boolean) => void,
  ) {
    this.lastReads = clientReads();
  }

  /** As last looked at. */
  get saturated(): boolean {
    return this.saturatedNow;
  }

  /** Of `most` messages in flight, how many may be now: measured when a window has ended, else as last measured. */
  limit(most: number): number {
    const now = performance.now();
    if (now - this.lastAt >= SATURATION_WINDOW_MS) {
      const sample = performance.eventLoopUtilization();
      const { utilization } = performance.eventLoopUtilization(sample, this.last);
      const reads = this.clientReads();
      const saturated = nextSaturated(this.saturatedNow, utilization, reads !== this.lastReads);
      this.fullNow = nextSaturated(false, utilization, reads !== this.lastReads);
      this.last = sample;
      this.lastAt = now;
      this.lastReads = reads;
      if (saturated !== this.saturatedNow) this.note(saturated);
    }
    return this.saturatedNow ? Math.min(this.whenBusy, most) : most;
  }

  /**
   * Whether a message due since `dueAt` waits for now (both in ms, as
   * Date.now): only while the last window was at least ENTER_AT busy with
   * clients sending, and only until it has waited `holdMs`. Without the
   * hysteresis of the concurrency limit: a relay that was busy for a moment
   * and now only moderately (between LEAVE_BELOW and ENTER_AT) limits its
   * deliveries but does not hold them. As last measured by limit().
   */
  holdsBack(dueAt: number, now: number): boolean {
    return this.fullNow && now - dueAt < this.holdMs;
  }

  /** Logged at most once a minute, and its end only when its start was. */
  private note(saturated: boolean): void {
    this.saturatedNow = saturated;
    const now = Date.now();
    if (saturated && now - this.loggedAt >= LOG_EVERY_MS) {
      this.loggedAt = now;
      this.logged = true;
      this.log('qmgr', `saturated while clients are sending: clients first, new mail waits up to ${this.holdMs / 1000} s, then at most ${this.whenBusy} message(s) delivered at once`);
    } else if (!saturated && this.logged) {
      this.logged = false;
      this.log('qmgr', 'no longer saturated: full delivery concurrency');
    }
    this.changed(saturated);
  }
}

// How much memory V8 keeps for a relay's objects (`minimta serve` only: the
// library, startMinimta, leaves V8 alone, since the process is its caller's).
//
// A relay's objects are small and short-lived: a command, a reply, a
// session. V8's defaults are tuned for programs that build up large heaps,
// and under a steady stream of sessions they keep far more than a relay
// needs, and never give it back. Two of V8's flags are read whenever it
// resizes a space, so a running process can set them (README, "Performance",
// has the figures at 100 sessions):
//
// - The young generation, where new objects are made, doubles while many
//   objects survive a collection, up to 2 × 16 MiB. We stop its growth at
//   16 MiB (--semi-space-growth-factor=1 once it gets there; its maximum,
//   --max-semi-space-size, is fixed when the process starts). Each
//   collection of it costs about the same whatever its size (the work is
//   the survivors), so 8 MiB would collect twice as often: about 4% fewer
//   messages a second at 20 sessions, for 8 MiB less memory.
// - The old generation, where objects that survived go, may grow by up to
//   four times its live size before the next full collection; we let it
//   grow by two (--heap-growing-percent=100), as many of its objects are
//   sessions that ended a moment ago.
//
// Together, about 30 MiB less resident memory at 100 sessions; the extra
// collections cost a few percent of one core.
//
// A third setting keeps the compiled code when the relay goes quiet for a
// while (see keepCompiledCodeWhileIdle below).

import v8 from 'node:v8';
import { performance } from 'node:perf_hooks';

/** How often the young generation's size is looked at until it reaches its cap. */
const CHECK_INTERVAL_MS = 50;
/** How often the event loop's load is looked at, for keepCompiledCodeWhileIdle. */
const IDLE_CHECK_MS = 1000;
/**
 * Below this share of the last second spent running (event-loop
 * utilization), the relay counts as idle: an idle relay runs only its timers,
 * about 0.1%; one message a second is already several times this.
 */
const IDLE_UTILIZATION = 0.01;
/** How long a quiet relay keeps its compiled code before V8 may give memory back (Postfix's max_idle). */
const KEEP_COMPILED_MS = 100_000;

/** All three settings, for `minimta serve`. */
export function tuneHeapForRelay(): void {
  v8.setFlagsFromString('--heap-growing-percent=100');
  capYoungGeneration();
  keepCompiledCodeWhileIdle();
}

/**
 * Keeps the young generation (both halves) at most `mib` MiB: its growth is
 * stopped once the next doubling would reach the cap, so one doubling that
 * slips in between two looks still stays within it.
 */
export function capYoungGeneration(mib = 16): void {
  const cap = mib * 1024 * 1024;
  const check = setInterval(() => {
    const newSpace = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
    if (!newSpace || newSpace.space_size * 2 >= cap) {
      v8.setFlagsFromString('--semi-space-growth-factor=1');
      clearInterval(check);
    }
  }, CHECK_INTERVAL_MS);
  check.unref();
}

/**
 * Keeps V8's optimized code through the lulls of a relay's day.
 *
 * About ten seconds after a process goes quiet, V8's memory reducer runs
 * full collections to give memory back. In a relay those collections find
 * every session's objects gone, and V8 discards the optimized code that
 * referred to them ("weak objects" in --trace-deopt): some 150 functions.
 * The next few hundred messages run unoptimized while V8 compiles them again.
 * Measured with one session after 30 s of quiet: 140–260 messages/s, against
 * 300–420 just before the pause (README, "Performance").
 *
 * The memory reducer works through incremental marking, and V8 reads
 * --incremental-marking each time it would start one. So while the event loop
 * is idle it is off, and the memory reducer has no way to run; the moment
 * there is work again it is back on, and collections under load are as
 * before. After `keepMs` of quiet it is on again even so, and the memory
 * reducer gives back what the last burst left (measured: 80 MiB after 100
 * sessions, 60 MiB once it ran). The default is Postfix's max_idle: its
 * daemons, too, keep their state through 100 s of quiet and exit after.
 */
export function keepCompiledCodeWhileIdle(checkMs = IDLE_CHECK_MS, keepMs = KEEP_COMPILED_MS): IdleMarking {
  let last = performance.eventLoopUtilization();
  let marking = true;
  let idleSince: number | undefined;
  const check = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, last).utilization > IDLE_UTILIZATION;
    last = now;
    if (busy) idleSince = undefined;
    else idleSince ??= Date.now();
    const mark = idleSince === undefined || Date.now() - idleSince >= keepMs;
    if (mark === marking) return;
    marking = mark;
    v8.setFlagsFromString(marking ? '--incremental-marking' : '--no-incremental-marking');
  }, checkMs);
  check.unref();
  return {
    get marking() { return marking; },
    stop() { clearInterval(check); },
  };
}

/** What keepCompiledCodeWhileIdle set last, for a look from outside (the tests). */
export interface IdleMarking {
  /** Whether incremental marking is on. */
  readonly marking: boolean;
  stop(): void;
}

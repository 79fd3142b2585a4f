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
//   8 MiB (--semi-space-growth-factor=1 once it gets there; its maximum,
//   --max-semi-space-size, is fixed when the process starts).
// - The old generation, where objects that survived go, may grow by up to
//   four times its live size before the next full collection; we let it
//   grow by two (--heap-growing-percent=100), as many of its objects are
//   sessions that ended a moment ago.
//
// Together, about 30 MiB less resident memory at 100 sessions; the extra
// collections cost a few percent of one core.

import v8 from 'node:v8';

/** How often the young generation's size is looked at until it reaches its cap. */
const CHECK_INTERVAL_MS = 50;

/** Both settings, for `minimta serve`. */
export function tuneHeapForRelay(): void {
  v8.setFlagsFromString('--heap-growing-percent=100');
  capYoungGeneration();
}

/**
 * Keeps the young generation (both halves) at most `mib` MiB: its growth is
 * stopped once the next doubling would reach the cap, so one doubling that
 * slips in between two looks still stays within it.
 */
export function capYoungGeneration(mib = 8): void {
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

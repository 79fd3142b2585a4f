// How much memory V8 keeps for new objects. V8 makes new objects in its
// young generation and doubles that space, up to 2 × 16 MiB, while many
// objects survive a collection; under a steady stream of sessions it grows
// to the maximum and never gives it back. A relay's objects are small and
// short-lived (a command, a reply, a session), so a quarter of that serves
// as well: measured with 100 sessions at once (README, "Performance"), the
// default growth costs about 24 MiB of resident memory, and the collections
// a smaller space needs are a few percent of one core.
//
// `minimta serve` stops the growth at `mib` with V8's
// --semi-space-growth-factor, which V8 reads each time the space grows. The
// space's maximum (--max-semi-space-size) is fixed when the process starts,
// so stopping the growth, once the space has reached the size we want, is
// what a running process can do. The library (startMinimta) leaves V8 alone:
// the process is its caller's.

import v8 from 'node:v8';

/** How often the young generation's size is looked at until it reaches the cap. */
const CHECK_INTERVAL_MS = 50;

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

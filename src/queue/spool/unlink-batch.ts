// Unlinks for removals, through libuv's thread pool (an unlink on the event
// loop could wait for the file system journal's commit), submitted together
// once per turn of the event loop. Each submission to an idle pool wakes a
// sleeping thread (a futex call and a context switch, on a 2-core machine
// often a preemption of the event loop itself); while a deferred queue
// drains, messages finish a few per turn, and one wake-up serves them all.
// Measured with bench/drain.ts: about a fifth of the relay's CPU time per
// message went to those wake-ups when every unlink was submitted on its own.

import { unlink } from 'node:fs';

interface Pending {
  readonly path: string;
  readonly done: (err: NodeJS.ErrnoException | null) => void;
}

let pending: Pending[] = [];

/** Unlinks `path` in the thread pool, with the other unlinks asked for in this turn. */
export function unlinkInBatch(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (pending.length === 0) setImmediate(submit);
    pending.push({ path, done: (err) => (err ? reject(err) : resolve()) });
  });
}

function submit(): void {
  const batch = pending;
  pending = [];
  for (const { path, done } of batch) unlink(path, done);
}

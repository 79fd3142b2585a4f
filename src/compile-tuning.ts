// How soon V8 optimizes a relay's hot code (`minimta serve` only, like
// heap-tuning.ts: the library leaves V8 alone).
//
// V8 runs a function as bytecode first and compiles it to optimized machine
// code once it has run for a while: a budget of executed bytecode, 132 KiB
// by default (--interrupt-budget), tuned for short-lived pages that should
// not spend time compiling what runs only a few times. A relay is the
// opposite: a few hundred functions (a session's commands, a receipt, a
// delivery) run for every message, for days. With the default, a relay that
// had just started was still compiling them after 6 000 messages, and took
// its first bursts about 20% slower than the same relay warm.
//
// A 64th of the budget has most of them optimized within the first hundred
// messages. Measured with the benchmark's own sequence (README,
// "Performance"): the first 300 messages at one session, right after a
// start and 100 messages, went from about 260 to about 350 messages/s
// against a budget of 16 KiB, and the first 2 000 at 20 sessions from about
// 630 to about 760 (three sittings each). A budget of 1 KiB did as well at
// one session but worse at 20 (more of the compiling fell into that burst).
//
// V8 gives each function its budget when the function is created, which for
// most of ours is when their module is loaded: so this runs before the
// relay's modules are imported (bin/minimta.js).

import v8 from 'node:v8';

/** Bytecode a function runs before V8 considers optimizing it: 2 KiB, against V8's 132 KiB. */
export const INTERRUPT_BUDGET = 2 * 1024;

export function optimizeHotCodeSooner(): void {
  v8.setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET}`);
}

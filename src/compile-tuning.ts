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
// its first bursts at 20 sessions about 20% slower than the same relay warm.
// An eighth of the budget has them optimized within the first few hundred.
//
// V8 gives each function its budget when the function is created, which for
// most of ours is when their module is loaded: so this runs before the
// relay's modules are imported (bin/minimta.js).

import v8 from 'node:v8';

/** Bytecode a function runs before V8 optimizes it: 16 KiB, against V8's 132 KiB. */
export const INTERRUPT_BUDGET = 16 * 1024;

export function optimizeHotCodeSooner(): void {
  v8.setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET}`);
}

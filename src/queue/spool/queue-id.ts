// Queue ids name a message in the spool, in logs ("<id>: from=<...>") and in
// our "250 2.0.0 Ok: queued as <id>" reply. Fixed width and upper-case base 36,
// so sorting ids as strings sorts them by arrival time, and an id can never
// spell a path ("..", "/"): it is always safe as a directory name.

import { randomInt } from 'node:crypto';

const RADIX = 36;
/** 36^9 ms is about 3,200 years: time digits never overflow the width. */
const TIME_DIGITS = 9;
const RANDOM_DIGITS = 5;
const RANDOM_SPACE = RADIX ** RANDOM_DIGITS;
const QUEUE_ID = new RegExp(`^[0-9A-Z]{${TIME_DIGITS + RANDOM_DIGITS}}$`);

/**
 * Within one millisecond the random part counts up from where it started, so
 * ids made by this process are strictly increasing and never repeat (as ULIDs
 * do). Starting in the lower half leaves room to count before it could wrap.
 */
let last = { time: -1, random: 0 };

function randomPart(time: number): number {
  if (time === last.time && last.random + 1 < RANDOM_SPACE) return last.random + 1;
  return randomInt(RANDOM_SPACE / 2);
}

/** A new id: 9 base-36 digits of milliseconds, then 5 random base-36 digits. */
export function newQueueId(now: number = Date.now()): string {
  if (!Number.isSafeInteger(now) || now < 0 || now >= RADIX ** TIME_DIGITS) {
    throw new RangeError(`queue id time out of range: ${now}`);
  }
  const random = randomPart(now);
  last = { time: now, random };
  return (
    now.toString(RADIX).padStart(TIME_DIGITS, '0') +
    random.toString(RADIX).padStart(RANDOM_DIGITS, '0')
  ).toUpperCase();
}

/** True for strings of the shape newQueueId makes: 14 characters of [0-9A-Z]. */
export function isQueueId(s: string): boolean {
  return QUEUE_ID.test(s);
}

/** When the id was made. */
export function queueIdTime(id: string): Date {
  if (!isQueueId(id)) throw new RangeError(`not a queue id: ${JSON.stringify(id)}`);
  return new Date(parseInt(id.slice(0, TIME_DIGITS), RADIX));
}

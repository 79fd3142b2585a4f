// When a message is tried again, and when it is given up (RFC 5321 §4.5.4.1):
// the sender waits between attempts (the interval SHOULD be at least 30
// minutes, after a couple of early tries), and gives up after 4–5 days. Both
// are configurable: delivery.retrySchedule and delivery.maxQueueLifetime.

export interface RetryPolicy {
  /** Seconds to wait before each retry; the last one repeats. */
  retrySchedule: readonly number[];
  /** Seconds after arrival at which a message still deferred fails. */
  maxQueueLifetime: number;
}

/** When to try again after `attempts` attempts (1 after the first failure). */
export function nextAttemptAt(attempts: number, policy: RetryPolicy, now: Date): Date {
  const schedule = policy.retrySchedule;
  const seconds = schedule[Math.min(Math.max(attempts, 1), schedule.length) - 1] ?? 300;
  return new Date(now.getTime() + seconds * 1000);
}

/** True once the message has been queued for longer than its lifetime. */
export function isExpired(arrivedAt: string, policy: RetryPolicy, now: Date): boolean {
  return now.getTime() - Date.parse(arrivedAt) >= policy.maxQueueLifetime * 1000;
}

/** True when the next attempt would come after the message expires: fail now instead. */
export function wouldExpireBefore(next: Date, arrivedAt: string, policy: RetryPolicy): boolean {
  return next.getTime() - Date.parse(arrivedAt) > policy.maxQueueLifetime * 1000;
}

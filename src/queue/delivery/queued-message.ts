// A queued message as the worker's schedule knows it (docs/queue.md, "The
// schedule in memory"): a small entry per message, the envelope only while
// it is held.

import type { Envelope } from '../spool/envelope.js';

/** What the schedule needs of a message, and its envelope while it is held. */
export interface QueuedMessage {
  readonly id: string;
  /** Held while in use, until a new message's first try, or while few are kept; else only the spool has it. */
  envelope: Envelope | undefined;
  /** Operations using the envelope now (a delivery, an operator's change). */
  users: number;
  /** state/<id> exists: the envelope was rewritten since acceptance. */
  hasState: boolean;
  /** Copied from the envelope: on hold, captured, tried at least once, next due (ms since the epoch). */
  held: boolean;
  capture: boolean;
  tried: boolean;
  nextAt: number;
  /** When it is due (ms since the epoch), as last scheduled: its arrival for new mail; undefined while not scheduled. */
  dueAt?: number;
  delivering: boolean;
  /** Deleted by the operator (possibly while being delivered). */
  removed: boolean;
}

/** Copies what the schedule needs from the envelope into the message's entry. */
export function noteEnvelope(message: QueuedMessage, envelope: Envelope): void {
  message.held = envelope.held;
  message.capture = envelope.capture;
  message.tried = envelope.attempts > 0;
  message.nextAt = Date.parse(envelope.nextAttemptAt);
}

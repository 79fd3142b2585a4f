// The delivery worker: decides when each queued message is tried, and
// starts the attempt (message-attempt.ts: one copy per destination with all
// its recipients, RFC 5321 §4.5.4.1; what failed for now is retried, what
// failed for good is reported, and a message leaves the spool once every
// recipient is final).
//
// The schedule lives in memory (schedule.ts): a small entry per queued
// message, a queue of the due ones and timers for the deferred ones. At
// start the spool is read once; after that a new message is handed over by
// the receipt that committed it and goes out at once (or, while clients are
// connected, when one next waits for the disk: new-mail-start.ts), and a
// wake costs O(1).
// The envelopes of the first 10 000 messages are kept in memory; past that a
// message's envelope is held only while it is in use (or, for a message just
// received, until its first try), and otherwise read again from the spool
// when needed, so a deep queue costs little memory.
// The spool stays the truth on disk: a state file is written whenever a
// message is deferred, fails in part, is held or warned about, so a restart
// finds every message as it was. A message every recipient of which is
// delivered at the first try is never rewritten: its file is simply removed.

import { EventEmitter } from 'node:events';
import { SpoolError } from '../spool/spool.js';
import type { Envelope } from '../spool/envelope.js';
import { DeliverySlots } from './concurrency.js';
import { Schedule } from './schedule.js';
import { ClientsFirst, SATURATION_WINDOW_MS } from './saturation.js';
import { NewMailStart } from './new-mail-start.js';
import { attemptMessage, type AttemptSeam } from './message-attempt.js';
import { noteEnvelope, type QueuedMessage } from './queued-message.js';
import type { QueueSizes, WorkerEvents, WorkerOptions } from './worker-options.js';

export type { FailureReporter, QueueSizes, WorkerEvents, WorkerOptions } from './worker-options.js';

/** Envelopes kept in memory between tries by default: a queue this deep is delivered without a read per message. */
const KEPT_ENVELOPES = 10_000;
/** Envelopes read from the spool for a listing before the event loop gets a turn. */
const READS_PER_TURN = 128;

export class QueueWorker extends EventEmitter<WorkerEvents> {
  private readonly slots: DeliverySlots;
  private readonly messages = new Map<string, QueuedMessage>();
  private readonly schedule: Schedule;
  private readonly inFlight = new Map<string, Promise<void>>();
  /**
   * The entries of queue/ that are not readable messages, as the last look
   * at the spool found them (they are looked at again at each: the operator
   * may fix or remove them), with the problem of each. One is logged when it
   * is first found.
   */
  private unreadable = new Map<string, string>();
  private readonly maxInFlight: number;
  /** Envelopes held in memory now, and at most between tries (WorkerOptions.keptEnvelopes). */
  private kept = 0;
  private readonly keepAtMost: number;
  private poller?: NodeJS.Timeout;
  private loading?: Promise<void>;
  private rescanning?: Promise<void>;
  private readonly newMail: NewMailStart;
  /** What an attempt at a message needs from the worker (message-attempt.ts). */
  private readonly seam: AttemptSeam;
  /** Clients first when the loop is saturated (saturation.ts); absent without `clientReads` or `whenBusy`. */
  private readonly clientsFirst?: ClientsFirst;
  /** While deliveries are held back: a look again once the loop may have room. */
  private recheck?: NodeJS.Timeout;
  private stopped = true;
  private readonly now: () => Date;

  constructor(private readonly options: WorkerOptions) {
    super();
    this.slots = new DeliverySlots(options.concurrency.total, options.concurrency.perDestination);
    this.now = options.now ?? (() => new Date());
    this.schedule = new Schedule(() => this.pump(), () => this.now().getTime());
    this.seam = {
      options,
      slots: this.slots,
      now: this.now,
      forget: (message) => this.forget(message),
      drop: (message) => this.drop(message),
      attempted: (id, outcomes, done) => this.emit('attempted', id, outcomes, done),
    };
    this.newMail = new NewMailStart(options.clientsConnected ?? (() => 0), () => this.pump(), options.newMailWaitMs);
    // Leave room in memory: never more messages in flight than a few per slot.
    this.maxInFlight = options.concurrency.total * 4;
    this.keepAtMost = options.keptEnvelopes ?? KEPT_ENVELOPES;
    const { whenBusy, holdWhenBusy = 0 } = options.concurrency;
    if (options.clientReads && whenBusy !== undefined) {
      this.clientsFirst = new ClientsFirst(options.clientReads, whenBusy, holdWhenBusy * 1000, options.log, (saturated) => this.emit('saturation', saturated));
    }
  }

  /** Reads the spool once, then delivers what is due; resolves once the spool is read. */
  start(): Promise<void> {
    this.stopped = false;
    this.loading ??= this.loadSpool();
    this.poller = setInterval(() => void this.rescan(), Math.max(this.options.pollIntervalMs, 1000));
    this.poller.unref();
    return this.loading;
  }

  /** The start-up read of the spool, logged with what it found. */
  private async loadSpool(): Promise<void> {
    const started = Date.now();
    await this.rescan();
    this.options.log('qmgr', `queue loaded: ${this.messages.size} message(s) in ${Date.now() - started} ms`);
  }

  /**
   * A message just committed to the spool by this process: scheduled from
   * its envelope, without reading the disk, and due at once if it says so.
   * Its envelope is kept for that first try.
   */
  queued(envelope: Envelope): void {
    if (this.messages.has(envelope.id)) return;
    this.add(envelope, false, true);
    // While clients are connected, when one of them next waits for the disk (new-mail-start.ts).
    this.newMail.due();
  }

  /** A client's message is being synced to the disk: the loop is free for a moment, new mail may start. */
  clientWaitsForDisk(): void {
    this.newMail.clientWaitsForDisk();
  }

  /**
   * Looks at the spool for messages this process does not know (put there
   * by another process, e.g. `minimta sendmail`): O(queue), so only at
   * start, on request and every pollInterval.
   */
  rescan(): Promise<void> {
    this.rescanning ??= this.readNewMessages()
      .catch((err: unknown) => this.options.log('qmgr', `cannot read the spool: ${(err as Error).message}`))
      .finally(() => { this.rescanning = undefined; });
    return this.rescanning;
  }

  /** Resolves once start() has read the spool. */
  async loaded(): Promise<void> {
    await this.loading;
  }

  /** Stops starting deliveries; waits up to `graceMs` for those in flight. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    this.schedule.stop();
    clearInterval(this.poller);
    clearTimeout(this.recheck);
    this.newMail.cancel();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight.values()]),
      new Promise((resolve) => { timer = setTimeout(resolve, graceMs); }),
    ]);
    clearTimeout(timer);
  }

  get busy(): boolean {
    return this.inFlight.size > 0;
  }

  /** Whether deliveries are held back for the clients (saturation.ts), as last looked at. */
  get saturated(): boolean {
    return this.clientsFirst?.saturated ?? false;
  }

  /** Messages being delivered now. */
  get delivering(): number {
    return this.inFlight.size;
  }

  // ---- the operator's view (the live queue commands) -----------------------

  /**
   * Every queued envelope (live objects: do not change them), read from the
   * spool unless held, in batches so the event loop keeps serving meanwhile.
   */
  async envelopes(): Promise<Envelope[]> {
    const messages = [...this.messages.values()];
    const envelopes: Envelope[] = [];
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i]!;
      const envelope = this.messages.get(message.id) === message ? this.envelopeOf(message) : undefined;
      if (envelope) envelopes.push(envelope);
      if (i % READS_PER_TURN === READS_PER_TURN - 1) await new Promise((resolve) => setImmediate(resolve));
    }
    return envelopes;
  }

  /** A queued message's envelope (a live object: do not change it); undefined if it is not queued. */
  envelope(id: string): Envelope | undefined {
    const message = this.messages.get(id);
    return message && this.envelopeOf(message);
  }

  /** The ids of every queued message. */
  ids(): string[] {
    return [...this.messages.keys()];
  }

  /** The entries of queue/ that are not readable messages (`queue list`, the queue gauge's `corrupt`). */
  unreadableEntries(): { name: string; problem: string }[] {
    return [...this.unreadable].map(([name, problem]) => ({ name, problem }));
  }

  /** How many messages are in each state, from memory. */
  sizes(): QueueSizes {
    const sizes: QueueSizes = { queued: 0, deferred: 0, held: 0, captured: 0 };
    for (const message of this.messages.values()) {
      if (message.capture) sizes.captured++;
      else if (message.held) sizes.held++;
      else if (message.tried) sizes.deferred++;
      else sizes.queued++;
    }
    return sizes;
  }

  /** Makes a message due now unless it is held or captured; false if it is not queued. */
  makeDue(id: string): boolean {
    const message = this.messages.get(id);
    if (!message) return false;
    this.scheduleAt(message, this.now().getTime());
    this.pump();
    return true;
  }

  /** Makes every message due now unless it is held or captured; returns their ids. */
  makeAllDue(): string[] {
    const now = this.now().getTime();
    const ids: string[] = [];
    for (const message of this.messages.values()) {
      if (message.held || message.capture) continue;
      this.scheduleAt(message, now);
      ids.push(message.id);
    }
    this.pump();
    return ids;
  }

  /** Changes a message's envelope and writes it to the spool; then reschedules it. */
  async change(id: string, edit: (env: Envelope) => void): Promise<Envelope | undefined> {
    const message = this.messages.get(id);
    const envelope = message && this.hold(message);
    if (!message || !envelope) return undefined;
    let written = false;
    try {
      edit(envelope);
      noteEnvelope(message, envelope);
      await this.options.spool.writeEnvelope(envelope);
      message.hasState = true;
      written = true;
    } finally {
      this.letGo(message, written);
    }
    this.scheduleAt(message, message.nextAt);
    this.pump();
    return envelope;
  }

  /** Removes a message from the spool and the schedule; false if it is not queued. */
  async remove(id: string): Promise<boolean> {
    const message = this.messages.get(id);
    if (!message) return false;
    message.removed = true;
    await this.forget(message);
    return true;
  }

  /**
   * Removes a message's files, then forgets it. Known until its files are
   * gone, so a look at the spool meanwhile (rescan) does not take it for a
   * new message and deliver it again.
   */
  private async forget(message: QueuedMessage): Promise<void> {
    try {
      await this.options.spool.remove(message.id, message.hasState);
    } finally {
      this.drop(message);
    }
  }

  // ---- scheduling -----------------------------------------------------------

  /**
   * Schedules a message. Its envelope is kept while fewer than
   * `keptEnvelopes` are; `fresh` (a message just received) keeps it until
   * its first try in any case, unless it waits (held, captured).
   */
  private add(envelope: Envelope, hasState: boolean, fresh: boolean): void {
    const message: QueuedMessage = {
      id: envelope.id, envelope: undefined, users: 0, hasState,
      held: false, capture: false, tried: false, nextAt: 0, delivering: false, removed: false,
    };
    noteEnvelope(message, envelope);
    if (this.kept < this.keepAtMost || (fresh && !message.held && !message.capture)) this.setEnvelope(message, envelope);
    this.messages.set(envelope.id, message);
    this.scheduleAt(message, message.nextAt);
  }

  /** Takes a message out of the schedule and lets its envelope go (it left the spool, or cannot be read). */
  private drop(message: QueuedMessage): void {
    if (this.messages.get(message.id) === message) this.messages.delete(message.id);
    this.setEnvelope(message, undefined);
  }

  /** Puts a message in the schedule at `at`, unless it must wait (held, captured, in delivery). */
  private scheduleAt(message: QueuedMessage, at: number): void {
    if (message.capture || message.held || message.delivering) {
      message.dueAt = undefined;
      return;
    }
    message.dueAt = at;
    this.schedule.dueAt(message.id, at);
  }

  // ---- the envelope: held while in use, else read from the spool -------------

  /**
   * The message's envelope: the one held, or read from the spool. A message
   * whose envelope is gone or unreadable is dropped from the schedule and
   * logged; a later look at the spool finds it again if it comes back.
   */
  private envelopeOf(message: QueuedMessage): Envelope | undefined {
    if (message.envelope) return message.envelope;
    try {
      return this.options.spool.readEnvelopeSync(message.id, message.hasState);
    } catch (err) {
      if (!(err instanceof SpoolError)) throw err;
      this.drop(message);
      if (message.removed) return undefined;
      if (err.code === 'ENOENT') this.options.log('qmgr', 'removed from the queue behind our back; not tried again', message.id);
      else this.noteUnreadable(this.unreadable, message.id, err);
      return undefined;
    }
  }

  /** Holds the envelope for an operation that uses (and may change) it; letGo() when done. */
  private hold(message: QueuedMessage): Envelope | undefined {
    const envelope = this.envelopeOf(message);
    if (!envelope) return undefined;
    this.setEnvelope(message, envelope);
    message.users++;
    return envelope;
  }

  /**
   * An operation is done with the envelope. Once no operation uses it, it is
   * let go if more than `keptEnvelopes` are kept, and only if the last
   * operation wrote it: otherwise what is in memory may be newer than the
   * spool, and is kept.
   */
  private letGo(message: QueuedMessage, written: boolean): void {
    message.users--;
    if (message.envelope) noteEnvelope(message, message.envelope);
    if (written && message.users === 0 && this.kept > this.keepAtMost) this.setEnvelope(message, undefined);
  }

  /** Every change of a held envelope goes through here, so `kept` stays true. */
  private setEnvelope(message: QueuedMessage, envelope: Envelope | undefined): void {
    if (message.envelope === undefined && envelope !== undefined) this.kept++;
    if (message.envelope !== undefined && envelope === undefined) this.kept--;
    message.envelope = envelope;
  }

  /** An entry of queue/ that is not a readable message, noted in `found`: logged if it is new, left in place for the operator. */
  private noteUnreadable(found: Map<string, string>, name: string, error: SpoolError): void {
    if (!this.unreadable.has(name)) this.options.log('qmgr', `skipping unreadable queue entry ${name}: ${error.message}`);
    found.set(name, error.message);
  }

  private async readNewMessages(): Promise<void> {
    // Only names not known yet are read: a message already scheduled is never read again here.
    const unreadable = new Map<string, string>();
    await this.options.spool.scan((entry) => {
      if ('error' in entry) {
        this.noteUnreadable(unreadable, entry.name, entry.error);
        return;
      }
      // Committed by this process while the spool was being read: scheduled already.
      if (!this.messages.has(entry.envelope.id)) this.add(entry.envelope, entry.hasState, false);
    }, (name) => this.messages.has(name));
    this.unreadable = unreadable;
    this.pump();
  }

  /** Starts due messages while there is room. O(1) per message started. */
  private pump(): void {
    // Fewer while clients are sending to a saturated event loop (saturation.ts).
    const limit = this.clientsFirst?.limit(this.maxInFlight) ?? this.maxInFlight;
    // Held back for the clients: look again once the loop may have room.
    if (limit < this.maxInFlight && this.inFlight.size >= limit) this.recheckSoon();
    const now = this.now().getTime();
    while (!this.stopped && this.inFlight.size < limit) {
      const id = this.schedule.peek();
      if (id === undefined) return;
      const message = this.messages.get(id);
      // Stale entries: gone, held, or already running.
      if (!message || message.removed || message.delivering || message.dueAt === undefined) {
        this.schedule.next();
        continue;
      }
      // Rescheduled for later (it has a timed entry too), or the clock stepped
      // back since it fell due: either way it is due again at dueAt. A second
      // timed entry for the same time is stale once the first has started it.
      // Then against the clock read again, not only `now`: one that has just
      // passed dueAt would otherwise go back into this queue, and this loop
      // never end. (Read only then: a message that is due costs no clock read.)
      if (message.dueAt > now && message.dueAt > this.now().getTime()) {
        this.schedule.next();
        this.schedule.dueAt(id, message.dueAt);
        continue;
      }
      // Due only a moment ago (new mail: since its arrival), while clients come first; those behind it fell due later still.
      if (this.clientsFirst?.holdsBack(message.dueAt, now)) {
        this.recheckSoon();
        return;
      }
      this.schedule.next();
      message.dueAt = undefined;
      message.delivering = true;
      const run = this.deliverMessage(message)
        .catch((err) => this.options.log('qmgr', `delivery of the message failed unexpectedly: ${(err as Error)?.stack ?? err}`, id))
        .finally(() => {
          message.delivering = false;
          this.inFlight.delete(id);
          // Still queued (deferred): due again when its envelope says.
          if (this.messages.get(id) === message) this.scheduleAt(message, message.nextAt);
          this.pump();
        });
      this.inFlight.set(id, run);
    }
  }

  /** One pump a window later: deliveries under way may all be slow, and nothing else would wake it. */
  private recheckSoon(): void {
    if (this.recheck || this.stopped) return;
    this.recheck = setTimeout(() => {
      this.recheck = undefined;
      this.pump();
    }, SATURATION_WINDOW_MS);
  }

  // ---- delivery ---------------------------------------------------------------

  /** One attempt at a message, with its envelope held meanwhile. */
  private async deliverMessage(message: QueuedMessage): Promise<void> {
    const envelope = this.hold(message);
    if (!envelope) return;
    let written = false;
    try {
      // Done, the spool has the envelope as it now is (written, or the message gone).
      await attemptMessage(this.seam, message, envelope);
      written = true;
    } finally {
      this.letGo(message, written);
    }
  }
}

// The queue's schedule in memory: which messages are due now (a first-in,
// first-out queue) and when the others fall due (a min-heap with one timer
// for its earliest entry). Adding a message due now, taking the next due one
// and cancelling are O(1); a timed entry costs O(log n). The schedule holds
// ids only; the worker owns the messages and skips an id whose message has
// gone or changed since it was scheduled (lazy cancellation).

/** setTimeout's longest delay (about 24.8 days); a later entry is looked at again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Timed {
  readonly at: number;
  readonly id: string;
}

export class Schedule {
  private due: string[] = [];
  private dueHead = 0;
  private readonly later: Timed[] = [];
  private timer?: NodeJS.Timeout;
  private timerAt = Infinity;
  private stopped = false;

  constructor(
    /** Called when timed entries have become due. */
    private readonly onDue: () => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Due now, after those already due. */
  dueNow(id: string): void {
    this.due.push(id);
  }

  /** Due at `at` (ms since the epoch); at once if that has passed. */
  dueAt(id: string, at: number): void {
    if (at <= this.now()) {
      this.dueNow(id);
      return;
    }
    heapPush(this.later, { at, id });
    this.arm();
  }

  /** The id next() would return, left in place. */
  peek(): string | undefined {
    return this.dueHead < this.due.length ? this.due[this.dueHead] : undefined;
  }

  /** The next due id, or undefined when none is due. */
  next(): string | undefined {
    if (this.dueHead >= this.due.length) return undefined;
    const id = this.due[this.dueHead++]!;
    // Drop the consumed prefix now and then, so the array does not grow for ever.
    if (this.dueHead > 1024 && this.dueHead * 2 > this.due.length) {
      this.due = this.due.slice(this.dueHead);
      this.dueHead = 0;
    }
    return id;
  }

  get dueCount(): number {
    return this.due.length - this.dueHead;
  }

  /** Stops the timer; nothing becomes due any more. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Moves every timed entry whose time has come to the due queue. */
  private release(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.now();
    let moved = false;
    while (this.later.length > 0 && this.later[0]!.at <= now) {
      this.dueNow(heapPop(this.later)!.id);
      moved = true;
    }
    this.arm();
    if (moved) this.onDue();
  }

  /** One timer, for the earliest timed entry. */
  private arm(): void {
    if (this.stopped || this.later.length === 0) return;
    const at = this.later[0]!.at;
    if (this.timer && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.release(), Math.min(MAX_TIMER_MS, Math.max(0, at - this.now())));
    this.timer.unref();
  }
}

function heapPush(heap: Timed[], item: Timed): void {
  heap.push(item);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]!.at <= item.at) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = item;
}

function heapPop(heap: Timed[]): Timed | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length === 0 || last === undefined) return top;
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= heap.length) break;
    const right = left + 1;
    const child = right < heap.length && heap[right]!.at < heap[left]!.at ? right : left;
    if (heap[child]!.at >= last.at) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = last;
  return top;
}

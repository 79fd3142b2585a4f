// Delivery slots: a global limit and a per-destination limit, so one slow
// destination cannot take every slot (RFC 5321 §4.5.4.1 asks for care with
// parallel connections to one host).

type Waiter = { key: string; grant: () => void };

export class DeliverySlots {
  private active = 0;
  private readonly perKey = new Map<string, number>();
  private waiting: Waiter[] = [];

  constructor(private readonly total: number, private readonly perDestination: number) {}

  /** Resolves with a release function once a slot for `key` is free. */
  acquire(key: string): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = () => {
        this.active++;
        this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.release(key);
        });
      };
      if (this.free(key)) grant();
      else this.waiting.push({ key, grant });
    });
  }

  get inUse(): number {
    return this.active;
  }

  private free(key: string): boolean {
    return this.active < this.total && (this.perKey.get(key) ?? 0) < this.perDestination;
  }

  private release(key: string): void {
    this.active--;
    const left = (this.perKey.get(key) ?? 1) - 1;
    if (left > 0) this.perKey.set(key, left);
    else this.perKey.delete(key);
    // Wake the first waiter that fits, in arrival order, skipping busy destinations.
    const index = this.waiting.findIndex((w) => this.free(w.key));
    if (index !== -1) this.waiting.splice(index, 1)[0]!.grant();
  }
}

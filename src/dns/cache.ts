// A bounded LRU of lookup results that expire, with one shared in-flight
// lookup per key: N recipients at one busy domain cost one DNS lookup.
// node:dns gives no TTLs for MX records, so the lifetime is ours to choose.

export interface ExpiringCacheOptions<V> {
  /** Entries kept at most; the least recently used goes first. 0 keeps nothing. */
  maxEntries: number;
  /** Lifetime of a result in ms; a value may choose its own (0 = not kept). */
  lifetimeMs: (value: V) => number;
  now: () => number;
}

interface Entry<V> {
  value: V;
  expiresAt: number;
}

export class ExpiringCache<V> {
  // A Map iterates in insertion order: re-inserting on use keeps the least
  // recently used entry first.
  private readonly entries = new Map<string, Entry<V>>();
  private readonly inFlight = new Map<string, Promise<V>>();
  /** Bumped by clear(), so a lookup started before it stores nothing. */
  private generation = 0;

  constructor(private readonly options: ExpiringCacheOptions<V>) {}

  /** The cached value for key, or the one load() gives (shared with concurrent callers). */
  get(key: string, load: () => Promise<V>): Promise<V> {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt > this.options.now()) {
      this.entries.delete(key);
      this.entries.set(key, entry);
      return Promise.resolve(entry.value);
    }
    this.entries.delete(key);
    return this.inFlight.get(key) ?? this.startLoad(key, load);
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.inFlight.clear();
    this.generation++;
  }

  private startLoad(key: string, load: () => Promise<V>): Promise<V> {
    const generation = this.generation;
    const loading = load().then(
      (value) => {
        if (generation === this.generation) {
          this.inFlight.delete(key);
          this.store(key, value);
        }
        return value;
      },
      (error: unknown) => {
        if (generation === this.generation) this.inFlight.delete(key);
        throw error;
      },
    );
    this.inFlight.set(key, loading);
    return loading;
  }

  private store(key: string, value: V): void {
    const lifetime = this.options.lifetimeMs(value);
    if (lifetime <= 0 || this.options.maxEntries <= 0) return;
    this.entries.set(key, { value, expiresAt: this.options.now() + lifetime });
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.options.maxEntries) break;
      this.entries.delete(oldest);
    }
  }
}

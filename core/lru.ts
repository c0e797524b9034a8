/** The process budget an LRU reserves from, as `cache/budget.ts`'s `SharedBudget` implements it. */
export interface ReservingBudget {
  tryReserve(slot: number, bytes: number): boolean;
  release(slot: number, bytes: number): void;
  fairShareBytes(slot: number): number;
  setWanting(slot: number, wanting: boolean): void;
  readonly underPressure: boolean;
  readonly limitBytes: number;
}

/** Where a cache charges its bytes besides its own bound: a process budget and the cache's slot in it. */
export interface LruBudget {
  budget: ReservingBudget;
  slot: number;
}

interface Entry<V> {
  value: V;
  size: number;
  /** The budget the entry's bytes were reserved from, if any. */
  charged: LruBudget | null;
}

/**
 * A least-recently-used map bounded by total size (bytes, or any cost the caller assigns), and optionally
 * by a process-wide budget shared with other caches and threads (`cache/budget.ts`).
 */
export class LruCache<K, V> {
  #map = new Map<K, Entry<V>>();
  #total = 0;

  /**
   * `maxSize`: the bound on the summed sizes; `sizeOf`: the size of one value; `shared`: the process
   * budget to reserve from (looked up on each store, so a thread can join its budget after import).
   */
  constructor(
    public maxSize: number,
    private sizeOf: (value: V) => number = () => 1,
    private shared: () => LruBudget | null = () => null,
  ) {}

  /** The value for `key`, marking it most recently used. */
  get(key: K): V | undefined {
    const e = this.#map.get(key);
    if (!e) return undefined;
    this.#map.delete(key);
    this.#map.set(key, e);
    this.#yieldIfAsked(e.charged);
    return e.value;
  }

  /**
   * Stores `value`; evicts least recently used entries past the bounds. Values larger than a bound, and
   * values the shared budget has no room for while this cache is within its fair share, are not kept.
   */
  set(key: K, value: V, size = this.sizeOf(value)): void {
    this.delete(key);
    if (size > this.maxSize) return;
    while (this.#total + size > this.maxSize) this.#evictOldest();
    const charged = this.shared();
    if (charged) {
      const { budget, slot } = charged;
      if (size > budget.limitBytes) return;
      while (!budget.tryReserve(slot, size)) {
        if (this.#map.size && this.#total + size > budget.fairShareBytes(slot)) {
          this.#evictOldest();
          continue;
        }
        budget.setWanting(slot, true); // the caches over their share give way on their next use
        return;
      }
      budget.setWanting(slot, false);
    }
    this.#map.set(key, { value, size, charged });
    this.#total += size;
  }

  /** The value for `key` without marking it used. */
  peek(key: K): V | undefined {
    return this.#map.get(key)?.value;
  }

  /** Changes the bound, evicting the least recently used entries past it. */
  resize(maxSize: number): void {
    this.maxSize = maxSize;
    while (this.#total > maxSize && this.#evictOldest());
  }

  /** Removes `key`; true if it was present. */
  delete(key: K): boolean {
    const e = this.#map.get(key);
    if (!e) return false;
    this.#map.delete(key);
    this.#drop(e);
    return true;
  }

  /** Number of entries. */
  get count(): number {
    return this.#map.size;
  }

  /** Sum of the sizes of the entries. */
  get totalSize(): number {
    return this.#total;
  }

  #drop(e: Entry<V>): void {
    this.#total -= e.size;
    e.charged?.budget.release(e.charged.slot, e.size);
  }

  #evictOldest(): boolean {
    for (const [k, e] of this.#map) {
      this.#map.delete(k);
      this.#drop(e);
      return true;
    }
    return false;
  }

  /** Under pressure from a cache that was refused room, shrinks to this cache's fair share. */
  #yieldIfAsked(charged: LruBudget | null): void {
    if (!charged || !charged.budget.underPressure) return;
    const share = charged.budget.fairShareBytes(charged.slot);
    while (this.#total > share && this.#evictOldest());
  }
}

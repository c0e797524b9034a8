/**
 * The memoising cache of promises every computed-once value uses (decoded flat images, TIFF blocks,
 * derived levels, image statistics, palettes): concurrent callers share one computation, the result is
 * kept in a bounded LRU, and a failure is dropped so the next caller retries — only if the entry is still
 * that failed promise, never a newer one stored since under the same key.
 */
import { type LruBudget, LruCache } from "../core/lru.ts";

/** A bounded LRU of promises, filled by `get`. */
export class PromiseCache<K, V> {
  readonly lru: LruCache<K, Promise<V>>;

  /** `maxSize`: the bound on the summed sizes; `shared`: the process budget to charge as well. */
  constructor(maxSize: number, shared?: () => LruBudget | null) {
    this.lru = new LruCache<K, Promise<V>>(maxSize, () => 1, shared);
  }

  /** The value for `key`: kept, or computed by `compute` and kept with `size`; a failure is not kept. */
  get(key: K, compute: () => Promise<V>, size = 1): Promise<V> {
    const kept = this.lru.get(key);
    if (kept) return kept;
    const p = compute();
    this.lru.set(key, p, size);
    p.catch(() => {
      if (this.lru.peek(key) === p) this.lru.delete(key);
    });
    return p;
  }

  /** True when `key` holds a value (computed or in progress). */
  has(key: K): boolean {
    return this.lru.peek(key) !== undefined;
  }
}

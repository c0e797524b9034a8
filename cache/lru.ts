/** A least-recently-used map bounded by total size (bytes, or any cost the caller assigns). */
export class LruCache<K, V> {
  #map = new Map<K, { value: V; size: number }>();
  #total = 0;

  /** `maxSize`: the bound on the summed sizes; `sizeOf`: the size of one value. */
  constructor(readonly maxSize: number, private sizeOf: (value: V) => number = () => 1) {}

  /** The value for `key`, marking it most recently used. */
  get(key: K): V | undefined {
    const e = this.#map.get(key);
    if (!e) return undefined;
    this.#map.delete(key);
    this.#map.set(key, e);
    return e.value;
  }

  /** Stores `value`; evicts least recently used entries past the bound. Values larger than it are not kept. */
  set(key: K, value: V, size = this.sizeOf(value)): void {
    this.delete(key);
    if (size > this.maxSize) return;
    this.#map.set(key, { value, size });
    this.#total += size;
    for (const [k, e] of this.#map) {
      if (this.#total <= this.maxSize) break;
      this.#map.delete(k);
      this.#total -= e.size;
    }
  }

  /** Removes `key`; true if it was present. */
  delete(key: K): boolean {
    const e = this.#map.get(key);
    if (!e) return false;
    this.#map.delete(key);
    this.#total -= e.size;
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
}

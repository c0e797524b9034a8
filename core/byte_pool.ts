/**
 * A per-thread pool of byte buffers for pixels made for one tile alone: the block an aligned tile decodes,
 * the region an unaligned read assembles. Without it each such tile leaves 64–256 KB of `ArrayBuffer` garbage,
 * which V8 collects for external memory with full mark-compacts on its background threads (bench/README.md).
 *
 * Ownership is explicit: `take` hands a buffer out (zeroed, whole: a worker can still transfer it), and
 * only the one place that knows the pixels are read no more — the end of `renderTile` — gives it back with
 * `give`. A buffer never given back (transferred, kept, or dropped on an error) is ordinary garbage.
 * `give` takes back only buffers this pool made, not detached, not already free, so a caller's
 * mistake can waste a buffer but never hand one out twice.
 */

/** Sizes above this are not pooled (a whole-slide read is rare and large). */
const MAX_POOLED_BYTES = 1 << 20;
/** Free buffers kept per size. */
const FREE_PER_SIZE = 4;
/** Free bytes kept in all, this thread. */
const FREE_TOTAL_BYTES = 4 << 20;

/** One thread's pool (its runtime's: cache/runtime.ts). */
export class BytePool {
  /** Counters (for tests). */
  readonly stats = { taken: 0, reused: 0, given: 0, refused: 0 };
  #made = new WeakSet<ArrayBuffer>();
  #free = new Map<number, ArrayBuffer[]>();
  #isFree = new WeakSet<ArrayBuffer>();
  #freeBytes = 0;

  /** A zeroed `Uint8Array` of exactly `n` bytes over a whole buffer: a free one of that size, or a new one. */
  take(n: number): Uint8Array<ArrayBuffer> {
    this.stats.taken++;
    const buf = this.#free.get(n)?.pop();
    if (buf) {
      this.#isFree.delete(buf);
      this.#freeBytes -= n;
      this.stats.reused++;
      return new Uint8Array(buf).fill(0);
    }
    const a = new Uint8Array(n);
    if (n > 0 && n <= MAX_POOLED_BYTES) this.#made.add(a.buffer);
    return a;
  }

  /**
   * Gives the buffer under `view` back for reuse: the caller promises nothing reads or writes it any more.
   * Returns false (and keeps nothing) for a buffer the pool did not make, a detached or already free one,
   * or when the pool is full.
   */
  give(view: ArrayBufferView): boolean {
    const buf = view.buffer as ArrayBuffer;
    const n = buf.byteLength;
    if (!this.#made.has(buf) || this.#isFree.has(buf) || buf.detached || n === 0) return this.#refuse();
    const list = this.#free.get(n) ?? [];
    if (list.length >= FREE_PER_SIZE || this.#freeBytes + n > FREE_TOTAL_BYTES) return this.#refuse();
    list.push(buf);
    this.#free.set(n, list);
    this.#isFree.add(buf);
    this.#freeBytes += n;
    this.stats.given++;
    return true;
  }

  #refuse(): false {
    this.stats.refused++;
    return false;
  }
}

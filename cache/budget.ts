/**
 * One memory budget for the whole process: every thread's pixel caches (decoded source tiles, decoded flat
 * images, derived levels) reserve their bytes from a counter in a `SharedArrayBuffer` that the router
 * hands to each worker, so the bound holds whatever `WORKERS` is.
 *
 * Each cache owns a slot (thread × kind) whose usage is counted too. A cache that cannot reserve room
 * evicts its own least recently used entries while it holds more than its fair share (the budget over
 * the caches in use); below it, it raises the pressure flag and does not keep the value this time, and
 * every cache over its share evicts down to it on its next use. A worker that dies has its slots
 * released by the router (`releaseThread`), so nothing leaks with a replaced worker.
 */

/** Threads a budget has slots for (the router and up to 255 workers over the process's life, reused). */
export const MAX_THREADS = 256;
/** The pixel caches of a thread, one slot each. */
export const CACHE_KINDS = ["blocks", "flat", "derived"] as const;
/** One of `CACHE_KINDS`. */
export type CacheKind = typeof CACHE_KINDS[number];

const LIMIT = 0, USED = 1, PRESSURE = 2, ACTIVE = 3, SLOTS = 4;
const SLOT_COUNT = MAX_THREADS * CACHE_KINDS.length;
/** After the usage cells: one "refused room" flag per slot. */
const WANTS = SLOTS + SLOT_COUNT;
const KIB = 1024;

/** Bytes in whole KiB, rounded up (the unit of the shared counters). */
function kib(bytes: number): number {
  return Math.ceil(bytes / KIB);
}

/**
 * The shared counters: limit and used (KiB), the number of caches wanting room and of caches holding bytes,
 * then one usage cell (KiB) and one "wants room" flag per (thread, kind).
 */
export class SharedBudget {
  readonly #cells: Int32Array;

  /** Wraps the buffer another thread created (`create`). */
  constructor(readonly buffer: SharedArrayBuffer) {
    this.#cells = new Int32Array(buffer);
  }

  /** A new budget of `limitBytes` (at most 2 TiB). */
  static create(limitBytes: number): SharedBudget {
    const buffer = new SharedArrayBuffer((SLOTS + 2 * SLOT_COUNT) * 4);
    const budget = new SharedBudget(buffer);
    Atomics.store(budget.#cells, LIMIT, Math.min(kib(limitBytes), 2 ** 31 - 1));
    return budget;
  }

  /** The bound, in bytes. */
  get limitBytes(): number {
    return Atomics.load(this.#cells, LIMIT) * KIB;
  }

  /** Bytes reserved now, by every thread. */
  get usedBytes(): number {
    return Atomics.load(this.#cells, USED) * KIB;
  }

  /** Bytes `slot` holds. */
  slotBytes(slot: number): number {
    return Atomics.load(this.#cells, SLOTS + slot) * KIB;
  }

  /** The slot of cache `kind` in thread `thread`. */
  slotOf(thread: number, kind: CacheKind): number {
    if (!Number.isInteger(thread) || thread < 0 || thread >= MAX_THREADS) throw new RangeError(`thread ${thread}`);
    return thread * CACHE_KINDS.length + CACHE_KINDS.indexOf(kind);
  }

  /** Reserves `bytes` for `slot` if the budget has room; false (nothing reserved) if not. */
  tryReserve(slot: number, bytes: number): boolean {
    const k = kib(bytes), limit = Atomics.load(this.#cells, LIMIT);
    for (;;) {
      const used = Atomics.load(this.#cells, USED);
      if (used + k > limit) return false;
      if (Atomics.compareExchange(this.#cells, USED, used, used + k) === used) break;
    }
    if (Atomics.add(this.#cells, SLOTS + slot, k) === 0) Atomics.add(this.#cells, ACTIVE, 1);
    return true;
  }

  /** Gives back `bytes` that `slot` reserved. */
  release(slot: number, bytes: number): void {
    const k = kib(bytes);
    if (Atomics.sub(this.#cells, SLOTS + slot, k) === k) Atomics.sub(this.#cells, ACTIVE, 1);
    Atomics.sub(this.#cells, USED, k);
  }

  /**
   * The budget divided among the caches holding bytes or waiting for room, counting `slot` among them.
   * Constant time (it runs on cache reads while under pressure): a waiting cache that also holds bytes is
   * counted twice, which only makes the shares smaller.
   */
  fairShareBytes(slot: number): number {
    const self = Atomics.load(this.#cells, SLOTS + slot) === 0 && !Atomics.load(this.#cells, WANTS + slot) ? 1 : 0;
    const caches = Atomics.load(this.#cells, ACTIVE) + Atomics.load(this.#cells, PRESSURE) + self;
    return Math.floor(Atomics.load(this.#cells, LIMIT) / Math.max(1, caches)) * KIB;
  }

  /** True while some cache below its share is waiting for room. */
  get underPressure(): boolean {
    return Atomics.load(this.#cells, PRESSURE) > 0;
  }

  /** Marks `slot` as refused room below its share (the others give way), or as served again. */
  setWanting(slot: number, on: boolean): void {
    if (Atomics.compareExchange(this.#cells, WANTS + slot, on ? 0 : 1, on ? 1 : 0) === (on ? 0 : 1)) {
      Atomics.add(this.#cells, PRESSURE, on ? 1 : -1);
    }
  }

  /** Releases every slot of a thread that ended (its caches died with it). */
  releaseThread(thread: number): void {
    for (const kind of CACHE_KINDS) {
      const slot = this.slotOf(thread, kind);
      const k = Atomics.exchange(this.#cells, SLOTS + slot, 0);
      if (k) {
        Atomics.sub(this.#cells, USED, k);
        Atomics.sub(this.#cells, ACTIVE, 1);
      }
      this.setWanting(slot, false);
    }
  }
}

/** One thread's place in the process budget: its thread number (0: the router), its caches' slots. */
export interface ThreadBudget {
  budget: SharedBudget;
  thread: number;
}

/** A thread's view of the process budget for one of its caches, or null for a thread outside any budget. */
export function budgetSlot(b: ThreadBudget | null, kind: CacheKind): { budget: SharedBudget; slot: number } | null {
  return b ? { budget: b.budget, slot: b.budget.slotOf(b.thread, kind) } : null;
}

/** The default pixel budget (`PIXEL_CACHE_MB`'s default) for threads outside a process budget (tests, tools). */
const DEFAULT_PIXEL_BUDGET_BYTES = 96 * 2 ** 20;

/**
 * The most decoded bytes one read may hold at once: the process budget (one block, one image decoded
 * whole, the stored pixels behind one derived region). Past it a read is refused (413) instead of being
 * decoded again for every request and holding more than the caches may.
 */
export function readLimitOf(b: ThreadBudget | null): number {
  return b?.budget.limitBytes ?? DEFAULT_PIXEL_BUDGET_BYTES;
}

/**
 * Admission of large work by its bytes: jobs whose estimated peak (`taskWeight`) is `LARGE_TASK_BYTES` or
 * more run only while the large jobs in flight stay within a budget (one alone always runs), go to the
 * worker with the fewest of them, and are refused (503) once the large work ahead of a new one would take
 * longer than its wait may last at the rate large work was done lately (or, before any was done, pass twice
 * the budget), and a large job still waiting after `maxWaitMs` is refused then (503) rather than left to
 * its request's time limit (504). Thirty-two 4000-px IIIF images asked 16 at a time took a process past 2 GiB (and two
 * thirds of them to a 504) without it.
 */
import { HttpError } from "../errors.ts";
import type { Task } from "./protocol.ts";
import { LARGE_TASK_BYTES, taskWeight } from "./weight.ts";

/** The window of the rate at which large work is done. */
const RATE_WINDOW_MS = 20_000;

/** What the accounting reads and writes of a worker's slot. */
export interface LargeSlot {
  busy: number;
  /** Large jobs it runs now. */
  large: number;
  /** Bytes of the large jobs it ran since its worker started (the pool recycles it past a bound). */
  largeBytesSinceStart: number;
}

/** The large-work budget of one pool. */
export class LargeWork {
  /** Bytes of the large jobs running now. */
  inFlight = 0;
  /** Large jobs refused because too much large work already waited. */
  shed = 0;

  /** Large jobs done lately: when each ended and its bytes (the rate the pool does large work at). */
  #done: { at: number; bytes: number }[] = [];

  /** `maxWaitMs`: how long a large job may expect to wait before it starts (past it, 503). */
  constructor(readonly budget: number, readonly maxWaitMs: number) {}

  /** A task's weight in this accounting: its estimate when large, else 0 (not counted). */
  weightOf(task: Task): number {
    const w = taskWeight(task);
    return w >= LARGE_TASK_BYTES ? w : 0;
  }

  /**
   * 503 `overloaded` when a job of `weight` would wait longer than `maxWaitMs` behind the large work running
   * and waiting (`queue`), or end later than twice that, at the rate of the last `RATE_WINDOW_MS`; without
   * such a rate yet, when the work waiting would pass twice the budget.
   */
  checkWaiting(queue: Iterable<{ weight: number }>, weight: number, now = performance.now()): void {
    if (weight === 0) return;
    let waiting = 0;
    for (const q of queue) waiting += q.weight;
    if (waiting === 0 && this.inFlight === 0) return; // alone: it always runs
    const rate = this.rate(now);
    // At the recent rate: its wait behind the work ahead, or its own end after that, too late.
    const ahead = this.inFlight + waiting;
    const tooLong = rate > 0
      ? ahead / rate > this.maxWaitMs || (ahead + weight) / rate > 2 * this.maxWaitMs
      : waiting > 0 && waiting + weight > 2 * this.budget;
    if (tooLong) {
      this.shed++;
      throw new HttpError(503, "overloaded", "too much large work in progress; retry shortly");
    }
  }

  /** Bytes of large work done a millisecond lately (0 when fewer than two jobs ended in the window). */
  rate(now = performance.now()): number {
    while (this.#done.length > 0 && now - this.#done[0].at > RATE_WINDOW_MS) this.#done.shift();
    if (this.#done.length < 2) return 0;
    const span = Math.max(1, now - this.#done[0].at);
    return this.#done.slice(1).reduce((a, d) => a + d.bytes, 0) / span;
  }

  /** True when a job of `weight` may start now. */
  admits(weight: number): boolean {
    return weight === 0 || this.inFlight === 0 || this.inFlight + weight <= this.budget;
  }

  /** The slot a large job goes to: the one running the fewest large jobs, then the least busy. */
  pick<S extends LargeSlot>(slots: S[]): S {
    let slot = slots[0];
    for (const s of slots) if (s.large < slot.large || (s.large === slot.large && s.busy < slot.busy)) slot = s;
    return slot;
  }

  /** A job of `weight` starts on `slot`. */
  begin(slot: LargeSlot, weight: number): void {
    if (weight === 0) return;
    slot.large++;
    slot.largeBytesSinceStart += weight;
    this.inFlight += weight;
  }

  /** Called when bytes held by `hold` are let go (the pool then starts the large jobs that waited). */
  onFree: () => void = () => {};

  /**
   * Holds `bytes` in the budget until the returned function is called: a large answer on its way to a slow
   * client keeps its memory, so new large work waits for it (at most once each).
   */
  hold(bytes: number): () => void {
    this.inFlight += bytes;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.inFlight -= bytes;
      this.onFree();
    };
  }

  /** A job of `weight` left `slot`: `done` when answered (it counts in the rate), not when its worker ended. */
  end(slot: LargeSlot, weight: number, done = false, now = performance.now()): void {
    if (weight === 0) return;
    slot.large--;
    this.inFlight -= weight;
    if (done) this.#done.push({ at: now, bytes: weight });
  }
}

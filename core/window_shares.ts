/**
 * Shares of a window of work among the jobs running at once: each job that starts while others run takes
 * the window divided by their number (at least a floor), so a burst of jobs cannot fill a queue behind them.
 * One instance per service (the patch exports of a process share the workers' queue).
 */
export class WindowShares {
  #active = 0;

  /** Jobs running now. */
  get active(): number {
    return this.#active;
  }

  /** Enters a job: its share of `window` (at least `floor`), and how it leaves (once, when it ends). */
  enter(window: number, floor = 2): { share: number; leave: () => void } {
    this.#active++;
    let left = false;
    return {
      share: Math.max(floor, Math.floor(window / this.#active)),
      leave: () => {
        if (!left) (left = true, this.#active--);
      },
    };
  }
}

/** The worker pool's options (workers/pool.ts). */
import type { CodecTier } from "../codecs/tier.ts";
import type { SharedBudget } from "../cache/budget.ts";
import type { CacheSizes } from "../cache/sizes.ts";

/** Options of the pool. */
export interface WorkerPoolOptions {
  /** Number of workers (default: cores). */
  size?: number;
  /** Jobs in flight per worker before new ones are refused with 503. */
  maxQueuePerWorker?: number;
  /** A worker with work whose heartbeat stops this long is hung (default 30 s). */
  jobTimeoutMs?: number;
  /** The JPEG codec tier every worker uses (the main thread's choice; default: this thread's). */
  codecs?: CodecTier;
  /** The process's pixel-cache budget the workers join (threads 1…; 0 is the router); none: per-thread caches. */
  budget?: SharedBudget;
  /** Bounds of each worker's pixel caches (default: `DEFAULT_CACHE_SIZES`). */
  caches?: CacheSizes;
  /**
   * How long a running job may go on after its requester left or its time ran out before its worker is
   * ended (default 2 s, at most `jobTimeoutMs`): work whose request has ended stops, and its memory goes
   * with the worker's.
   */
  abandonGraceMs?: number;
  /**
   * Estimated peak bytes of large jobs (`LARGE_TASK_BYTES` and over) running at once (default 640 MiB); a
   * job over it runs alone. One that would wait longer than half of `jobTimeoutMs` is refused (503, Retry-After).
   */
  largeBudgetBytes?: number;
  /** A worker that ran this many bytes of large jobs is replaced once the pool is idle (default 64 MiB). */
  recycleAfterBytes?: number;
}

/**
 * A pool of Deno module workers running tasks: one worker per core by default. Jobs wait in the pool's
 * queue (bounded: 503 with Retry-After past it) and go to a worker when it has fewer than
 * `PER_WORKER` in hand, so a job's time in queues is spent here, where it can be dropped: a job whose
 * requester left or timed out (its `AbortSignal`) is removed from the queue, or skipped by its worker if
 * already sent. Result buffers are transferred back.
 * Self-healing: a worker that crashes, or whose heartbeat stops for `jobTimeoutMs` while it has work (a
 * job blocking its thread: a hung decoder), is terminated and replaced, and its jobs are retried once on a
 * fresh worker; a job that fails that way twice answers 504 (timed out) or 503 (worker failed). Time a job
 * waits behind others never counts as hanging.
 */
import type { SourceDescriptor } from "../sources/open.ts";
import { HttpError } from "../errors.ts";
import type { TileBackend } from "./backend.ts";
import {
  HEARTBEAT_MS,
  type Task,
  type TaskResults,
  type ThreadMemory,
  type WorkerCancel,
  type WorkerJob,
  type WorkerReply,
} from "./protocol.ts";
import { chooseCodec, type CodecTier } from "../codecs/tier.ts";
import { MAX_THREADS, type SharedBudget } from "../cache/budget.ts";
import { type CacheSizes, DEFAULT_CACHE_SIZES } from "../cache/sizes.ts";
import { log } from "../telemetry/log.ts";
import type { WorkerPoolOptions } from "./pool_options.ts";
import { LargeWork } from "./large_work.ts";
import { type Pending, pendingJob, PER_WORKER, type Slot, slotFor, spawnWorker, watch } from "./slots.ts";
export { PER_WORKER, workersAvailable } from "./slots.ts";

/** How long the pool stays idle before it recycles the workers that did large work. */
const RECYCLE_IDLE_MS = 3_000;

/** The worker-pool backend. */
export class WorkerPool implements TileBackend {
  readonly name = "workers";
  #slots: Slot[] = [];
  #pending = new Map<number, Pending>();
  /** Jobs not yet sent to a worker, oldest first. */
  #queue: Pending[] = [];
  #watchdog: ReturnType<typeof setInterval>;
  #nextId = 1;
  #closed = false;
  readonly size: number;
  readonly maxInFlight: number;
  readonly jobTimeoutMs: number;
  readonly abandonGraceMs: number;
  readonly recycleAfterBytes: number;
  /** Admission of large jobs by their bytes. */
  readonly large: LargeWork;
  /** When the pool last had no job (0 while it has some). */
  #idleSince = 0;
  readonly codecs: CodecTier;
  readonly #budget: SharedBudget | undefined;
  readonly #caches: CacheSizes;
  /** Budget thread numbers free for new workers (a replaced worker's is released, then reused). */
  #freeThreads: number[] = [];
  /** Workers replaced after a crash or a hang, and when the last one was. */
  restarts = 0;
  lastRestart = 0;
  /** Workers replaced after large work once the pool was idle (`recycleAfterBytes`). */
  recycles = 0;
  /** Workers ended because a job went on past its request's end (`abandonGraceMs`). */
  abandonKills = 0;
  /** Jobs dropped because their requester left (or timed out) before a worker started them. */
  cancelled = 0;

  constructor(opts: WorkerPoolOptions = {}) {
    this.size = Math.max(1, opts.size ?? navigator.hardwareConcurrency ?? 2);
    this.maxInFlight = this.size * (opts.maxQueuePerWorker ?? 64);
    this.jobTimeoutMs = opts.jobTimeoutMs ?? 30_000;
    this.abandonGraceMs = Math.min(opts.abandonGraceMs ?? 2_000, this.jobTimeoutMs);
    this.large = new LargeWork(opts.largeBudgetBytes ?? 640 << 20, this.jobTimeoutMs / 2);
    this.large.onFree = () => this.#drain();
    this.recycleAfterBytes = opts.recycleAfterBytes ?? 64 << 20;
    this.codecs = opts.codecs ?? chooseCodec("auto").status.tier;
    this.#caches = opts.caches ?? DEFAULT_CACHE_SIZES;
    this.#budget = opts.budget;
    for (let t = MAX_THREADS - 1; t >= 1; t--) this.#freeThreads.push(t);
    for (let i = 0; i < this.size; i++) this.#slots.push(this.#spawn());
    // A worker with work that has said nothing for the job timeout is blocked, and one still running a job
    // whose request ended `abandonGraceMs` ago is at work nobody waits for: replace it.
    this.#watchdog = setInterval(() => {
      const now = performance.now();
      this.#idleSince = this.#pending.size > 0 ? 0 : this.#idleSince || now;
      watch(now, {
        slots: this.#slots,
        pending: this.#pending.values(),
        jobTimeoutMs: this.jobTimeoutMs,
        abandonGraceMs: this.abandonGraceMs,
        maxWaitMs: this.large.maxWaitMs,
        recycleAfterBytes: this.#idleSince && now - this.#idleSince > RECYCLE_IDLE_MS ? this.recycleAfterBytes : null,
      }, {
        replace: (slot, error) => this.#replace(slot, error),
        shed: (p) => {
          const at = this.#queue.indexOf(p);
          if (at >= 0) this.#queue.splice(at, 1);
          this.#settle(p);
          this.large.shed++;
          p.reject(new HttpError(503, "overloaded", "too much large work in progress; retry shortly"));
        },
        abandoned: () => this.abandonKills++,
        recycle: (slot) => (this.recycles++, this.#swap(slot)),
      });
    }, Math.min(HEARTBEAT_MS, Math.max(10, Math.min(this.jobTimeoutMs, this.abandonGraceMs) / 4)));
    Deno.unrefTimer(this.#watchdog);
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** Each worker's V8 memory (heap reserved and used, external), as its last heartbeat said. */
  workerMemory(): ThreadMemory[] {
    return this.#slots.map((s) => s.memory ?? { heapTotal: 0, heapUsed: 0, external: 0 });
  }

  /** Jobs sent to each worker now in the pool, by position (a replaced worker starts again at 0). */
  sentPerWorker(): number[] {
    return this.#slots.map((s) => s.sent);
  }

  #spawn(): Slot {
    const thread = this.#freeThreads.pop() ?? 0;
    // First message: the process's codec tier and memory budget (messages arrive in order: before any job).
    const budget = this.#budget && thread ? { buffer: this.#budget.buffer, thread } : undefined;
    const { level, format } = log();
    const slot = spawnWorker({ codecs: this.codecs, budget, caches: this.#caches, log: { level, format } }, thread);
    slot.worker.onmessage = (e: MessageEvent<WorkerReply>) => {
      const r = e.data;
      slot.lastSeen = performance.now();
      if ("alive" in r) {
        slot.memory = r.memory;
        return;
      }
      const p = this.#pending.get(r.id);
      if (!p || p.slot !== slot) return;
      this.#settle(p);
      slot.busy--;
      this.large.end(slot, p.weight, true);
      if (r.ok) p.resolve(r.result);
      else {
        if (r.error.code === "cancelled") this.cancelled++; // skipped by the worker before it started
        p.reject(new HttpError(r.error.status, r.error.code, r.error.message));
      }
      this.#drain();
    };
    slot.worker.onerror = (e) => {
      e.preventDefault();
      this.#replace(slot, new HttpError(503, "worker_failed", `a worker failed: ${e.message}; retry shortly`));
    };
    return slot;
  }

  /** Forgets a finished job (and stops listening to its requester). */
  #settle(p: Pending) {
    this.#pending.delete(p.job.id);
    if (p.onAbort) p.signal?.removeEventListener("abort", p.onAbort);
  }

  /** Terminates a crashed or hung worker, starts a new one, and retries its jobs once. */
  #replace(slot: Slot, error: HttpError) {
    if (this.#slots.indexOf(slot) < 0) return;
    this.#swap(slot);
    this.restarts++;
    this.lastRestart = Date.now();
    if (this.#closed) return;
    const orphans = [...this.#pending.values()].filter((p) => p.slot === slot);
    for (const p of orphans) {
      this.large.end(slot, p.weight); // its large-work bytes are free again
      if (p.abandonedAt !== undefined) {
        // Its requester is gone: never retried (a job that kills its worker would kill the next one too).
        this.#settle(p);
        p.reject(new HttpError(499, "cancelled", "the request was abandoned"));
      } else if (p.attempts >= 2) {
        this.#settle(p);
        p.reject(error);
      } else {
        p.slot = null;
        p.attempts++;
        p.queuedAt = performance.now();
        this.#queue.unshift(p); // first in line again
      }
    }
    this.#drain();
  }

  /** Ends `slot`'s worker and starts a new one in its place (its jobs are the caller's to settle). */
  #swap(slot: Slot) {
    const i = this.#slots.indexOf(slot);
    if (i < 0) return;
    slot.worker.terminate();
    // Its caches died with it: give their bytes back to the budget, and its thread number to the next.
    if (slot.thread) {
      this.#budget?.releaseThread(slot.thread);
      this.#freeThreads.unshift(slot.thread); // reused last: the old worker is surely gone by then
    }
    if (!this.#closed) this.#slots[i] = this.#spawn();
  }

  /**
   * Sends queued jobs, in order, to the least busy workers that have room, or each job with an affinity to
   * its own worker; a job whose worker is full waits, and the jobs behind it for other workers go ahead.
   */
  #drain() {
    for (let i = 0; i < this.#queue.length;) {
      if (this.#slots.every((s) => s.busy >= PER_WORKER)) return; // no room anywhere: nothing to walk
      const p = this.#queue[i];
      // A large job waits while others' large work would pass the budget with it (one alone always runs).
      if (!this.large.admits(p.weight)) {
        i++;
        continue;
      }
      const slot = slotFor(p, this.#slots, this.large);
      if (slot.busy >= PER_WORKER) {
        i++;
        continue;
      }
      this.#queue.splice(i, 1);
      this.large.begin(slot, p.weight);
      if (slot.busy === 0) slot.lastSeen = performance.now(); // an idle worker's silence is not a hang
      p.slot = slot;
      slot.busy++;
      slot.sent++;
      slot.worker.postMessage(p.job);
    }
  }

  /** The requester left or timed out: drop the job from the queue, or tell its worker to skip it. */
  #abandon(p: Pending) {
    const error = new HttpError(499, "cancelled", "the request was abandoned");
    if (p.slot === null) {
      const at = this.#queue.indexOf(p);
      if (at >= 0) this.#queue.splice(at, 1);
      this.#settle(p);
      this.cancelled++;
      p.reject(error);
    } else if (this.#pending.has(p.job.id)) {
      // Skipped if it has not started (the worker answers "cancelled"); a running job has `abandonGraceMs`
      // to finish before its worker is ended (the watchdog).
      p.abandonedAt = performance.now();
      p.slot.worker.postMessage({ cancel: p.job.id } satisfies WorkerCancel);
    }
  }

  run<K extends Task["kind"]>(
    source: SourceDescriptor | undefined,
    task: Extract<Task, { kind: K }>,
    signal?: AbortSignal,
    affinity?: number,
  ): Promise<TaskResults[K]> {
    if (this.#closed) return Promise.reject(new HttpError(503, "shutting_down", "server is shutting down"));
    if (signal?.aborted) {
      this.cancelled++;
      return Promise.reject(new HttpError(499, "cancelled", "the request was abandoned"));
    }
    if (this.#pending.size >= this.maxInFlight) {
      return Promise.reject(new HttpError(503, "overloaded", "too many tiles in progress; retry shortly"));
    }
    const weight = this.large.weightOf(task);
    try {
      this.large.checkWaiting(this.#queue, weight);
    } catch (err) {
      return Promise.reject(err);
    }
    const job: WorkerJob = { id: this.#nextId++, source, task };
    return new Promise<TaskResults[K]>((resolve, reject) => {
      const p = pendingJob(job, resolve as Pending["resolve"], reject, weight, signal, affinity);
      if (signal) {
        p.onAbort = () => this.#abandon(p);
        signal.addEventListener("abort", p.onAbort, { once: true });
      }
      this.#pending.set(job.id, p);
      this.#queue.push(p);
      this.#drain();
    });
  }

  /** Sends a message that makes a worker crash, hang, or run endless async work (tests of self-healing only). */
  sabotage(kind: "crash" | "hang" | "runaway"): void {
    this.#slots[0].worker.postMessage({ sabotage: kind });
  }

  close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#watchdog);
    for (const s of this.#slots) s.worker.terminate();
    for (const p of this.#pending.values()) {
      if (p.onAbort) p.signal?.removeEventListener("abort", p.onAbort);
      p.reject(new HttpError(503, "shutting_down", "server is shutting down"));
    }
    this.#pending.clear();
    this.#queue = [];
    return Promise.resolve();
  }
}

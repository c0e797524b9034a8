/**
 * A pool of Deno module workers running tasks: one worker per core by default, each job to the least
 * busy worker, a bounded queue (503 with Retry-After past it), result buffers transferred back.
 * Self-healing: a worker that crashes, or runs a job past `jobTimeoutMs` (a hung decoder), is terminated
 * and replaced, and its jobs are retried once on a fresh worker; a job that fails that way twice answers
 * 504 (timed out) or 503 (worker failed).
 */
import type { SourceDescriptor } from "../sources/open.ts";
import { HttpError } from "../errors.ts";
import type { TileBackend } from "./backend.ts";
import type { Task, TaskResults, WorkerInit, WorkerJob, WorkerReply } from "./protocol.ts";
import { codecStatus, type CodecTier } from "../codecs/tier.ts";
import { MAX_THREADS, type SharedBudget } from "../cache/budget.ts";

interface Pending {
  job: WorkerJob;
  resolve: (t: TaskResults[Task["kind"]]) => void;
  reject: (e: Error) => void;
  slot: Slot;
  attempts: number;
  timer: ReturnType<typeof setTimeout>;
}

interface Slot {
  worker: Worker;
  busy: number;
  /** The worker's thread number in the budget (0: none). */
  thread: number;
}

/** Options of the pool. */
export interface WorkerPoolOptions {
  /** Number of workers (default: cores). */
  size?: number;
  /** Jobs in flight per worker before new ones are refused with 503. */
  maxQueuePerWorker?: number;
  /** A job running longer than this means its worker hung (default 30 s). */
  jobTimeoutMs?: number;
  /** The JPEG codec tier every worker uses (the main thread's choice; default: this thread's). */
  codecs?: CodecTier;
  /** The process's pixel-cache budget the workers join (threads 1…; 0 is the router); none: per-thread caches. */
  budget?: SharedBudget;
}

/** True where module workers exist (not on Deno Deploy). */
export function workersAvailable(): boolean {
  return typeof Worker === "function";
}

/** The worker-pool backend. */
export class WorkerPool implements TileBackend {
  readonly name = "workers";
  #slots: Slot[] = [];
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;
  readonly size: number;
  readonly maxInFlight: number;
  readonly jobTimeoutMs: number;
  readonly codecs: CodecTier;
  readonly #budget: SharedBudget | undefined;
  /** Budget thread numbers free for new workers (a replaced worker's is released, then reused). */
  #freeThreads: number[] = [];
  /** Workers replaced after a crash or a hang, and when the last one was. */
  restarts = 0;
  lastRestart = 0;

  constructor(opts: WorkerPoolOptions = {}) {
    this.size = Math.max(1, opts.size ?? navigator.hardwareConcurrency ?? 2);
    this.maxInFlight = this.size * (opts.maxQueuePerWorker ?? 64);
    this.jobTimeoutMs = opts.jobTimeoutMs ?? 30_000;
    this.codecs = opts.codecs ?? codecStatus().tier;
    this.#budget = opts.budget;
    for (let t = MAX_THREADS - 1; t >= 1; t--) this.#freeThreads.push(t);
    for (let i = 0; i < this.size; i++) this.#slots.push(this.#spawn());
  }

  get pending(): number {
    return this.#pending.size;
  }

  #spawn(): Slot {
    const worker = new Worker(new URL("./tile_worker.ts", import.meta.url), { type: "module" });
    const thread = this.#freeThreads.pop() ?? 0;
    const slot: Slot = { worker, busy: 0, thread };
    // First message: the process's codec tier and memory budget (messages arrive in order: before any job).
    const budget = this.#budget && thread ? { buffer: this.#budget.buffer, thread } : undefined;
    worker.postMessage({ init: { codecs: this.codecs, budget } } satisfies WorkerInit);
    worker.onmessage = (e: MessageEvent<WorkerReply>) => {
      const r = e.data;
      const p = this.#pending.get(r.id);
      if (!p || p.slot !== slot) return;
      this.#pending.delete(r.id);
      clearTimeout(p.timer);
      slot.busy--;
      if (r.ok) p.resolve(r.result);
      else p.reject(new HttpError(r.error.status, r.error.code, r.error.message));
    };
    worker.onerror = (e) => {
      e.preventDefault();
      this.#replace(slot, new HttpError(503, "worker_failed", `a worker failed: ${e.message}; retry shortly`));
    };
    return slot;
  }

  /** Terminates a crashed or hung worker, starts a new one, and retries its jobs once. */
  #replace(slot: Slot, error: HttpError) {
    const i = this.#slots.indexOf(slot);
    if (i < 0) return;
    slot.worker.terminate();
    // Its caches died with it: give their bytes back to the budget, and its thread number to the next.
    if (slot.thread) {
      this.#budget?.releaseThread(slot.thread);
      this.#freeThreads.unshift(slot.thread); // reused last: the old worker is surely gone by then
    }
    this.restarts++;
    this.lastRestart = Date.now();
    if (this.#closed) return;
    this.#slots[i] = this.#spawn();
    const orphans = [...this.#pending.values()].filter((p) => p.slot === slot);
    for (const p of orphans) {
      this.#pending.delete(p.job.id);
      clearTimeout(p.timer);
      if (p.attempts >= 2) p.reject(error);
      else this.#dispatch(p.job, p.resolve, p.reject, p.attempts + 1);
    }
  }

  #dispatch(job: WorkerJob, resolve: Pending["resolve"], reject: Pending["reject"], attempts: number) {
    let slot = this.#slots[0];
    for (const s of this.#slots) if (s.busy < slot.busy) slot = s;
    const timer = setTimeout(() => {
      this.#replace(slot, new HttpError(504, "timeout", `the tile took longer than ${this.jobTimeoutMs} ms`));
    }, this.jobTimeoutMs);
    this.#pending.set(job.id, { job, resolve, reject, slot, attempts, timer });
    slot.busy++;
    slot.worker.postMessage(job);
  }

  run<K extends Task["kind"]>(
    source: SourceDescriptor | undefined,
    task: Extract<Task, { kind: K }>,
  ): Promise<TaskResults[K]> {
    if (this.#closed) return Promise.reject(new HttpError(503, "shutting_down", "server is shutting down"));
    if (this.#pending.size >= this.maxInFlight) {
      return Promise.reject(new HttpError(503, "overloaded", "too many tiles in progress; retry shortly"));
    }
    const job: WorkerJob = { id: this.#nextId++, source, task };
    return new Promise<TaskResults[K]>((resolve, reject) => {
      this.#dispatch(job, resolve as Pending["resolve"], reject, 1);
    });
  }

  /** Sends a message that makes a worker crash or hang (tests of self-healing only). */
  sabotage(kind: "crash" | "hang"): void {
    this.#slots[0].worker.postMessage({ sabotage: kind });
  }

  close(): Promise<void> {
    this.#closed = true;
    for (const s of this.#slots) s.worker.terminate();
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new HttpError(503, "shutting_down", "server is shutting down"));
    }
    this.#pending.clear();
    return Promise.resolve();
  }
}

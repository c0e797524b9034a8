/**
 * A pool of Deno module workers running the tile pipeline: one worker per core by default, each job to
 * the least busy worker, a bounded queue (503 with Retry-After past it), encoded bytes transferred back.
 * A worker that dies is replaced; its jobs fail with 503 and can be retried by the client.
 */
import type { SourceDescriptor } from "../sources/open.ts";
import { HttpError } from "../errors.ts";
import type { TileBackend } from "./backend.ts";
import type { Task, TaskResults, WorkerJob, WorkerReply } from "./protocol.ts";

interface Pending {
  resolve: (t: TaskResults[Task["kind"]]) => void;
  reject: (e: Error) => void;
  slot: Slot;
}

interface Slot {
  worker: Worker;
  busy: number;
}

/** Options of the pool. */
export interface WorkerPoolOptions {
  /** Number of workers (default: cores). */
  size?: number;
  /** Jobs in flight per worker before new ones are refused with 503. */
  maxQueuePerWorker?: number;
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

  constructor(opts: WorkerPoolOptions = {}) {
    this.size = Math.max(1, opts.size ?? navigator.hardwareConcurrency ?? 2);
    this.maxInFlight = this.size * (opts.maxQueuePerWorker ?? 64);
    for (let i = 0; i < this.size; i++) this.#slots.push(this.#spawn());
  }

  get pending(): number {
    return this.#pending.size;
  }

  #spawn(): Slot {
    const worker = new Worker(new URL("./tile_worker.ts", import.meta.url), { type: "module" });
    const slot: Slot = { worker, busy: 0 };
    worker.onmessage = (e: MessageEvent<WorkerReply>) => {
      const r = e.data;
      const p = this.#pending.get(r.id);
      if (!p) return;
      this.#pending.delete(r.id);
      p.slot.busy--;
      if (r.ok) {
        p.resolve(r.result);
      } else {
        p.reject(new HttpError(r.error.status, r.error.code, r.error.message));
      }
    };
    worker.onerror = (e) => {
      e.preventDefault();
      this.#replace(slot, `worker failed: ${e.message}`);
    };
    return slot;
  }

  /** Fails the jobs of a dead worker and starts a new one in its place. */
  #replace(slot: Slot, why: string) {
    for (const [id, p] of this.#pending) {
      if (p.slot !== slot) continue;
      this.#pending.delete(id);
      p.reject(new HttpError(503, "worker_failed", why));
    }
    slot.worker.terminate();
    const i = this.#slots.indexOf(slot);
    if (i >= 0 && !this.#closed) this.#slots[i] = this.#spawn();
  }

  run<K extends Task["kind"]>(source: SourceDescriptor, task: Extract<Task, { kind: K }>): Promise<TaskResults[K]> {
    if (this.#closed) return Promise.reject(new HttpError(503, "shutting_down", "server is shutting down"));
    if (this.#pending.size >= this.maxInFlight) {
      return Promise.reject(new HttpError(503, "overloaded", "too many tiles in progress; retry shortly"));
    }
    let slot = this.#slots[0];
    for (const s of this.#slots) if (s.busy < slot.busy) slot = s;
    const id = this.#nextId++;
    return new Promise<TaskResults[K]>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as Pending["resolve"], reject, slot });
      slot.busy++;
      const job: WorkerJob = { id, source, task };
      slot.worker.postMessage(job);
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    for (const s of this.#slots) s.worker.terminate();
    for (const p of this.#pending.values()) p.reject(new HttpError(503, "shutting_down", "server is shutting down"));
    this.#pending.clear();
    return Promise.resolve();
  }
}

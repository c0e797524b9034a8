/**
 * The pool's workers and jobs as records: a worker's slot (its load, thread, last word, memory), a job in
 * the pool (its requester, worker, attempts, weight), how a worker is started, and which worker a job goes
 * to. The pool (workers/pool.ts) keeps them and moves jobs between its queue and the workers.
 */
import type { Task, TaskResults, ThreadMemory, WorkerInit, WorkerJob } from "./protocol.ts";
import type { LargeSlot, LargeWork } from "./large_work.ts";
import { HttpError } from "../errors.ts";

/** A job in the pool. */
export interface Pending {
  job: WorkerJob;
  resolve: (t: TaskResults[Task["kind"]]) => void;
  reject: (e: Error) => void;
  /** The worker it was sent to; null while it waits in the pool's queue. */
  slot: Slot | null;
  attempts: number;
  signal?: AbortSignal;
  onAbort?: () => void;
  /** The worker it must run on (modulo the pool's size), when given. */
  affinity?: number;
  /** When its requester left or its time ran out while a worker ran it (ms, `performance.now()`). */
  abandonedAt?: number;
  /** Its estimated peak bytes when it is large (`taskWeight` ≥ `LARGE_TASK_BYTES`), else 0. */
  weight: number;
  /** When it joined the pool's queue (again, after a retry). */
  queuedAt: number;
}

/**
 * Jobs a worker holds at once (their async I/O overlaps; 2 cost 25 % of bench:load's throughput, 16 none).
 * The rest wait in the pool, where an abandoned job is dropped exactly.
 */
export const PER_WORKER = 16;

/** A worker and what the pool knows of it. */
export interface Slot extends LargeSlot {
  worker: Worker;
  busy: number;
  /** The worker's thread number in the budget (0: none). */
  thread: number;
  /** When it last said anything (a reply or its heartbeat), or was given work while idle. */
  lastSeen: number;
  /** Jobs sent to it. */
  sent: number;
  /** Its V8 memory, as its last heartbeat said. */
  memory?: ThreadMemory;
}

/** True where module workers exist (not on edge runtimes without them). */
export function workersAvailable(): boolean {
  return typeof Worker === "function";
}

/** A worker started with its first message (the codec tier, its budget thread, cache sizes, log settings). */
export function spawnWorker(init: WorkerInit["init"], thread: number): Slot {
  const worker = new Worker(new URL("./tile_worker.ts", import.meta.url), { type: "module" });
  worker.postMessage({ init } satisfies WorkerInit);
  return { worker, busy: 0, thread, lastSeen: performance.now(), sent: 0, large: 0, largeBytesSinceStart: 0 };
}

/** The worker a queued job goes to: its affinity's, the large-work pick for a large job, else the least busy. */
export function slotFor(p: Pending, slots: Slot[], large: LargeWork): Slot {
  if (p.affinity !== undefined) return slots[p.affinity % slots.length];
  if (p.weight > 0) return large.pick(slots);
  let slot = slots[0];
  for (const s of slots) if (s.busy < slot.busy) slot = s;
  return slot;
}

/** What the pool's watchdog looks at on each tick. */
export interface WatchState {
  slots: Slot[];
  pending: Iterable<Pending>;
  jobTimeoutMs: number;
  abandonGraceMs: number;
  /** The longest a large job may wait in the queue. */
  maxWaitMs: number;
  /** When the pool has been idle long enough after large work: the bytes past which a worker is recycled. */
  recycleAfterBytes: number | null;
}

/**
 * One tick of the pool's watchdog: a worker with work that said nothing for the job timeout is blocked
 * (replaced, 504); large work that waited its whole wait is refused now (503: started later, it would end
 * in a 504); a worker still running a job whose request ended `abandonGraceMs` ago is at work nobody waits
 * for (replaced); and once the pool is idle after large work, the workers that did it are recycled, so the
 * memory their heaps and allocators kept goes back to the system.
 */
export function watch(now: number, w: WatchState, act: {
  replace(slot: Slot, error: HttpError): void;
  shed(p: Pending): void;
  abandoned(): void;
  recycle(slot: Slot): void;
}): void {
  for (const slot of [...w.slots]) {
    if (slot.busy > 0 && now - slot.lastSeen > w.jobTimeoutMs) {
      act.replace(slot, new HttpError(504, "timeout", `a job blocked its worker for ${w.jobTimeoutMs} ms`));
    }
  }
  for (const p of [...w.pending]) {
    if (!p.slot && p.weight > 0 && now - p.queuedAt > w.maxWaitMs) act.shed(p);
    else if (p.slot && p.abandonedAt !== undefined && now - p.abandonedAt > w.abandonGraceMs) {
      act.abandoned();
      act.replace(p.slot, new HttpError(503, "worker_failed", "a worker was ended; retry shortly"));
    }
  }
  if (w.recycleAfterBytes === null) return;
  for (const slot of [...w.slots]) {
    if (slot.busy === 0 && slot.largeBytesSinceStart >= w.recycleAfterBytes) act.recycle(slot);
  }
}

/** A job entering the pool's queue (an affinity that is not a non-negative finite number is none). */
export function pendingJob(
  job: WorkerJob,
  resolve: Pending["resolve"],
  reject: Pending["reject"],
  weight: number,
  signal?: AbortSignal,
  affinity?: number,
): Pending {
  return {
    job,
    resolve,
    reject,
    slot: null,
    attempts: 1,
    weight,
    queuedAt: performance.now(),
    signal,
    ...(Number.isFinite(affinity) && affinity! >= 0 ? { affinity: Math.floor(affinity!) } : {}),
  };
}

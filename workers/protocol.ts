/** Messages between the backends and `tile_worker.ts`: a task on a source, and its result. */
import type { SourceDescriptor } from "../sources/open.ts";
import type { TileRequest } from "../pipeline/tile_request.ts";
import type { ErrorShape } from "../errors.ts";
import type { PreparedTile, RenderedTile, TileInput } from "../pipeline/render.ts";
import type { OpOutput } from "../kernels/op.ts";
import type { KernelJob, KernelResult } from "../kernels/kernel.ts";
import type { ComputedStats } from "../core/image_stats.ts";
import type { StatsInput, StatsKernels } from "../stats/compute.ts";
import type { StatsPlane } from "../core/image_stats.ts";
import type { CodecTier } from "../codecs/tier.ts";
import type { CacheSizes } from "../cache/sizes.ts";
import type { LogFormat, LogLevel } from "../telemetry/log.ts";

/** Work a backend can do on an image. */
export type Task =
  | { kind: "tile"; request: TileRequest }
  | { kind: "tile-input"; request: TileRequest; deferBlend?: boolean }
  | { kind: "tile-finish"; request: TileRequest; stage: Omit<TileInput, "input">; output: OpOutput }
  | { kind: "kernel"; job: KernelJob }
  | { kind: "stats"; plane?: StatsPlane }
  | { kind: "stats-input"; plane?: StatsPlane }
  | { kind: "stats-finish"; input: Omit<StatsInput, "px">; kernels: StatsKernels }
  | { kind: "palette"; k: number; rescale?: string };

/** The result type of each task kind. */
export interface TaskResults {
  /** The whole pipeline. */
  tile: RenderedTile;
  /** The steps before the op (the WebGPU backend then runs the op). */
  "tile-input": PreparedTile;
  /** The steps after the op. */
  "tile-finish": RenderedTile;
  /** A kernel job's CPU definition (the GPU's fallback and start-up measurement). */
  kernel: KernelResult;
  stats: ComputedStats;
  /** The stats level read (the WebGPU backend then runs the kernels). */
  "stats-input": StatsInput;
  /** Statistics assembled from the kernels' results. */
  "stats-finish": ComputedStats;
  palette: Uint8Array;
}

/** Task kinds that need no source (their input travels with them). */
export const SOURCELESS_TASKS: ReadonlySet<Task["kind"]> = new Set(["tile-finish", "kernel", "stats-finish"]);

/** A job: which source, which task. */
export interface WorkerJob {
  id: number;
  /** The image (absent for `SOURCELESS_TASKS`). */
  source?: SourceDescriptor;
  task: Task;
}

/** The first message to a worker: settings the main thread decided at start-up. */
export interface WorkerInit {
  /** The codec tier; the process's pixel-cache budget and this worker's thread number in it; the log settings. */
  init: {
    codecs: CodecTier;
    budget?: { buffer: SharedArrayBuffer; thread: number };
    caches: CacheSizes;
    log: { level: LogLevel; format: LogFormat };
  };
}

/** The answer to a job: its result, or an error; or the worker's heartbeat (its event loop turns). */
export type WorkerReply =
  | { id: number; ok: true; result: TaskResults[Task["kind"]] }
  | { id: number; ok: false; error: ErrorShape }
  | { alive: true; memory?: ThreadMemory };

/** A thread's own V8 memory (its heartbeat carries it): heap reserved and used, and external (ArrayBuffers). */
export interface ThreadMemory {
  heapTotal: number;
  heapUsed: number;
  external: number;
}

/** Tells a worker to skip a job it has not started (its requester left or timed out). */
export interface WorkerCancel {
  cancel: number;
}

/** How often a worker says it is alive; one silent for the job timeout is hung. */
export const HEARTBEAT_MS = 250;

/** What the WebGPU backend reports of itself (`/health`, `/ready`), its options, and its start-up measurement. */
import type { TileBackend } from "../workers/backend.ts";
import type { GpuExecutor, GpuExecutorOptions } from "./executor.ts";
import type { KernelJob } from "../kernels/kernel.ts";
import { KERNELS, OP_KERNELS } from "../kernels/index.ts";
import { SAMPLE_SIDE, sampleJobs } from "./self_test.ts";
import { entryPointsOf } from "./shaders.ts";
import type { RenderedTile } from "../pipeline/render.ts";

/** Where the backend is in its start-up, and what it decided. */
export interface GpuReport {
  /** What the configuration asked for. */
  requested: "auto" | "webgpu";
  /** starting → measuring (auto only) → ready; unavailable (no adapter, or the self-test failed). */
  state: "starting" | "measuring" | "ready" | "unavailable";
  /** The backend computing ops now. */
  using: string;
  /** Pipelines compiled so far, of `pipelinesTotal`. */
  pipelinesCompiled: number;
  pipelinesTotal: number;
  adapter?: string;
  softwareAdapter?: boolean;
  /** Why the GPU is not in use, when it is not. */
  reason?: string;
  /** `auto`: the start-up measurement, in jobs per second on the sample batch, in all and per kernel. */
  measured?: {
    sample: string;
    webgpuJobsPerSecond: number;
    cpuJobsPerSecond: number;
    cpuBackend: string;
    kernels: Partial<Record<string, { webgpu: number; cpu: number }>>;
  };
  /** The op kernels the GPU runs (every one for `webgpu`; those it won for `auto`); stats follow `mask`. */
  gpuKernels: string[];
  /** GPU work so far. */
  jobs: number;
  submissions: number;
  largestBatch: number;
  /** Jobs rerun on the CPU after a GPU failure, and the failures (device losses included). */
  fallbacks: number;
  failures: number;
  deviceRecreations: number;
}

/** Options (tests make the measurement and recovery quick). */
export interface WebGpuBackendOptions {
  executor?: GpuExecutorOptions;
  /** Sample tiles per kernel in the `auto` measurement. */
  sampleTiles?: number;
  /** First delay before recreating a failed device (doubles per failed attempt, up to a minute). */
  recreateDelayMs?: number;
  /**
   * `auto` on a software (fallback) adapter: measure it like a GPU (true), or keep the CPU backend without
   * compiling any pipeline (default: such an adapter runs on the same cores as the workers and loses to
   * them by 3–4×, bench/README.md, while its pipelines cost ~180 MiB of memory).
   */
  measureSoftware?: boolean;
}

/**
 * `auto`'s start-up measurement: each op kernel's jobs per second on the sample batch, on the GPU and on the
 * CPU backend (the best of two rounds each), and in all.
 */
export async function measureKernels(
  cpuBackend: TileBackend,
  sampleTiles: number,
  executor: GpuExecutor,
): Promise<NonNullable<GpuReport["measured"]>> {
  const jobs = sampleJobs(sampleTiles);
  const rate = async (some: KernelJob[], run: (job: KernelJob) => Promise<unknown>) => {
    let best = 0;
    for (let round = 0; round < 2; round++) {
      const t0 = performance.now();
      await Promise.all(some.map(run));
      best = Math.max(best, some.length / ((performance.now() - t0) / 1000));
    }
    return best;
  };
  const kernels: NonNullable<GpuReport["measured"]>["kernels"] = {};
  let cpuSeconds = 0, gpuSeconds = 0;
  for (const kernel of OP_KERNELS) {
    const some = jobs.filter((j) => j.kernel === kernel);
    const cpu = await rate(some, (job) => cpuBackend.run(undefined, { kind: "kernel", job }));
    const webgpu = await rate(some, (job) => executor.run(job));
    kernels[kernel] = { webgpu, cpu };
    cpuSeconds += some.length / cpu;
    gpuSeconds += some.length / webgpu;
  }
  return {
    sample: `${jobs.length} jobs: ${jobs.length / OP_KERNELS.length} synthetic ${SAMPLE_SIDE}² RGB tiles × ` +
      OP_KERNELS.join(", "),
    webgpuJobsPerSecond: jobs.length / gpuSeconds,
    cpuJobsPerSecond: jobs.length / cpuSeconds,
    cpuBackend: cpuBackend.name,
    kernels,
  };
}

/** The report of a backend that has not started yet. */
export function initialReport(requested: "auto" | "webgpu", cpuName: string): GpuReport {
  return {
    requested,
    state: "starting",
    using: cpuName,
    pipelinesCompiled: 0,
    pipelinesTotal: entryPointsOf(KERNELS.values()).length,
    jobs: 0,
    submissions: 0,
    largestBatch: 0,
    fallbacks: 0,
    failures: 0,
    deviceRecreations: 0,
    gpuKernels: [],
  };
}

/** The op kernels the GPU won in the measurement (`auto` runs those there). */
export function kernelsWon(measured: NonNullable<GpuReport["measured"]>): string[] {
  return OP_KERNELS.filter((k) => {
    const m = measured.kernels[k];
    return m !== undefined && m.webgpu > m.cpu;
  });
}

/** Each kernel's jobs/s on the GPU and the CPU (`mask 120/80, …`), for the start-up log line. */
export function measuredText(measured: NonNullable<GpuReport["measured"]>): string {
  return OP_KERNELS.map((k) => {
    const m = measured.kernels[k]!;
    return `${k} ${m.webgpu.toFixed(0)}/${m.cpu.toFixed(0)}`;
  }).join(", ");
}

/** The tile as `by` computed it (answered as `X-Backend`, kept with the cached tile). */
export function taggedBy(tile: RenderedTile, by: string): RenderedTile {
  return { ...tile, notes: { ...tile.notes, backend: by } };
}

/**
 * The WebGPU backend: tiles are read, resampled and encoded on the CPU backend (the workers), and their
 * op runs on the GPU in batches (gpu/executor.ts); so do the image statistics' kernels. Start-up warms up every pipeline and checks each kernel
 * against its CPU definition; until then, and whenever the GPU is not in use, tiles go to the CPU backend
 * whole. `auto` then times each op kernel on both on a sample batch and runs on the GPU only the kernels
 * it wins (a real GPU wins the costly ones — the mask's median, palette search — and loses the point-wise
 * ones to its readback latency: bench/README.md); `webgpu` runs every kernel on the GPU.
 *
 * A GPU failure (error, lost device, stuck batch) never fails a request: the job's kernel is rerun on the
 * CPU backend, the event is logged and counted, and a new device is created in the background.
 */
import type { SourceDescriptor } from "../sources/open.ts";
import type { TileBackend } from "../workers/backend.ts";
import type { Task, TaskResults } from "../workers/protocol.ts";
import type { RenderedTile } from "../pipeline/render.ts";
import { GpuExecutor, type GpuExecutorOptions, GpuFailure } from "./executor.ts";
import type { KernelJob, KernelResult } from "../kernels/kernel.ts";
import { applyOp, OP_KERNELS, opJob, opKernelName, opOutput } from "../kernels/index.ts";
import type { OpOutput } from "../kernels/op.ts";
import type { Raster8 } from "../core/raster.ts";
import { ALL_ENTRY_POINTS } from "./shaders.ts";
import { SAMPLE_SIDE, sampleJobs, selfTest } from "./self_test.ts";
import { statsKernels } from "../stats/compute.ts";
import type { ComputedStats, StatsPlane } from "../core/image_stats.ts";
import { log } from "../telemetry/log.ts";

/** True where this runtime exposes WebGPU (`navigator.gpu`); an adapter may still be missing. */
export function webGpuExposed(): boolean {
  return typeof (navigator as Navigator & { gpu?: GPU }).gpu !== "undefined";
}

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

/** A TileBackend that runs ops on a WebGPU device and everything else on a CPU backend. */
export class WebGpuBackend implements TileBackend {
  #executor: GpuExecutor | null = null;
  #useGpu = false;
  /** The op kernels sent to the GPU while it is in use. */
  #gpuKernels = new Set<string>();
  #closed = false;
  #recreating: Promise<void> | null = null;
  #report: GpuReport;
  /** Settles when start-up (warm-up, self-test, `auto` measurement) is over. */
  readonly started: Promise<void>;

  constructor(readonly cpu: TileBackend, requested: "auto" | "webgpu", private opts: WebGpuBackendOptions = {}) {
    this.#report = {
      requested,
      state: "starting",
      using: cpu.name,
      pipelinesCompiled: 0,
      pipelinesTotal: ALL_ENTRY_POINTS.length,
      jobs: 0,
      submissions: 0,
      largestBatch: 0,
      fallbacks: 0,
      failures: 0,
      deviceRecreations: 0,
      gpuKernels: [],
    };
    this.started = this.#start();
  }

  /** The backend computing ops now: `webgpu`, or the CPU backend's name. */
  get name(): "webgpu" | "workers" | "inline" {
    return this.#useGpu ? "webgpu" : this.cpu.name as "workers" | "inline";
  }

  get pending(): number {
    return this.cpu.pending + (this.#executor?.pending ?? 0);
  }

  /** Start-up progress, the choice and the GPU's counters (for /health, /ready and /metrics). */
  report(): GpuReport {
    const c = this.#executor?.counters;
    return {
      ...this.#report,
      using: this.name,
      jobs: this.#report.jobs + (c?.jobs ?? 0),
      submissions: this.#report.submissions + (c?.submissions ?? 0),
      largestBatch: Math.max(this.#report.largestBatch, c?.largestBatch ?? 0),
    };
  }

  async #start(): Promise<void> {
    if (this.#report.requested === "auto" && !this.opts.measureSoftware) {
      const adapter = await (navigator as Navigator & { gpu?: GPU }).gpu?.requestAdapter().catch(() => null);
      if (adapter?.info.isFallbackAdapter) {
        const name = adapter.info.description || adapter.info.vendor;
        this.#report.adapter = name;
        this.#report.softwareAdapter = true;
        this.#report.reason = `the only WebGPU adapter is a software one (${name}): the ${this.cpu.name} are ` +
          `faster; EDGETILE_GPU_SOFTWARE=measure times it anyway`;
        this.#report.state = "ready";
        log().info(`backend auto: ${this.cpu.name} (${this.#report.reason})`);
        return;
      }
    }
    const executor = await this.#createChecked();
    if (!executor) return;
    let kernels: string[] = [...OP_KERNELS];
    if (this.#report.requested === "auto") {
      this.#report.state = "measuring";
      const measured = await this.#measure(executor);
      this.#report.measured = measured;
      kernels = OP_KERNELS.filter((k) => {
        const m = measured.kernels[k];
        return m !== undefined && m.webgpu > m.cpu;
      });
      const each = OP_KERNELS.map((k) => {
        const m = measured.kernels[k]!;
        return `${k} ${m.webgpu.toFixed(0)}/${m.cpu.toFixed(0)}`;
      }).join(", ");
      if (!kernels.length) {
        this.#report.reason = `the ${measured.cpuBackend} were faster for every kernel on the sample batch`;
        this.#report.state = "ready";
        this.#retire(executor);
        log().info(
          `backend auto: ${measured.cpuBackend} for every op (jobs/s webgpu/${measured.cpuBackend}: ${each} ` +
            `on ${executor.adapterName})`,
        );
        return;
      }
      log().info(
        `backend auto: webgpu on ${executor.adapterName} for ${kernels.join(", ")}, the ${measured.cpuBackend} ` +
          `for the rest (jobs/s webgpu/${measured.cpuBackend}: ${each})`,
      );
    }
    if (this.#closed) return this.#retire(executor);
    this.#executor = executor;
    this.#gpuKernels = new Set(kernels);
    this.#report.gpuKernels = kernels;
    this.#useGpu = true;
    this.#report.state = "ready";
  }

  /** A new executor that passed the self-test, or null (the reason in the report). */
  async #createChecked(): Promise<GpuExecutor | null> {
    let executor: GpuExecutor | null = null;
    try {
      executor = await GpuExecutor.create({
        ...this.opts.executor,
        onProgress: (done, total) => {
          this.#report.pipelinesCompiled = done;
          this.#report.pipelinesTotal = total;
        },
      });
    } catch (err) {
      return this.#unavailable(`WebGPU device creation failed: ${(err as Error).message}`);
    }
    if (!executor) return this.#unavailable("no WebGPU adapter (navigator.gpu.requestAdapter() gave null)");
    this.#report.adapter = executor.adapterName;
    this.#report.softwareAdapter = executor.software;
    const mismatch = await selfTest(executor).catch((err) => `GPU error in the self-test: ${err.message}`);
    if (mismatch || this.#closed) {
      this.#retire(executor);
      return mismatch ? this.#unavailable(mismatch) : null;
    }
    return executor;
  }

  #unavailable(reason: string): null {
    this.#report.state = "unavailable";
    this.#report.reason = reason;
    log().write(
      this.#report.requested === "webgpu" ? "error" : "info",
      `WebGPU backend: ${reason}; ops run on the ${this.cpu.name}`,
    );
    return null;
  }

  /**
   * Jobs per second of the GPU and of the CPU backend on the same sample batch (best of two rounds), for
   * each op kernel alone — as a tile server sees them: one kernel's tiles arriving together.
   */
  async #measure(executor: GpuExecutor): Promise<NonNullable<GpuReport["measured"]>> {
    const jobs = sampleJobs(this.opts.sampleTiles ?? 8);
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
      const cpu = await rate(some, (job) => this.cpu.run(undefined, { kind: "kernel", job }));
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
      cpuBackend: this.cpu.name,
      kernels,
    };
  }

  async run<K extends Task["kind"]>(
    source: SourceDescriptor | undefined,
    task: Extract<Task, { kind: K }>,
    signal?: AbortSignal,
    affinity?: number,
  ): Promise<TaskResults[K]> {
    const t = task as Task;
    if (t.kind === "stats" && this.#onGpu("mask")) return await this.#stats(source, t.plane) as TaskResults[K];
    const opKernel = t.kind === "tile" ? opKernelName(t.request.op) : null;
    const gpuBlend = t.kind === "tile" && !!t.request.render && this.#blendOnGpu(opKernel);
    if (t.kind !== "tile" || (!this.#onGpu(opKernel) && !gpuBlend)) {
      const result = await this.cpu.run(source, task, signal, affinity);
      return (t.kind === "tile" ? tagged(result as RenderedTile, this.cpu.name) : result) as TaskResults[K];
    }
    const request = t.request;
    const prepared = await this.cpu.run(
      source,
      { kind: "tile-input", request, deferBlend: gpuBlend },
      signal,
      affinity,
    );
    if ("tile" in prepared) return tagged(prepared.tile, this.cpu.name) as TaskResults[K];
    const { valid, blend, input: staged, ...stage } = prepared.stage;
    let input = staged;
    const t0 = performance.now();
    let by = this.cpu.name as string;
    if (blend) {
      // The render's blend on the GPU: the channels' intensities → RGB, the op's input.
      const blended = await this.#kernel({ kernel: "blend", input, palette: blend.palette });
      [input, by] = [blended.result as Raster8, blended.by];
    }
    const job = opJob(request.op, input, valid);
    let output: OpOutput;
    if (job) {
      const ran = await this.#kernel(job);
      [output, by] = [opOutput(request.op, job, ran.result), ran.by];
    } else output = applyOp(request.op, input, valid);
    stage.timings.op = performance.now() - t0;
    const tile = await this.cpu.run(undefined, { kind: "tile-finish", request, stage, output });
    return tagged(tile, by) as TaskResults[K];
  }

  /**
   * True when the render step's blend runs on the GPU: with the op's kernel when that runs there; for ops
   * without a kernel (`none`), when the GPU runs every op kernel (`webgpu`, or `auto` where it won them all).
   */
  #blendOnGpu(opKernel: string | null): boolean {
    return opKernel ? this.#onGpu(opKernel) : this.#useGpu && OP_KERNELS.every((k) => this.#gpuKernels.has(k));
  }

  /** True when the GPU is in use and runs `kernel`. */
  #onGpu(kernel: string | null): boolean {
    return this.#useGpu && kernel !== null && this.#gpuKernels.has(kernel);
  }

  /**
   * Image statistics with the stats level's kernels on the GPU: luma and median-filtered saturation, their
   * histograms (atomics), then threshold + close for the tissue map; reading, percentiles and the PNG on
   * the CPU backend.
   */
  async #stats(source: SourceDescriptor | undefined, plane?: StatsPlane): Promise<ComputedStats> {
    const { px, luma, ...input } = await this.cpu.run(source, { kind: "stats-input", ...(plane ? { plane } : {}) });
    const kernels = await statsKernels(px, luma, async (job) => (await this.#kernel(job)).result);
    return await this.cpu.run(undefined, { kind: "stats-finish", input, kernels });
  }

  /** A job on the GPU, or on the CPU backend when the GPU fails or is being recreated. */
  async #kernel(job: KernelJob): Promise<{ result: KernelResult; by: string }> {
    const executor = this.#executor;
    if (executor) {
      try {
        return { result: await executor.run(job), by: "webgpu" };
      } catch (err) {
        if (!(err instanceof GpuFailure)) throw err;
        this.#onFailure(executor, err);
      }
    }
    this.#report.fallbacks++;
    return { result: await this.cpu.run(undefined, { kind: "kernel", job }), by: this.cpu.name };
  }

  /** Logs and counts a failure once per executor, retires the executor, recreates one in the background. */
  #onFailure(executor: GpuExecutor, err: GpuFailure) {
    if (this.#executor !== executor) return;
    this.#executor = null;
    this.#report.failures++;
    log().error(`WebGPU backend: ${err.message}; ops run on the ${this.cpu.name} while the device is recreated`);
    this.#retire(executor);
    this.#recreating ??= this.#recreate().finally(() => (this.#recreating = null));
  }

  async #recreate(): Promise<void> {
    let delay = this.opts.recreateDelayMs ?? 1000;
    while (!this.#closed) {
      await new Promise((r) => setTimeout(r, delay));
      if (this.#closed) return;
      const executor = await this.#createChecked();
      if (executor) {
        if (this.#closed) return this.#retire(executor);
        this.#report.deviceRecreations++;
        this.#report.state = "ready";
        this.#report.reason = undefined;
        this.#executor = executor;
        log().warn(`WebGPU backend: device recreated on ${executor.adapterName}`);
        return;
      }
      delay = Math.min(delay * 2, 60_000);
    }
  }

  /** Keeps an executor's counters in the report, then releases its device. */
  #retire(executor: GpuExecutor) {
    const c = executor.counters;
    this.#report.jobs += c.jobs;
    this.#report.submissions += c.submissions;
    this.#report.largestBatch = Math.max(this.#report.largestBatch, c.largestBatch);
    try {
      executor.close();
    } catch { /* already gone */ }
  }

  /** Destroys the current device (tests of the fallback only). */
  loseDevice(): void {
    this.#executor?.loseDevice();
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.started.catch(() => {});
    await this.#recreating?.catch(() => {});
    const executor = this.#executor;
    this.#executor = null;
    this.#useGpu = false;
    if (executor) this.#retire(executor);
    await this.cpu.close();
  }
}

/** The tile as `by` computed it (answered as `X-Backend`, kept with the cached tile). */
function tagged(tile: RenderedTile, by: string): RenderedTile {
  return { ...tile, notes: { ...tile.notes, backend: by } };
}

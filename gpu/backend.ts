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
import { GpuExecutor, GpuFailure } from "./executor.ts";
import type { KernelJob, KernelResult } from "../kernels/kernel.ts";
import { applyOp, OP_KERNELS, opJob, opKernelName, opOutput } from "../kernels/index.ts";
import type { OpOutput } from "../kernels/op.ts";
import type { Raster8 } from "../core/raster.ts";
import { selfTest } from "./self_test.ts";
import {
  type GpuReport,
  initialReport,
  kernelsWon,
  measuredText,
  measureKernels,
  taggedBy,
  type WebGpuBackendOptions,
} from "./report.ts";
import { statsKernels } from "../stats/compute.ts";
import type { ComputedStats, StatsPlane } from "../core/image_stats.ts";
import { log } from "../telemetry/log.ts";

/** True where this runtime exposes WebGPU (`navigator.gpu`); an adapter may still be missing. */
export function webGpuExposed(): boolean {
  return typeof (navigator as Navigator & { gpu?: GPU }).gpu !== "undefined";
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
    this.#report = initialReport(requested, cpu.name);
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
      const measured = await measureKernels(this.cpu, this.opts.sampleTiles ?? 8, executor);
      this.#report.measured = measured;
      kernels = kernelsWon(measured);
      const each = measuredText(measured);
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
      return (t.kind === "tile" ? taggedBy(result as RenderedTile, this.cpu.name) : result) as TaskResults[K];
    }
    const request = t.request;
    const prepared = await this.cpu.run(
      source,
      { kind: "tile-input", request, deferBlend: gpuBlend },
      signal,
      affinity,
    );
    if ("tile" in prepared) return taggedBy(prepared.tile, this.cpu.name) as TaskResults[K];
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
    return taggedBy(tile, by) as TaskResults[K];
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

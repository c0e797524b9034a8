/**
 * The WebGPU executor: one device, every pipeline compiled once at start-up, reusable buffer sets, and
 * dynamic batching — the jobs that arrive while a batch is on the GPU go together into the next one:
 * one `writeBuffer` per buffer, one compute pass, one submit and one `mapAsync` readback (each `mapAsync`
 * costs ≥ 10 ms in Deno, so one per tile would cap a device near 100 tiles/s). When idle, a job starts
 * at once; under load the batch grows up to `maxBatchJobs`.
 *
 * Any GPU error (validation, out of memory, a lost device, a batch past its time limit) rejects the
 * batch's jobs with `GpuFailure`; the backend retries them on the CPU and recreates the executor.
 */
import { compilePipelines } from "./shaders.ts";
import { bindGroupOf, BufferSets, layoutBatch, uploadBatch } from "./batch.ts";
import type { Kernel, KernelJob, KernelPlan, KernelResult } from "../kernels/kernel.ts";
import { KERNELS } from "../kernels/index.ts";

/** A job the GPU could not run (the caller falls back to the CPU). */
export class GpuFailure extends Error {
  override name = "GpuFailure";
}

/** Tuning of the executor. */
export interface GpuExecutorOptions {
  /** The kernels it compiles and runs (default: the registry's; a test adds its own). */
  kernels?: Iterable<Kernel>;
  /** Most jobs in one submission. */
  maxBatchJobs?: number;
  /** Most bytes of buffers (input + scratch + output) one submission may use. */
  maxBatchBytes?: number;
  /** Submissions on the GPU at once. */
  maxInFlight?: number;
  /** A batch that has not been read back after this long counts as a GPU failure. */
  batchTimeoutMs?: number;
  /** Called as pipelines compile: (compiled, total). */
  onProgress?: (done: number, total: number) => void;
  /** Measure each batch's compute pass with timestamp queries where the adapter has them (benchmarks). */
  timestamps?: boolean;
}

/** Counters of the executor's work. */
export interface GpuCounters {
  jobs: number;
  submissions: number;
  largestBatch: number;
  failedBatches: number;
  /** GPU nanoseconds of the compute passes (only with `timestamps` on an adapter that has them). */
  gpuNanoseconds: number;
}

interface Pending {
  job: KernelJob;
  kernel: Kernel;
  plan: KernelPlan;
  bytes: number;
  resolve: (r: KernelResult) => void;
  reject: (e: Error) => void;
}

const WORKGROUP = 64;
const MAX_GROUPS_X = 65535;

/** A WebGPU device with the kernels of kernels/*.wgsl, running batched jobs. */
export class GpuExecutor {
  readonly counters: GpuCounters = {
    jobs: 0,
    submissions: 0,
    largestBatch: 0,
    failedBatches: 0,
    gpuNanoseconds: 0,
  };
  readonly maxBatchJobs: number;
  readonly maxBatchBytes: number;
  readonly maxInFlight: number;
  readonly batchTimeoutMs: number;
  #queue: Pending[] = [];
  #inFlight = 0;
  #sets: BufferSets;
  #failed: string | null = null;
  #align: number;
  #maxBinding: number;
  #queries: { set: GPUQuerySet; resolve: GPUBuffer } | null = null;

  private constructor(
    readonly device: GPUDevice,
    /** The adapter's description, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
    readonly adapterName: string,
    /** True for a software (fallback) adapter. */
    readonly software: boolean,
    private layout: GPUBindGroupLayout,
    private pipelines: Map<string, GPUComputePipeline>,
    private kernels: Map<string, Kernel>,
    opts: GpuExecutorOptions,
  ) {
    this.maxBatchJobs = opts.maxBatchJobs ?? 64;
    this.maxBatchBytes = opts.maxBatchBytes ?? 96 * 2 ** 20;
    this.maxInFlight = opts.maxInFlight ?? 2;
    this.batchTimeoutMs = opts.batchTimeoutMs ?? 10_000;
    this.#align = Math.max(
      256,
      device.limits.minStorageBufferOffsetAlignment,
      device.limits.minUniformBufferOffsetAlignment,
    );
    this.#maxBinding = device.limits.maxStorageBufferBindingSize;
    this.#sets = new BufferSets(device, this.#align);
    device.lost.then((info) => this.#fail(`device lost (${info.reason}): ${info.message}`));
    if (opts.timestamps && device.features.has("timestamp-query")) {
      this.#queries = {
        set: device.createQuerySet({ type: "timestamp", count: 2 }),
        resolve: device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC }),
      };
    }
  }

  /** A new executor with every pipeline compiled, or null where this runtime has no WebGPU adapter. */
  static async create(opts: GpuExecutorOptions = {}): Promise<GpuExecutor | null> {
    const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
    const adapter = gpu ? await gpu.requestAdapter() : null;
    if (!adapter) return null;
    const timestamps = opts.timestamps && adapter.features.has("timestamp-query");
    const device = await adapter.requestDevice(timestamps ? { requiredFeatures: ["timestamp-query"] } : {});
    const storage = (binding: number, type: GPUBufferBindingType): GPUBindGroupLayoutEntry => ({
      binding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type },
    });
    const layout = device.createBindGroupLayout({
      entries: [
        storage(0, "uniform"),
        storage(1, "read-only-storage"),
        storage(2, "storage"),
        storage(3, "storage"),
        storage(4, "storage"),
        storage(5, "read-only-storage"),
      ],
    });
    const kernels = [...(opts.kernels ?? KERNELS.values())];
    const pipelines = await compilePipelines(device, layout, kernels, opts.onProgress);
    const info = adapter.info;
    const byName = new Map(kernels.map((k) => [k.name, k]));
    return new GpuExecutor(
      device,
      info.description || info.vendor,
      info.isFallbackAdapter,
      layout,
      pipelines,
      byName,
      opts,
    );
  }

  /** Why the executor stopped working, or null while it works. */
  get failure(): string | null {
    return this.#failed;
  }

  /** Jobs queued or on the GPU. */
  get pending(): number {
    return this.#queue.length + this.#inFlight;
  }

  /** Runs a job in the next batch. Rejects with `GpuFailure` on any GPU error. */
  run(job: KernelJob): Promise<KernelResult> {
    if (this.#failed) return Promise.reject(new GpuFailure(this.#failed));
    const kernel = this.kernels.get(job.kernel);
    if (!kernel) return Promise.reject(new GpuFailure(`no kernel "${job.kernel}" on this executor`));
    const plan = kernel.plan(job);
    const bytes = job.input.data.length + 2 * plan.planeBytes + plan.outBytes;
    if (Math.max(job.input.data.length, plan.planeBytes, plan.outBytes) + 4 > this.#maxBinding) {
      return Promise.reject(
        new GpuFailure(`a ${job.input.width}×${job.input.height} job exceeds the device's binding size`),
      );
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ job, kernel, plan, bytes, resolve, reject });
      this.#pump();
    });
  }

  /** Starts batches: at once when the GPU is idle, else when the in-flight batch is read back (or a batch is full). */
  #pump() {
    while (this.#queue.length && this.#inFlight < this.maxInFlight && !this.#failed) {
      if (this.#inFlight > 0 && this.#queue.length < this.maxBatchJobs) return;
      const batch: Pending[] = [];
      let bytes = 0;
      while (this.#queue.length && batch.length < this.maxBatchJobs) {
        const next = this.#queue[0];
        if (batch.length && bytes + next.bytes > this.maxBatchBytes) break;
        batch.push(this.#queue.shift()!);
        bytes += next.bytes;
      }
      this.#inFlight++;
      this.#runBatch(batch)
        .catch((err) => {
          this.counters.failedBatches++;
          const e = err instanceof GpuFailure ? err : new GpuFailure(String(err?.message ?? err));
          for (const p of batch) p.reject(e);
          // Any GPU error retires the executor: its owner recreates the device.
          this.#fail(e.message);
        })
        .finally(() => {
          this.#inFlight--;
          this.#pump();
        });
    }
  }

  async #runBatch(batch: Pending[]): Promise<void> {
    const { sizes, at } = layoutBatch(batch, this.#align);
    const set = this.#sets.acquire(sizes);
    const device = this.device;
    try {
      device.pushErrorScope("out-of-memory");
      device.pushErrorScope("validation");
      uploadBatch(device, set, batch, at, sizes);
      const encoder = device.createCommandEncoder();
      batch.forEach(({ plan }, i) => {
        if (plan.clearOutput) encoder.clearBuffer(set.output, at[i].output, at[i].outBytes);
      });
      const q = this.#queries;
      const pass = encoder.beginComputePass(
        q ? { timestampWrites: { querySet: q.set, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {},
      );
      batch.forEach(({ plan }, i) => {
        const o = at[i];
        const bind = bindGroupOf(device, this.layout, set, o, plan, this.#align);
        pass.setBindGroup(0, bind);
        for (const step of plan.passes) {
          pass.setPipeline(this.pipelines.get(step.entry)!);
          const groups = Math.max(1, Math.ceil(step.items / WORKGROUP));
          const gx = Math.min(groups, MAX_GROUPS_X);
          pass.dispatchWorkgroups(gx, Math.ceil(groups / gx));
        }
      });
      pass.end();
      if (q) {
        encoder.resolveQuerySet(q.set, 0, 2, q.resolve, 0);
        encoder.copyBufferToBuffer(q.resolve, 0, set.output, 0, 16);
      }
      encoder.copyBufferToBuffer(set.output, 0, set.readback, 0, sizes.output);
      device.queue.submit([encoder.finish()]);
      this.counters.submissions++;
      this.counters.jobs += batch.length;
      this.counters.largestBatch = Math.max(this.counters.largestBatch, batch.length);
      const errors = Promise.all([device.popErrorScope(), device.popErrorScope()]);
      const mapped = set.readback.mapAsync(GPUMapMode.READ, 0, sizes.output);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new GpuFailure(`a batch took longer than ${this.batchTimeoutMs} ms`)),
          this.batchTimeoutMs,
        );
      });
      try {
        const [validation, memory] = await Promise.race([errors, timeout]);
        const error = validation ?? memory;
        if (error) throw new GpuFailure(`GPU error: ${error.message}`);
        await Promise.race([mapped, timeout]);
      } finally {
        clearTimeout(timer);
        mapped.catch(() => {});
      }
      if (this.#failed) throw new GpuFailure(this.#failed);
      const bytes = new Uint8Array(set.readback.getMappedRange(0, sizes.output));
      if (q) {
        const [begin, end] = new BigUint64Array(bytes.buffer, 0, 2);
        if (end > begin) this.counters.gpuNanoseconds += Number(end - begin);
      }
      batch.forEach((p, i) => {
        const out = bytes.slice(at[i].output, at[i].output + p.plan.outBytes);
        const shape = p.plan.outShape;
        p.resolve(shape ? { ...shape, type: "uint8", data: out } : new Uint32Array(out.buffer));
      });
      set.readback.unmap();
      this.#sets.release(set);
    } catch (err) {
      // A failed batch's buffers may be mapped or in an unknown state: drop them.
      this.#sets.destroy(set);
      if (!(err instanceof GpuFailure)) throw new GpuFailure(`GPU error: ${(err as Error)?.message ?? err}`);
      throw err;
    }
  }

  #fail(reason: string) {
    if (this.#failed) return;
    this.#failed = reason;
    const queued = this.#queue.splice(0);
    for (const p of queued) p.reject(new GpuFailure(reason));
  }

  /** Destroys the device, as a driver reset would (tests of the fallback only). */
  loseDevice(): void {
    this.device.destroy();
  }

  /** Releases the device; queued jobs are rejected. */
  close(): void {
    this.#fail("executor closed");
    this.#sets.clear();
    this.device.destroy();
  }
}

/**
 * A batch of kernel jobs in shared GPU buffers: where each job's input, scratch planes, output, parameters
 * and palette lie (each region aligned for binding), their upload in one write a buffer, each job's bind
 * group over its regions, and the buffer sets kept between batches (grown by powers of two).
 */
import type { Kernel, KernelJob, KernelPlan } from "../kernels/kernel.ts";
import { jobParams, packPalette, PARAMS_BYTES } from "./uniforms.ts";

/** Bytes of each shared buffer a batch needs. */
export interface Sizes {
  input: number;
  planes: number;
  output: number;
  uniforms: number;
  palettes: number;
}

/** One set of shared buffers (the readback buffer mirrors the output). */
export interface BufferSet {
  input: GPUBuffer;
  planes: GPUBuffer;
  output: GPUBuffer;
  readback: GPUBuffer;
  uniforms: GPUBuffer;
  palettes: GPUBuffer;
  sizes: Sizes;
}

/** Where one job's regions start, their sizes, and its packed palette. */
export interface JobRegions extends Sizes {
  inBytes: number;
  outBytes: number;
  palette: Uint32Array;
}

/** Scratch-plane bytes reserved at the start of every plane buffer for jobs without planes. */
const DUMMY_PLANES = 512;

const up = (n: number, a: number) => Math.ceil(n / a) * a;

/** The regions of every job of `batch` and the buffer sizes they add up to (the output's first 256 bytes: timestamps). */
export function layoutBatch(
  batch: { job: KernelJob; plan: KernelPlan }[],
  a: number,
): { sizes: Sizes; at: JobRegions[] } {
  const sizes: Sizes = { input: 0, planes: DUMMY_PLANES, output: 256, uniforms: 0, palettes: 0 };
  const at = batch.map(({ job, plan }) => {
    const o = {
      ...sizes,
      inBytes: up(job.input.data.length, 4),
      outBytes: up(plan.outBytes, 4),
      palette: packPalette(job.palette),
    };
    sizes.input += up(o.inBytes, a);
    sizes.planes += up(2 * plan.planeBytes, a);
    sizes.output += up(o.outBytes, a);
    sizes.uniforms += up(PARAMS_BYTES, a);
    sizes.palettes += up(o.palette.byteLength, a);
    return o;
  });
  return { sizes, at };
}

/** Stages every job's input, parameters and palette, then uploads each buffer once. */
export function uploadBatch(
  device: GPUDevice,
  set: BufferSet,
  batch: { job: KernelJob; kernel: Kernel }[],
  at: JobRegions[],
  sizes: Sizes,
): void {
  const input = new Uint8Array(sizes.input), uniforms = new Uint8Array(sizes.uniforms);
  const palettes = new Uint8Array(sizes.palettes);
  batch.forEach(({ job, kernel }, i) => {
    input.set(job.input.data, at[i].input);
    uniforms.set(new Uint8Array(jobParams(job, kernel).buffer), at[i].uniforms);
    palettes.set(new Uint8Array(at[i].palette.buffer), at[i].palettes);
  });
  device.queue.writeBuffer(set.input, 0, input);
  device.queue.writeBuffer(set.uniforms, 0, uniforms);
  device.queue.writeBuffer(set.palettes, 0, palettes);
}

/** The bind group of one job over its regions (bindings as kernels/common.wgsl declares them). */
export function bindGroupOf(
  device: GPUDevice,
  layout: GPUBindGroupLayout,
  set: BufferSet,
  o: JobRegions,
  plan: KernelPlan,
  a: number,
): GPUBindGroup {
  const planeBytes = plan.planeBytes || 4;
  return device.createBindGroup({
    layout,
    entries: [
      { binding: 0, resource: { buffer: set.uniforms, offset: o.uniforms, size: PARAMS_BYTES } },
      { binding: 1, resource: { buffer: set.input, offset: o.input, size: o.inBytes } },
      { binding: 2, resource: { buffer: set.planes, offset: plan.planeBytes ? o.planes : 0, size: planeBytes } },
      {
        binding: 3,
        resource: {
          buffer: set.planes,
          offset: plan.planeBytes ? o.planes + up(plan.planeBytes, a) : a,
          size: planeBytes,
        },
      },
      { binding: 4, resource: { buffer: set.output, offset: o.output, size: o.outBytes } },
      { binding: 5, resource: { buffer: set.palettes, offset: o.palettes, size: o.palette.byteLength } },
    ],
  });
}

/** The buffer sets of one device kept between batches. */
export class BufferSets {
  #free: BufferSet[] = [];
  constructor(private device: GPUDevice, private align: number) {}

  /** A free set at least as large as `need`, or a new one (replacing the smallest free set, if any). */
  acquire(need: Sizes): BufferSet {
    const fits = (s: BufferSet) => (Object.keys(need) as (keyof Sizes)[]).every((k) => s.sizes[k] >= need[k]);
    const i = this.#free.findIndex(fits);
    if (i >= 0) return this.#free.splice(i, 1)[0];
    const old = this.#free.shift();
    const sizes = {} as Sizes;
    for (const k of Object.keys(need) as (keyof Sizes)[]) {
      sizes[k] = Math.max(old?.sizes[k] ?? 0, 2 ** Math.ceil(Math.log2(Math.max(need[k], this.align))));
    }
    if (old) this.destroy(old);
    const d = this.device, U = GPUBufferUsage;
    return {
      sizes,
      input: d.createBuffer({ size: sizes.input, usage: U.STORAGE | U.COPY_DST }),
      planes: d.createBuffer({ size: sizes.planes, usage: U.STORAGE }),
      output: d.createBuffer({ size: sizes.output, usage: U.STORAGE | U.COPY_SRC | U.COPY_DST }),
      readback: d.createBuffer({ size: sizes.output, usage: U.MAP_READ | U.COPY_DST }),
      uniforms: d.createBuffer({ size: sizes.uniforms, usage: U.UNIFORM | U.COPY_DST }),
      palettes: d.createBuffer({ size: sizes.palettes, usage: U.STORAGE | U.COPY_DST }),
    };
  }

  /** A set whose batch finished, kept for the next. */
  release(set: BufferSet): void {
    this.#free.push(set);
  }

  /** Destroys a set (a failed batch's, whose buffers may be mapped or in an unknown state). */
  destroy(s: BufferSet): void {
    for (const b of [s.input, s.planes, s.output, s.readback, s.uniforms, s.palettes]) b.destroy();
  }

  /** Destroys every free set. */
  clear(): void {
    for (const s of this.#free.splice(0)) this.destroy(s);
  }
}

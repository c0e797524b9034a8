/**
 * The WebGPU backend's start-up checks: the sample batch `auto` times the GPU and the CPU backend on
 * (synthetic tissue-like tiles × each op kernel), and the self-test that compares every kernel of the
 * registry with its CPU definition before the GPU is used. Both take each kernel's own example job.
 */
import type { GpuExecutor } from "./executor.ts";
import type { Kernel, KernelJob, KernelResult } from "../kernels/kernel.ts";
import { KERNELS, OP_KERNELS } from "../kernels/index.ts";

/** Side of the sample tiles (a 256-px tile with the mask's halo). */
export const SAMPLE_SIDE = 270;

/** Deterministic tissue-like RGB tiles (pink blobs with texture on white) and the op kernels to run on them. */
export function sampleJobs(tiles: number, side = SAMPLE_SIDE): KernelJob[] {
  const jobs: KernelJob[] = [];
  let seed = 12345;
  for (let t = 0; t < tiles; t++) {
    const data = new Uint8Array(side * side * 3);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        const noise = (seed >>> 24) & 31;
        const tissue = Math.sin((x + 37 * t) / 23) * Math.sin(y / 31) > 0.2;
        const i = (y * side + x) * 3;
        data[i] = tissue ? 200 + (noise >> 1) : 240 + (noise >> 3);
        data[i + 1] = tissue ? 110 + noise : 238 + (noise >> 3);
        data[i + 2] = tissue ? 170 + noise : 236 + (noise >> 3);
      }
    }
    const input = { width: side, height: side, channels: 3, type: "uint8" as const, data };
    const valid = { x: 0, y: 0, w: side, h: side };
    for (const name of OP_KERNELS) jobs.push(KERNELS.get(name)!.example(input, valid));
  }
  return jobs;
}

/**
 * Every kernel once on small inputs of every channel count, compared with its CPU definition; the first
 * mismatch as a message, or null. It also makes software adapters compile each shader before real work.
 */
export async function selfTest(
  executor: GpuExecutor,
  kernels: Iterable<Kernel> = KERNELS.values(),
): Promise<string | null> {
  const jobs: KernelJob[] = [], cpu: Kernel[] = [];
  let seed = 7;
  for (const channels of [1, 2, 3, 4]) {
    const width = 19, height = 13;
    const data = new Uint8Array(width * height * channels);
    for (let i = 0; i < data.length; i++) data[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    const input = { width, height, channels, type: "uint8" as const, data };
    const valid = { x: 1, y: 2, w: 16, h: 9 };
    for (const kernel of kernels) (jobs.push(kernel.example(input, valid)), cpu.push(kernel));
  }
  const results = await Promise.all(jobs.map((j) => executor.run(j)));
  for (let i = 0; i < jobs.length; i++) {
    if (!sameResult(results[i], cpu[i].cpu(jobs[i]))) {
      return `self-test: the GPU's ${jobs[i].kernel} differs from the CPU's on ${jobs[i].input.channels}-channel input`;
    }
  }
  return null;
}

/** True when two results have the same shape and bytes. */
export function sameResult(a: KernelResult, b: KernelResult): boolean {
  const da = a instanceof Uint32Array ? a : a.data, db = b instanceof Uint32Array ? b : b.data;
  if (da.length !== db.length || da.constructor !== db.constructor) return false;
  if (!(a instanceof Uint32Array) && !(b instanceof Uint32Array)) {
    if (a.width !== b.width || a.height !== b.height || a.channels !== b.channels) return false;
  }
  for (let i = 0; i < da.length; i++) if (da[i] !== db[i]) return false;
  return true;
}

/**
 * Ops on the GPU: which GPU job computes an op's kernel on its 8-bit input, and how the job's result
 * becomes the op's output. `none` has no kernel (its tiles never leave the workers).
 */
import type { OpOutput } from "../kernels/op.ts";
import { resolvedPalette } from "../kernels/quantize.ts";
import type { OpSpec } from "../pipeline/tile_request.ts";
import type { TileInput } from "../pipeline/render.ts";
import type { Raster8 } from "../core/raster.ts";
import type { GpuJob, GpuKernel, GpuResult } from "./kernels.ts";

/** The GPU kernel that computes `op`, or null when it has none. */
export function gpuKernelOf(op: OpSpec): GpuKernel | null {
  switch (op.name) {
    case "gray":
    case "threshold":
    case "mask":
      return op.name;
    case "quantize":
      return op.params.levels !== undefined ? "levels" : "palette";
  }
  return null;
}

/** The GPU job computing `op` on a prepared tile. */
export function gpuJobFor(op: OpSpec, stage: TileInput): GpuJob {
  const input = stage.input, p = op.params;
  switch (op.name) {
    case "gray":
      return { kernel: "gray", input };
    case "threshold":
      return { kernel: "threshold", input, t: resolvedT(p), invert: !!p.invert };
    case "mask":
      return { kernel: "mask", input, t: resolvedT(p), valid: stage.valid };
    case "quantize":
      return p.levels !== undefined
        ? { kernel: "levels", input, levels: Number(p.levels) }
        : { kernel: "palette", input, palette: resolvedPalette(p) };
  }
  throw new Error(`op ${op.name} has no GPU kernel`);
}

/** The op's output from its job's result (what the op's CPU `apply` returns for the same input). */
export function opOutputFrom(op: OpSpec, job: GpuJob, result: GpuResult): OpOutput {
  const raster = result as Raster8;
  switch (op.name) {
    case "threshold":
    case "mask":
      return { raster, pngBitDepth: 1 };
    case "quantize":
      return job.palette ? { raster, palette: job.palette } : { raster };
    default:
      return { raster };
  }
}

function resolvedT(params: OpSpec["params"]): number {
  const t = Number(params.t);
  if (!Number.isInteger(t)) throw new Error("t must be resolved before the kernel runs");
  return t;
}

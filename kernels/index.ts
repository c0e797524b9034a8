/**
 * The op registry: every op the pipeline can run, by name, and every kernel they declare (with the
 * support kernels of the image statistics and derived levels). The pipeline, both backends, the GPU
 * executor and its self-test iterate over these lists; adding an op is its own module and one line here.
 */
import { badRequest } from "../errors.ts";
import type { OpArgs, OpSpec } from "./op.ts";
import type { Rect } from "../core/rect.ts";
import type { Raster8 } from "../core/raster.ts";
import { grayOp } from "./gray.ts";
import { noneOp } from "./none.ts";
import { thresholdOp } from "./threshold.ts";
import { maskOp } from "./mask.ts";
import { quantizeOp } from "./quantize.ts";
import { sobelOp } from "./sobel.ts";
import { BLEND_KERNEL } from "./blend.ts";
import { DOWNSAMPLE2X_KERNEL } from "./downsample2x.ts";
import { HISTOGRAM_KERNEL } from "./histogram.ts";
import type { Kernel, KernelJob, KernelResult } from "./kernel.ts";
import type { OpOutput, StatsProvider, TileOp } from "./op.ts";

/** Ops by name. */
export const OPS: ReadonlyMap<string, TileOp> = new Map(
  [noneOp, grayOp, thresholdOp, maskOp, quantizeOp, sobelOp].map((op) => [op.name, op]),
);

/** Every kernel by name: the ops' (in op order), then the support kernels no op declares. */
export const KERNELS: ReadonlyMap<string, Kernel> = new Map(
  [...[...OPS.values()].flatMap((op) => op.kernels ?? []), DOWNSAMPLE2X_KERNEL, HISTOGRAM_KERNEL, BLEND_KERNEL]
    .map((k) => [k.name, k]),
);

/** The kernels that compute tile ops (what `auto` measures and routes one by one). */
export const OP_KERNELS: readonly string[] = [...KERNELS.values()].filter((k) => k.role === "op").map((k) => k.name);

/** The op for a name; 400 for unknown ones. */
export function getOp(name: string): TileOp {
  const op = OPS.get(name);
  if (!op) throw badRequest(`unknown op "${name}" (op must be one of: ${[...OPS.keys()].join(", ")})`);
  return op;
}

/** The kernel for a name (a programming error when unknown). */
export function kernelNamed(name: string): Kernel {
  const k = KERNELS.get(name);
  if (!k) throw new Error(`no kernel "${name}"`);
  return k;
}

/** The result of `job` on the CPU: its kernel's definition (the fallback and the reference of the GPU). */
export function runOnCpu(job: KernelJob): KernelResult {
  return kernelNamed(job.kernel).cpu(job);
}

/** The op `name` with its parameters parsed from `args` (400 for an unknown op or a bad parameter). */
export function opSpecOf(name: string, args: OpArgs): OpSpec {
  const op = getOp(name);
  return { name: op.name, params: op.parse(args) };
}

/** The op with its global parameters (`t=otsu`, `palette=K`, `rescale=auto`) replaced by their values. */
export async function resolveOpSpec(spec: OpSpec, stats: StatsProvider): Promise<OpSpec> {
  const op = getOp(spec.name);
  return op.resolve ? { name: spec.name, params: await op.resolve(spec.params, stats) } : spec;
}

/** The kernel computing a (resolved) op, or null for ops without one. */
export function opKernelName(spec: OpSpec): string | null {
  return getOp(spec.name).kernelJob?.(spec.params).kernel ?? null;
}

/** The job computing a (resolved) op on its 8-bit input, or null for ops without a kernel. */
export function opJob(spec: OpSpec, input: Raster8, valid?: Rect): KernelJob | null {
  const params = getOp(spec.name).kernelJob?.(spec.params);
  return params ? { ...params, input, ...(valid ? { valid } : {}) } : null;
}

/** The op's output from its job's result, whichever backend computed it. */
export function opOutput(spec: OpSpec, job: KernelJob, result: KernelResult): OpOutput {
  const op = getOp(spec.name);
  const raster = result as Raster8;
  return op.output ? op.output(job, raster) : { raster };
}

/**
 * The op on the CPU: its kernel job (or its `apply`, for ops without one). An input the caller holds under
 * a lease (core/lease.ts) may be written over.
 */
export function applyOp(spec: OpSpec, input: Raster8, valid?: Rect): OpOutput {
  const job = opJob(spec, input, valid);
  return job ? opOutput(spec, job, runOnCpu(job)) : getOp(spec.name).apply!(input, spec.params);
}

/** The op as reported (`X-Op`, manifests): the parameters it ran with, hidden ones (palette colours) left out. */
export function opLabel(spec: OpSpec, resolved?: Record<string, string | number>): OpSpec {
  const hidden = new Set(getOp(spec.name).hiddenParams ?? []);
  return {
    name: spec.name,
    params: Object.fromEntries(Object.entries({ ...spec.params, ...resolved }).filter(([k]) => !hidden.has(k))),
  };
}

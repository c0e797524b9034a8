/**
 * `threshold`: on Y (the gray op's luma), 255 where Y > t, else 0; `invert=1` flips. `t` is 0..255 or
 * `otsu` (default): the image's global Otsu threshold of Y on the stats level, never per tile.
 * Output: 1-bit gray PNG.
 */
import { badRequest } from "../errors.ts";
import type { Raster8 } from "../core/raster.ts";
import { grayKernel } from "./gray.ts";
import type { TileOp } from "./op.ts";
import { grayShape, type Kernel, onePass, resolvedT } from "./kernel.ts";

/** 255 where `gray` > t (0 where invert), else 0 (255 where invert). */
export function thresholdKernel(gray: Raster8, t: number, invert: boolean): Raster8 {
  const out = new Uint8Array(gray.data.length);
  const hi = invert ? 0 : 255, lo = invert ? 255 : 0;
  for (let i = 0; i < out.length; i++) out[i] = gray.data[i] > t ? hi : lo;
  return { width: gray.width, height: gray.height, channels: 1, type: "uint8", data: out };
}

/** `t`: an integer 0..255 or `otsu`; 400 naming `t` otherwise. */
export function parseT(query: URLSearchParams, dflt: "otsu"): number | "otsu" {
  const raw = query.get("t") ?? dflt;
  if (raw === "otsu") return "otsu";
  if (!/^\d{1,3}$/.test(raw) || Number(raw) > 255) {
    throw badRequest(`t must be an integer in 0..255 or "otsu", got "${raw}"`);
  }
  return Number(raw);
}

/** `invert`: 1/true or 0/false. */
export function parseFlag(query: URLSearchParams, name: string): boolean {
  const raw = query.get(name);
  if (raw === null || raw === "0" || raw === "false") return false;
  if (raw === "" || raw === "1" || raw === "true") return true;
  throw badRequest(`${name} must be 0 or 1, got "${raw}"`);
}

/** The threshold kernel: `thresholdKernel` of the luma, and `threshold.wgsl`'s one pass. */
export const THRESHOLD_KERNEL: Kernel = {
  name: "threshold",
  role: "op",
  shader: { file: "threshold", entries: ["threshold"] },
  cpu: (job) => thresholdKernel(grayKernel(job.input), job.t ?? 0, !!job.invert),
  plan: (job) => onePass("threshold.threshold", job.input.width * job.input.height, grayShape(job)),
  example: (input) => ({ kernel: "threshold", input, t: 90, invert: input.channels === 2 }),
};

/** The threshold op. */
export const thresholdOp: TileOp = {
  name: "threshold",
  readsLuma: true,
  exactOutput: true,
  kernels: [THRESHOLD_KERNEL],
  parse: (q) => {
    const params: Record<string, string | number> = { t: parseT(q, "otsu") };
    if (parseFlag(q, "invert")) params.invert = 1;
    return params;
  },
  halo: () => 0,
  resolve: async (params, stats) => params.t === "otsu" ? { ...params, t: (await stats.get()).otsu.gray } : params,
  kernelJob: (params) => ({ kernel: "threshold", t: resolvedT(params), invert: !!params.invert }),
  output: (_job, raster) => ({ raster, pngBitDepth: 1 }),
};

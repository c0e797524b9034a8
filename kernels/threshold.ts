/**
 * `threshold`: on Y (the gray op's luma), 255 where Y > t, else 0; `invert=1` flips. `t` is 0..255 or
 * `otsu` (default): the image's global Otsu threshold of Y on the stats level, never per tile.
 * Output: 1-bit gray PNG.
 */
import { badRequest } from "../errors.ts";
import type { Raster8 } from "../core/raster.ts";
import type { TileOp } from "./op.ts";
import { grayShape, type Kernel, onePass, resolvedT } from "./kernel.ts";
import { ownsBuffer } from "../core/lease.ts";
import { lumaAt } from "./gray.ts";
import { thresholdSimd } from "./threshold_simd.ts";

/**
 * 255 where the luma of `src` > t (0 where invert), else 0 (255 where invert): the gray kernel's Y and the
 * comparison in one pass through a 256-entry table, with one output buffer (a 256² luma plane read as is:
 * WebAssembly SIMD 16 pixels at a time, `threshold_simd.ts`, else four a word in JS).
 * `overwrite` (a 1-channel `src` whose buffer the caller holds and reads no more: core/lease.ts): the
 * output is written over `src`, each byte after it was read.
 */
export function thresholdKernel(src: Raster8, t: number, invert: boolean, overwrite = false): Raster8 {
  const { width, height, channels: ch, data: s } = src;
  const n = width * height, out = overwrite && ch === 1 ? s.subarray(0, n) : new Uint8Array(n);
  const m = n - (n % 16), hi = invert ? 0 : 255, lo = 255 - hi;
  if (ch === 1 && m > 0 && thresholdSimd(s, out, m, t, invert)) {
    for (let i = m; i < n; i++) out[i] = s[i] > t ? hi : lo; // the tail, under 16 bytes
    return { width, height, channels: 1, type: "uint8", data: out };
  }
  if (ch === 1 && n % 4 === 0 && s.byteOffset % 4 === 0) {
    const words = (a: Uint8Array) => new Uint32Array(a.buffer, a.byteOffset, n / 4);
    thresholdWords(words(s), words(out), t, invert);
    return { width, height, channels: 1, type: "uint8", data: out };
  }
  // The table only where a loop reads it (not on the SIMD or word paths of a luma plane).
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = v > t ? hi : lo;
  if (ch === 1) {
    for (let i = 0; i < n; i++) out[i] = lut[s[i]];
  } else if (ch < 3) {
    for (let i = 0; i < n; i++) out[i] = lut[s[i * ch]];
  } else {
    for (let i = 0, j = 0; i < n; i++, j += ch) out[i] = lut[lumaAt(s, j)];
  }
  return { width, height, channels: 1, type: "uint8", data: out };
}

/**
 * The 1-channel case four pixels a word, where WebAssembly SIMD is missing: in each 16-bit lane,
 * b + (255 − t) carries into bit 8 exactly when b > t; the carries become 0xFF bytes (the same bytes as the
 * table, 2–3× faster on a luma plane).
 */
export function thresholdWords(src: Uint32Array, dst: Uint32Array, t: number, invert: boolean): void {
  const k = (255 - t) * 0x00010001, flip = invert ? 0xffffffff : 0;
  for (let i = 0; i < src.length; i++) {
    const w = src[i];
    const even = (((w & 0x00ff00ff) + k) >>> 8) & 0x00010001;
    const odd = ((((w >>> 8) & 0x00ff00ff) + k) >>> 8) & 0x00010001;
    dst[i] = ((even * 255) | ((odd * 255) << 8)) ^ flip;
  }
}

/** `t`: an integer 0..255 or `otsu`; 400 naming `t` otherwise. */
export function parseT(given: string | undefined, dflt: "otsu"): number | "otsu" {
  const raw = given ?? dflt;
  if (raw === "otsu") return "otsu";
  if (!/^\d{1,3}$/.test(raw) || Number(raw) > 255) {
    throw badRequest(`t must be an integer in 0..255 or "otsu", got "${raw}"`);
  }
  return Number(raw);
}

/** A flag (`invert`): 1/true or 0/false. */
export function parseFlag(raw: string | undefined, name: string): boolean {
  if (raw === undefined || raw === "0" || raw === "false") return false;
  if (raw === "" || raw === "1" || raw === "true") return true;
  throw badRequest(`${name} must be 0 or 1, got "${raw}"`);
}

/** The threshold kernel: `thresholdKernel` of the luma, and `threshold.wgsl`'s one pass. */
export const THRESHOLD_KERNEL: Kernel = {
  name: "threshold",
  role: "op",
  shader: {
    file: "threshold",
    entries: ["threshold"],
    params: ["t", "invert"],
    packed: { threshold: { byte: "threshold_byte", count: "pixels" } },
  },
  uniforms: (job) => ({ t: job.t ?? 0, invert: job.invert ? 1 : 0 }),
  cpu: (job) => thresholdKernel(job.input, job.t ?? 0, !!job.invert, ownsBuffer(job.input)),
  plan: (job) => onePass("threshold.threshold", job.input.width * job.input.height, grayShape(job)),
  example: (input) => ({ kernel: "threshold", input, t: 90, invert: input.channels === 2 }),
};

/** The threshold op. */
export const thresholdOp: TileOp = {
  name: "threshold",
  readsLuma: true,
  exactOutput: true,
  kernels: [THRESHOLD_KERNEL],
  params: ["t", "invert"],
  parse: (a) => {
    const params: Record<string, string | number> = { t: parseT(a.t, "otsu") };
    if (parseFlag(a.invert, "invert")) params.invert = 1;
    return params;
  },
  halo: () => 0,
  resolve: async (params, stats) => params.t === "otsu" ? { ...params, t: (await stats.get()).otsu.gray } : params,
  kernelJob: (params) => ({ kernel: "threshold", t: resolvedT(params), invert: !!params.invert }),
  output: (_job, raster) => ({ raster, pngBitDepth: 1 }),
};

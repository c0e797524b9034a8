/**
 * `quantize`: `levels=N` (2..256) per channel, q = floor(v·N/256), out = (510·q + N−1) div (2·(N−1)); or
 * `palette=K` (2..256): the image's global median-cut palette (kernels/median_cut.ts) built on the stats
 * level, each pixel mapped to the nearest entry, written as an indexed PNG. High-bit-depth and float
 * sources are first rescaled to 8 bits by `rescale=min,max` or `rescale=auto` (kernels/rescale.ts).
 */
import { badRequest } from "../errors.ts";
import { type Raster, type Raster8, toUint8 } from "../core/raster.ts";
import type { TileOp } from "./op.ts";
import { grayShape, type Kernel, onePass } from "./kernel.ts";
import type { OpSpec } from "./op.ts";
import { mapToPalette } from "./median_cut.ts";
import { parseRescale, rangesFrom, rescaleKernel } from "./rescale.ts";

/** Per-channel level quantization of 8-bit samples (alpha, if any, kept). */
export function levelsKernel(src: Raster8, n: number): Raster8 {
  const ch = src.channels, hasAlpha = ch === 2 || ch === 4;
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) {
    const q = Math.floor((v * n) / 256);
    lut[v] = Math.floor((510 * q + n - 1) / (2 * (n - 1)));
  }
  const out = new Uint8Array(src.data.length);
  for (let i = 0; i < out.length; i++) {
    out[i] = hasAlpha && i % ch === ch - 1 ? src.data[i] : lut[src.data[i]];
  }
  return { ...src, data: out };
}

/** The input as 8 bits: rescaled when `rescale` is resolved, else by type range. */
export function to8Bit(input: Raster, rescale: unknown): Raster8 {
  if (typeof rescale === "string" && rescale !== "auto") {
    return rescaleKernel(input, rangesFrom(rescale, input.channels));
  }
  return toUint8(input);
}

/** The resolved palette (`colors`, hex RGB triples) of quantize parameters, as bytes. */
export function resolvedPalette(params: OpSpec["params"]): Uint8Array {
  const hex = String(params.colors ?? "");
  if (!hex) throw new Error("quantize palette must be resolved before apply");
  const palette = new Uint8Array(hex.length / 2);
  for (let i = 0; i < palette.length; i++) palette[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return palette;
}

function intParam(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d{1,3}$/.test(raw) || Number(raw) < 2 || Number(raw) > 256) {
    throw badRequest(`${name} must be an integer in 2..256, got "${raw}"`);
  }
  return Number(raw);
}

const QUANTIZE_SHADER = {
  file: "quantize",
  entries: ["levels", "palette_map"],
  params: ["levels", "colors"],
  packed: { levels: { byte: "level_byte", count: "samples" }, palette_map: { byte: "nearest", count: "pixels" } },
} as const;

/** Per-channel levels: `levelsKernel`, and `quantize.wgsl`'s `levels` (four bytes per invocation). */
export const LEVELS_KERNEL: Kernel = {
  name: "levels",
  role: "op",
  shader: QUANTIZE_SHADER,
  cpu: (job) => levelsKernel(job.input, job.levels ?? 2),
  plan: (job) =>
    onePass("quantize.levels", job.input.data.length, {
      width: job.input.width,
      height: job.input.height,
      channels: job.input.channels,
    }),
  example: (input) => ({ kernel: "levels", input, levels: 5 }),
  uniforms: (job) => ({ levels: job.levels ?? 0 }),
};

const EXAMPLE_PALETTE = Uint8Array.from([0, 0, 0, 255, 255, 255, 200, 100, 150, 30, 200, 60, 240, 200, 220]);

/** Nearest palette entry: `mapToPalette`, and `quantize.wgsl`'s `palette_map`. */
export const PALETTE_KERNEL: Kernel = {
  name: "palette",
  role: "op",
  shader: QUANTIZE_SHADER,
  cpu: (job) => mapToPalette(job.input, job.palette ?? new Uint8Array(3)),
  plan: (job) => onePass("quantize.palette_map", job.input.width * job.input.height, grayShape(job)),
  example: (input) => ({ kernel: "palette", input, palette: EXAMPLE_PALETTE }),
  uniforms: (job) => ({ colors: (job.palette?.length ?? 0) / 3 }),
};

/** The quantize op. */
export const quantizeOp: TileOp = {
  name: "quantize",
  exactOutput: true,
  kernels: [LEVELS_KERNEL, PALETTE_KERNEL],
  params: ["levels", "palette", "rescale"],
  parse: (a) => {
    const levels = intParam(a.levels, "levels"), palette = intParam(a.palette, "palette");
    if ((levels === undefined) === (palette === undefined)) {
      throw badRequest("quantize needs exactly one of levels=2..256 or palette=2..256");
    }
    const rescale = parseRescale(a.rescale ?? null);
    const params: Record<string, string | number> = levels !== undefined ? { levels } : { palette: palette! };
    if (rescale) params.rescale = rescale;
    return params;
  },
  halo: () => 0,
  resolve: async (params, stats) => {
    const out = { ...params };
    if (params.rescale === "auto") {
      const { low, high } = (await stats.get()).percentiles;
      out.rescale = low.map((lo, c) => `${lo},${high[c]}`).join(";");
    }
    if (params.palette !== undefined) {
      const pal = await stats.palette(Number(params.palette), out.rescale as string | undefined);
      out.colors = Array.from(pal, (v) => v.toString(16).padStart(2, "0")).join("");
    }
    return out;
  },
  hiddenParams: ["colors"],
  input8: (input, params) => to8Bit(input, params.rescale),
  kernelJob: (params) =>
    params.levels !== undefined
      ? { kernel: "levels", levels: Number(params.levels) }
      : { kernel: "palette", palette: resolvedPalette(params) },
  output: (job, raster) => job.palette ? { raster, palette: job.palette } : { raster },
};

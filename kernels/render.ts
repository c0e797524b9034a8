/**
 * The render step (DESIGN: "Channels and high-bit-depth rendering"): the resampled source samples of the
 * selected channels → 8-bit RGB, before the op. Per channel c at sample v, with its window lo..hi:
 * n = clamp((v − lo) / (hi − lo), 0, 1) in float64; s = n, √n, log10(1 + 1000·n) / log10(1001) or
 * asinh(10·n) / asinh(10) by `stretch`; i_c = floor(255·s + 0.5). Composite: out_k = min(255,
 * floor((Σ_c i_c · colour_c,k + 127) / 255)) for k ∈ R, G, B; or, with a colormap (one channel),
 * out = table[i]. A window with hi = lo (a flat channel's `auto`) is a step: n = 1 where v > lo, else 0.
 * Integer samples of at most 16 bits go through a lookup table per channel, built once per request.
 */
import { badRequest } from "../errors.ts";
import type { PixelType, Raster, Raster8 } from "../core/raster.ts";
import type { ImageInfo } from "../core/image_info.ts";
import { COLORMAP_NAMES, type ColormapName, colormapTable } from "./colormaps.ts";
import { LruCache } from "../core/lru.ts";
import { blendKernel } from "./blend.ts";

/** Stretches of the normalized intensity. */
export const STRETCHES = ["linear", "sqrt", "log", "asinh"] as const;
/** A stretch. */
export type Stretch = typeof STRETCHES[number];

/** Most channels one request may composite. */
export const MAX_RENDER_CHANNELS = 16;
/** Channels rendered when `c` is not given. */
export const DEFAULT_RENDER_CHANNELS = 6;
/** Colours of channels the request and the file give none for, in order, repeating. */
export const DEFAULT_COLORS = ["0000ff", "00ff00", "ff0000", "00ffff", "ff00ff", "ffff00"];

/** The render parameters of a request; windows may still be `auto` (resolved per image version). */
export interface RenderSpec {
  /** Channel indices (0-based). */
  c: number[];
  /** One colour per channel, 6 lowercase hex digits. */
  color: string[];
  /** One window per channel: `[lo, hi]`, or "auto" (the channel's 0.5 / 99.5 percentiles on the stats level). */
  window: ([number, number] | "auto")[];
  stretch: Stretch;
  colormap?: ColormapName;
  /** Z plane index. */
  z: number;
  /** T plane index. */
  t: number;
}

/** A render spec with every window resolved. */
export type ResolvedRender = Omit<RenderSpec, "window"> & { window: [number, number][] };

/**
 * The parameters of the render step. `time` names the T plane; `t` is the threshold of the ops that take
 * one (`threshold`, `mask`), and for other ops the T plane still (deprecated: service/render_query.ts).
 */
export const RENDER_PARAMS = ["c", "color", "window", "stretch", "colormap", "z", "t", "time"];

/**
 * The default colour of channel `ch`: the file's (OME colour, an RGB file's red/green/blue), else DESIGN's
 * defaults by channel index, repeating — so a channel keeps its colour whichever others are shown.
 */
export function channelColor(info: Pick<ImageInfo, "channelMeta">, ch: number): string {
  return info.channelMeta?.[ch]?.color ?? DEFAULT_COLORS[ch % DEFAULT_COLORS.length];
}

/** What parsing a render needs to know of the image. */
export type RenderableInfo = Pick<ImageInfo, "channels" | "channelMeta" | "planes" | "pixelType" | "multichannel">;

/**
 * True when tiles of the image are rendered even without render parameters: samples other than 8-bit,
 * and channels that are separate signals (an OME-TIFF's planes, more than 4 samples a pixel).
 */
export function rendersByDefault(info: RenderableInfo): boolean {
  return info.pixelType !== "uint8" || !!info.multichannel;
}

/** The render parameters as given (strings by name; the route layer reads them from a URL's query). */
export type RenderArgs = Readonly<Record<string, string>>;

/**
 * The render of an image from its parameters, or null when none is given and the image is not rendered by
 * default. `tIsOp`: the op's own `t` (a threshold) takes `t`. 400 naming the bad parameter.
 */
export function renderSpecOf(args: RenderArgs, info: RenderableInfo, tIsOp = false): RenderSpec | null {
  const has = (name: string) => args[name] !== undefined;
  const given = RENDER_PARAMS.filter((p) => has(p) && !(p === "t" && tIsOp));
  if (given.length === 0 && !rendersByDefault(info)) return null;
  const channels = info.channels;
  const list = (name: string) => args[name].split(",").map((s) => s.trim());
  let c = Array.from({ length: Math.min(channels, DEFAULT_RENDER_CHANNELS) }, (_, i) => i);
  if (has("c")) {
    c = list("c").map((s) => {
      const v = Number(s);
      if (!/^\d+$/.test(s) || v >= channels) {
        throw badRequest(`c: no channel "${s}" (this image has channels 0..${channels - 1})`);
      }
      return v;
    });
    if (new Set(c).size !== c.length) throw badRequest("c names a channel twice");
  }
  if (c.length > MAX_RENDER_CHANNELS) {
    throw badRequest(`c names ${c.length} channels, more than ${MAX_RENDER_CHANNELS}`);
  }
  let color = c.map((ch) => channelColor(info, ch));
  if (has("color")) {
    color = list("color").map((s) => {
      if (!/^[0-9a-fA-F]{6}$/.test(s)) throw badRequest(`color must be 6 hex digits per channel (RRGGBB), got "${s}"`);
      return s.toLowerCase();
    });
    if (color.length !== c.length) throw badRequest(`color gives ${color.length} colours for ${c.length} channels`);
  }
  let window: RenderSpec["window"] = c.map(() => "auto");
  if (has("window") && args.window !== "auto") {
    window = list("window").map((s) => {
      if (s === "auto") return "auto";
      const m = /^(-?[\d.]+(?:e[+-]?\d+)?):(-?[\d.]+(?:e[+-]?\d+)?)$/i.exec(s);
      const lo = Number(m?.[1]), hi = Number(m?.[2]);
      if (!m || !Number.isFinite(lo) || !Number.isFinite(hi)) {
        throw badRequest(`window must be lo:hi or auto, got "${s}"`);
      }
      if (lo >= hi) throw badRequest(`window ${s}: lo must be below hi`);
      return [lo, hi];
    });
    if (window.length !== c.length) throw badRequest(`window gives ${window.length} windows for ${c.length} channels`);
  }
  const stretch = (args.stretch ?? "linear") as Stretch;
  if (!STRETCHES.includes(stretch)) throw badRequest(`stretch must be one of ${STRETCHES.join(", ")}`);
  const colormap = args.colormap as ColormapName | undefined;
  if (colormap !== undefined) {
    if (!COLORMAP_NAMES.includes(colormap)) throw badRequest(`colormap must be one of ${COLORMAP_NAMES.join(", ")}`);
    if (c.length !== 1) throw badRequest(`colormap needs exactly one channel (c=), got ${c.length}`);
  }
  return { c, color, window, stretch, ...(colormap ? { colormap } : {}), ...planeOf(args, info, tIsOp) };
}

/**
 * The Z/T plane the parameters name: `z`, `time` (or `t`, unless `tIsOp`: then the op's threshold); 0 where
 * absent. 400 naming the parameter for a plane the image lacks.
 */
export function planeOf(args: RenderArgs, info: Pick<ImageInfo, "planes">, tIsOp = false): {
  z: number;
  t: number;
} {
  const sizes = { z: info.planes?.z ?? 1, t: info.planes?.t ?? 1 };
  const plane = (dim: "z" | "t", name: string) => {
    const raw = args[name] ?? "0";
    const v = Number(raw);
    if (!/^\d+$/.test(raw) || v >= sizes[dim]) {
      throw badRequest(`${name}: no ${dim.toUpperCase()} plane "${raw}" (this image has ${dim} 0..${sizes[dim] - 1})`);
    }
    return v;
  };
  const t = args.time !== undefined ? plane("t", "time") : tIsOp ? 0 : plane("t", "t");
  return { z: plane("z", "z"), t };
}

/**
 * The render of a request for an image, with its op (every route and the patch export ask here): the
 * query's render parameters (an op's own `t`, a threshold, takes `t=`), null when the image is not
 * rendered. One definition of windows: on a rendered image, quantize's `rescale=` (auto, or lo,hi for every
 * channel) is the render's window of every channel unless `window=` is given; it leaves the op either way.
 */
export function renderOfRequest<O extends { params: Record<string, unknown> }>(
  args: RenderArgs,
  info: RenderableInfo,
  op: O,
): { render: RenderSpec | null; op: O } {
  const spec = renderSpecOf(args, info, "t" in op.params);
  const rescale = op.params.rescale;
  if (!spec || typeof rescale !== "string") return { render: spec, op };
  const { rescale: _, ...params } = op.params;
  if (args.window !== undefined) return { render: spec, op: { ...op, params } };
  const [lo, hi] = rescale.split(",").map(Number);
  const window = spec.c.map((): [number, number] | "auto" => rescale === "auto" ? "auto" : [lo, hi]);
  return { render: { ...spec, window }, op: { ...op, params } };
}

/** The windows resolved: `auto` from each channel's stats-level percentiles (`low[c]`, `high[c]`). */
export function resolveRender(spec: RenderSpec, percentiles: { low: number[]; high: number[] }): ResolvedRender {
  return {
    ...spec,
    window: spec.window.map((w, i) => w === "auto" ? [percentiles.low[spec.c[i]], percentiles.high[spec.c[i]]] : w),
  };
}

/** Canonical form (part of the cache key): equal strings mean equal pixels. */
export function canonicalRender(r: ResolvedRender): string {
  const w = r.window.map(([lo, hi]) => `${lo}:${hi}`).join(",");
  return `c=${r.c.join(",")};color=${r.color.join(",")};window=${w};stretch=${r.stretch}` +
    `${r.colormap ? `;colormap=${r.colormap}` : ""};z=${r.z};t=${r.t}`;
}

/** The 8-bit intensity of sample `v` in window lo..hi under `stretch` (DESIGN's arithmetic, float64). */
export function intensity(v: number, lo: number, hi: number, stretch: Stretch): number {
  const n = hi > lo ? Math.min(1, Math.max(0, (v - lo) / (hi - lo))) : v > lo ? 1 : 0;
  const s = stretch === "linear"
    ? n
    : stretch === "sqrt"
    ? Math.sqrt(n)
    : stretch === "log"
    ? Math.log10(1 + 1000 * n) / Math.log10(1001)
    : Math.asinh(10 * n) / Math.asinh(10);
  return Math.floor(255 * s + 0.5);
}

/** Lookup tables for integer types of at most 16 bits: [offset, size]. */
const LUT_TYPES: Partial<Record<PixelType, [number, number]>> = {
  uint8: [0, 256],
  int8: [-128, 256],
  uint16: [0, 65536],
  int16: [-32768, 65536],
};

/**
 * Lookup tables of recent parameter sets (type, window, stretch): a 16-bit table is 65,536 evaluations of
 * `intensity`, more than a 256² tile's pixels, so it is built once per parameter set, not per tile.
 */
const luts = new LruCache<string, Uint8Array>(64);

function lutFor(type: PixelType, lo: number, hi: number, stretch: Stretch): Uint8Array | null {
  const range = LUT_TYPES[type];
  if (!range) return null;
  const key = `${type}|${lo}|${hi}|${stretch}`;
  let table = luts.get(key);
  if (!table) {
    const [offset, size] = range;
    table = new Uint8Array(size);
    for (let i = 0; i < size; i++) table[i] = intensity(i + offset, lo, hi, stretch);
    luts.set(key, table);
  }
  return table;
}

/**
 * The 8-bit intensities of the selected channels, interleaved (what the blend reads). `src` holds the
 * selected channels in `r.c` order (a read with that plane selection).
 */
export function renderIntensities(src: Raster, r: Pick<ResolvedRender, "window" | "stretch">): Raster8 {
  const n = src.width * src.height, ch = src.channels, d = src.data, k = r.window.length;
  const out = new Uint8Array(n * k);
  r.window.forEach(([lo, hi], c) => {
    const table = lutFor(src.type, lo, hi, r.stretch);
    if (table) {
      const offset = LUT_TYPES[src.type]![0];
      for (let o = c, j = c; o < out.length; o += k, j += ch) out[o] = table[d[j] - offset];
    } else {
      for (let o = c, j = c; o < out.length; o += k, j += ch) out[o] = intensity(d[j], lo, hi, r.stretch);
    }
  });
  return { width: src.width, height: src.height, channels: k, type: "uint8", data: out };
}

/** The blend's palette of a render: one RGB colour per channel, or the colormap's 256-entry table. */
export function renderPalette(r: Pick<ResolvedRender, "color" | "colormap">): Uint8Array {
  if (r.colormap) return colormapTable(r.colormap);
  const out = new Uint8Array(r.color.length * 3);
  r.color.forEach((hex, c) => out.set([0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16)), c * 3));
  return out;
}

/** The render step: resampled source samples → 8-bit RGB (intensities, then the blend kernel). */
export function renderRaster(src: Raster, r: ResolvedRender): Raster8 {
  return blendKernel(renderIntensities(src, r), renderPalette(r));
}

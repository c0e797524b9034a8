/**
 * Rescaling any sample type to 8 bits: v8 = floor(255·clamp((v − lo) / (hi − lo), 0, 1) + 0.5) per
 * channel (the render step's linear window), with (lo, hi) from `rescale=min,max` or, for `rescale=auto`, the channel's global 0.5 / 99.5
 * percentiles on the stats level. With hi = lo: 0 at or below lo, 255 above.
 */
import { badRequest } from "../errors.ts";
import type { Raster, Raster8 } from "../core/raster.ts";
import { renderIntensities } from "./render.ts";

/** Per-channel (lo, hi) pairs. */
export type RescaleRanges = [number, number][];

/** `rescale` as given: "auto", or "min,max". 400 naming `rescale` otherwise. */
export function parseRescale(raw: string | null): string | undefined {
  if (raw === null) return undefined;
  if (raw === "auto") return raw;
  const parts = raw.split(",");
  const nums = parts.map(Number);
  if (parts.length !== 2 || nums.some((v) => !Number.isFinite(v)) || !(nums[1] > nums[0])) {
    throw badRequest(`rescale must be "auto" or "min,max" with min < max, got "${raw}"`);
  }
  return `${nums[0]},${nums[1]}`;
}

/** A resolved rescale string: "lo,hi" for every channel or "lo,hi;lo,hi;…" per channel. */
export function rangesFrom(resolved: string, channels: number): RescaleRanges {
  const parts = resolved.split(";").map((p) => p.split(",").map(Number) as [number, number]);
  return Array.from({ length: channels }, (_, c) => parts[Math.min(c, parts.length - 1)]);
}

/**
 * The 8-bit raster, each channel mapped by its range: the render step's linear intensity of that window
 * (kernels/render.ts, one definition), so `rescale=lo,hi` and `window=lo:hi` give the same bytes.
 */
export function rescaleKernel(src: Raster, ranges: RescaleRanges): Raster8 {
  return renderIntensities(src, { window: ranges.slice(0, src.channels), stretch: "linear" });
}

/** numpy's default (linear) percentile `p` (0..100) of the sorted values `a`. */
export function percentileOfSorted(a: ArrayLike<number>, p: number): number {
  if (a.length === 0) return 0;
  const idx = (p / 100) * (a.length - 1);
  const lo = Math.floor(idx), frac = idx - lo;
  return lo + 1 < a.length ? a[lo] + (a[lo + 1] - a[lo]) * frac : a[lo];
}

/** The value at rank `r` (0-based, ascending) of a counting histogram whose bin 0 is `offset`. */
function valueAtRank(counts: Uint32Array, offset: number, r: number): number {
  let acc = 0;
  for (let v = 0; v < counts.length; v++) {
    acc += counts[v];
    if (acc > r) return v + offset;
  }
  return counts.length - 1 + offset;
}

/**
 * Per-channel `p` percentiles of a raster, in its sample type (NaNs ignored). 8- and 16-bit samples are
 * counted instead of sorted (same result; 2040² RGB: ~0.5 s sorting, measured with stats/compute.ts).
 */
export function channelPercentiles(src: Raster, ps: number[]): number[][] {
  const ch = src.channels, n = src.width * src.height;
  const out: number[][] = ps.map(() => []);
  const counted = { uint8: [256, 0], int8: [256, -128], uint16: [65536, 0], int16: [65536, -32768] }[
    src.type as "uint8"
  ];
  if (counted && n > 0) {
    const [bins, offset] = counted;
    for (let c = 0; c < ch; c++) {
      const counts = new Uint32Array(bins);
      for (let i = c; i < n * ch; i += ch) counts[src.data[i] - offset]++;
      ps.forEach((p, j) => {
        const idx = (p / 100) * (n - 1), lo = Math.floor(idx), frac = idx - lo;
        const a = valueAtRank(counts, offset, lo);
        const b = lo + 1 < n ? valueAtRank(counts, offset, lo + 1) : a;
        out[j].push(a + (b - a) * frac);
      });
    }
    return out;
  }
  for (let c = 0; c < ch; c++) {
    const vals = new Float64Array(n);
    let m = 0;
    for (let i = 0; i < n; i++) {
      const v = src.data[i * ch + c];
      if (v === v) vals[m++] = v;
    }
    const sorted = vals.subarray(0, m).sort();
    ps.forEach((p, j) => out[j].push(percentileOfSorted(sorted, p)));
  }
  return out;
}

/**
 * Rescaling any sample type to 8 bits: v8 = clamp(floor((v − lo)·255 / (hi − lo) + 0.5), 0, 255) per
 * channel, with (lo, hi) from `rescale=min,max` or, for `rescale=auto`, the channel's global 0.5 / 99.5
 * percentiles on the stats level. With hi = lo: 0 at or below lo, 255 above.
 */
import { badRequest } from "../errors.ts";
import type { Raster, Raster8 } from "../sources/raster.ts";

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

/** The 8-bit raster, each channel mapped by its range. */
export function rescaleKernel(src: Raster, ranges: RescaleRanges): Raster8 {
  const ch = src.channels, n = src.width * src.height;
  const out = new Uint8Array(n * ch);
  for (let c = 0; c < ch; c++) {
    const [lo, hi] = ranges[c];
    const k = hi > lo ? 255 / (hi - lo) : 0;
    for (let i = c; i < n * ch; i += ch) {
      const v = src.data[i];
      if (hi <= lo) out[i] = v > lo ? 255 : 0;
      else {
        const q = Math.floor((v - lo) * k + 0.5);
        out[i] = q < 0 ? 0 : q > 255 ? 255 : q;
      }
    }
  }
  return { width: src.width, height: src.height, channels: ch, type: "uint8", data: out };
}

/** numpy's default (linear) percentile `p` (0..100) of the sorted values `a`. */
export function percentileOfSorted(a: ArrayLike<number>, p: number): number {
  if (a.length === 0) return 0;
  const idx = (p / 100) * (a.length - 1);
  const lo = Math.floor(idx), frac = idx - lo;
  return lo + 1 < a.length ? a[lo] + (a[lo + 1] - a[lo]) * frac : a[lo];
}

/** Per-channel `p` percentiles of a raster, in its sample type (NaNs ignored). */
export function channelPercentiles(src: Raster, ps: number[]): number[][] {
  const ch = src.channels, n = src.width * src.height;
  const out: number[][] = ps.map(() => []);
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

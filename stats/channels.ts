/**
 * Per-channel statistics of the stats level in the native sample type: minimum, 0.5 / 99.5 percentiles
 * (what `window=auto` resolves to), maximum and a 256-bin histogram over min..max (what a channel panel's
 * window slider is drawn over). Multichannel sources are read one channel at a time.
 */
import type { Raster } from "../core/raster.ts";
import { channelPercentiles } from "../kernels/rescale.ts";

/** One channel's summary. */
export interface ChannelSummary {
  min: number;
  low: number;
  high: number;
  max: number;
  histogram: number[];
}

/** Summaries of every channel of `r` (NaNs ignored). */
export function channelSummaries(r: Raster): ChannelSummary[] {
  const [min, low, high, max] = channelPercentiles(r, [0, 0.5, 99.5, 100]);
  return min.map((_, c) => ({
    min: min[c],
    low: low[c],
    high: high[c],
    max: max[c],
    histogram: channelHistogram(r, c, min[c], max[c]),
  }));
}

/** 256 bins over lo..hi of channel `c`: bin = ⌊(v − lo) / (hi − lo) · 256⌋, hi itself in the top bin. */
export function channelHistogram(r: Raster, c: number, lo: number, hi: number): number[] {
  const bins = new Array<number>(256).fill(0);
  const ch = r.channels, d = r.data, n = r.width * r.height;
  const k = hi > lo ? 256 / (hi - lo) : 0;
  for (let i = c, p = 0; p < n; p++, i += ch) {
    const v = d[i];
    if (Number.isNaN(v)) continue;
    bins[Math.min(255, Math.max(0, Math.floor((v - lo) * k)))]++;
  }
  return bins;
}

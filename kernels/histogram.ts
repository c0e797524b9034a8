/** 256-bin histograms and Otsu's threshold, the one definition used for every global threshold. */
import { type Kernel, words } from "./kernel.ts";

/** Counts of each value 0..255 in `values`. */
export function histogram256(values: Uint8Array): Uint32Array {
  const h = new Uint32Array(256);
  for (let i = 0; i < values.length; i++) h[values[i]]++;
  return h;
}

/**
 * Otsu's threshold of a 256-bin histogram: the t that maximises the between-class variance of the
 * classes ≤ t and > t, the first maximum winning; a histogram with one occupied bin gives that bin.
 * Exact: variances are compared as integer fractions (BigInt), so ties are real ties.
 */
export function otsuThreshold(hist: ArrayLike<number>): number {
  let total = 0n, sumAll = 0n;
  for (let i = 0; i < 256; i++) {
    total += BigInt(hist[i]);
    sumAll += BigInt(hist[i]) * BigInt(i);
  }
  let w0 = 0n, s0 = 0n;
  // Between-class variance ∝ (s0·w1 − s1·w0)² / (w0·w1); keep the best as a fraction num/den.
  let bestNum = -1n, bestDen = 1n, best = -1;
  for (let t = 0; t < 255; t++) {
    w0 += BigInt(hist[t]);
    s0 += BigInt(hist[t]) * BigInt(t);
    const w1 = total - w0;
    if (w0 === 0n || w1 === 0n) continue;
    const s1 = sumAll - s0;
    const d = s0 * w1 - s1 * w0;
    const num = d * d, den = w0 * w1;
    if (best < 0 || num * bestDen > bestNum * den) {
      bestNum = num;
      bestDen = den;
      best = t;
    }
  }
  if (best >= 0) return best;
  // One occupied bin (a uniform image): its value.
  for (let i = 0; i < 256; i++) if (hist[i] > 0) return i;
  return 0;
}

/** The histogram kernel on one-channel input: `histogram256`, and `histogram.wgsl` (atomics, 4 bytes a thread). */
export const HISTOGRAM_KERNEL: Kernel = {
  name: "histogram",
  role: "support",
  shader: { file: "histogram", entries: ["histogram"] },
  cpu: (job) => histogram256(job.input.data.subarray(0, job.input.width * job.input.height)),
  plan: (job) => ({
    passes: [{ entry: "histogram.histogram", items: words(job.input.width * job.input.height) }],
    planeBytes: 0,
    outBytes: 1024,
    outShape: null,
    clearOutput: true,
  }),
  example: (input) => ({ kernel: "histogram", input: { ...input, channels: 1, width: input.width * input.channels } }),
};

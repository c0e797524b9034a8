/** Image-level statistics: computed once per image version on the stats level. */

/** What `GET /images/{id}/stats` reports and ops resolve against. */
export interface ImageStats {
  /** The stats level: the image at downsample 2^k, k the smallest with longer side ≤ 2048. */
  level: {
    width: number;
    height: number;
    /** 2^k. */
    downsample: number;
    /** "stored" (the file's level), "derived" (2× area chain) or "resampled" (area-averaged from a finer level). */
    origin: "stored" | "derived" | "resampled";
  };
  /** 256-bin histograms of Y (gray op) and of the median-filtered HSV saturation (mask op). */
  histogram: { gray: number[]; saturation: number[] };
  /** Global Otsu thresholds of those histograms. */
  otsu: { gray: number; saturation: number };
  /** Per channel, in the native sample type: the 0.5 and 99.5 percentiles (numpy's linear definition). */
  percentiles: { low: number[]; high: number[] };
  /** The tissue map (the mask op on the stats level): size and share of tissue pixels. */
  tissue: { width: number; height: number; fraction: number };
}

/** Stats plus the tissue map itself (1 byte per stats-level pixel, 255 = tissue) and its PNG. */
export interface ComputedStats {
  stats: ImageStats;
  tissueMap: Uint8Array;
  tissuePng: Uint8Array;
}

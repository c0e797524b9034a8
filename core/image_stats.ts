/** Image-level statistics: computed once per image version on the stats level. */

/** The Z/T plane statistics are of (multi-plane sources; else 0, 0). */
export interface StatsPlane {
  z: number;
  t: number;
}

/** Per channel (every channel of the source, native sample type): what a channel panel shows. */
export interface ChannelStats {
  min: number[];
  max: number[];
  /** 256 bins spanning min..max of each channel (bin = ⌊(v − min) / (max − min) · 256⌋, the top bin closed). */
  histogram: number[][];
}

/** What `GET /images/{id}/stats` reports and ops resolve against. */
export interface ImageStats {
  /** The Z/T plane (multi-plane sources). */
  plane: StatsPlane;
  /** The stats level: the image at downsample 2^k, k the smallest with longer side ≤ 2048. */
  level: {
    width: number;
    height: number;
    /** 2^k. */
    downsample: number;
    /** "stored" (the file's level), "derived" (2× area chain) or "resampled" (area-averaged from a finer level). */
    origin: "stored" | "derived" | "resampled";
  };
  /**
   * 256-bin histograms of Y (gray op) and of the median-filtered HSV saturation (mask op); of the default
   * render where the source is rendered by default.
   */
  histogram: { gray: number[]; saturation: number[] };
  /** Global Otsu thresholds of those histograms. */
  otsu: { gray: number; saturation: number };
  /** Per channel, in the native sample type: the 0.5 and 99.5 percentiles (numpy's linear definition). */
  percentiles: { low: number[]; high: number[] };
  channels: ChannelStats;
  /** The tissue map (the mask op on the stats level): size and share of tissue pixels. */
  tissue: { width: number; height: number; fraction: number };
}

/** Stats plus the tissue map itself (1 byte per stats-level pixel, 255 = tissue) and its PNG. */
export interface ComputedStats {
  stats: ImageStats;
  tissueMap: Uint8Array;
  tissuePng: Uint8Array;
}

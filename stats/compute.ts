/**
 * Image statistics on the stats level (pure, run in a worker): the level itself, histograms of Y and of
 * the median-filtered saturation, their Otsu thresholds, native-type percentiles, the tissue map, and
 * median-cut palettes. One definition of each, shared with the tile kernels.
 */
import type { ImageSource } from "../sources/source.ts";
import type { PlaneSelection, ReadPlane } from "../core/image_info.ts";
import { arrayTypeFor, type Raster, type Raster8, toUint8 } from "../core/raster.ts";
import { renderRaster, rendersByDefault, renderSpecOf, resolveRender } from "../kernels/render.ts";
import { channelSummaries, type ChannelSummary } from "./channels.ts";
import { statsLevelPlan } from "../pyramid/read_plan.ts";
import { resample } from "../pipeline/resample.ts";
import { otsuThreshold } from "../kernels/histogram.ts";
import { runOnCpu } from "../kernels/index.ts";
import type { KernelJob, KernelResult } from "../kernels/kernel.ts";
import { medianCutPalette } from "../kernels/median_cut.ts";
import { to8Bit } from "../kernels/quantize.ts";
import { encodePng } from "../pipeline/png.ts";
import type { ComputedStats, ImageStats, StatsPlane } from "../core/image_stats.ts";

/**
 * The stats level of a source (`statsLevelPlan`): its pixels (native type), or its luma plane with `plane`
 * "luma" where the level read has one, and where they came from.
 */
export async function readStatsLevel(
  source: ImageSource,
  plane: ReadPlane = "samples",
  select?: PlaneSelection,
): Promise<{ raster: Raster; level: ImageStats["level"]; luma: boolean }> {
  const { width: W, height: H, levels } = source.info;
  const p = statsLevelPlan(W, H, levels);
  const level = { width: p.width, height: p.height, downsample: p.downsample };
  if ("level" in p) {
    const L = levels[p.level];
    const raster = await source.readRegion(p.level, 0, 0, L.width, L.height, plane, select);
    return { raster, level: { ...level, origin: L.stored ? "stored" : "derived" }, luma: plane === "luma" && !!L.luma };
  }
  const F = levels[p.finer];
  const src = await source.readRegion(p.finer, 0, 0, F.width, F.height, plane, select);
  const ds = p.downsample;
  const raster = resample(src, 0, 0, ds / F.downsampleX, ds / F.downsampleY, p.width, p.height);
  return { raster, level: { ...level, origin: "resampled" }, luma: plane === "luma" && !!F.luma };
}

/** The stats level as 8-bit pixels, with what only the native samples give (percentiles). */
export interface StatsInput {
  px: Raster8;
  /** The stats level's luma plane, where it has one (Y for the gray histogram; else Y is computed from px). */
  luma?: Raster8;
  level: ImageStats["level"];
  percentiles: ImageStats["percentiles"];
  channels: ImageStats["channels"];
  plane: StatsPlane;
}

/** What the kernels compute on the stats level (on the CPU here, or on the GPU by the WebGPU backend). */
export interface StatsKernels {
  grayHist: Uint32Array;
  satHist: Uint32Array;
  otsu: ImageStats["otsu"];
  /** The tissue map: the mask op's threshold-and-close on the median-filtered saturation. */
  closed: Raster8;
}

/** Runs a kernel job: on the CPU (`runOnCpu`), or on the GPU by the WebGPU backend. */
export type KernelRunner = (job: KernelJob) => Promise<KernelResult>;

/** All statistics of a source (the tissue map included) for a Z/T plane, its kernels on the CPU. */
export async function computeStats(source: ImageSource, plane?: StatsPlane): Promise<ComputedStats> {
  const input = await prepareStats(source, plane);
  return finishStats(input, await statsKernels(input.px, input.luma, (job) => Promise.resolve(runOnCpu(job))));
}

/**
 * Reads the stats level: 8-bit pixels, its luma plane where it has one, and per-channel statistics in the
 * native type. A source rendered by default is read one channel at a time (of plane `plane`): its 8-bit
 * pixels are then its default render (first channels, file or default colours, auto windows).
 */
export async function prepareStats(source: ImageSource, plane: StatsPlane = { z: 0, t: 0 }): Promise<StatsInput> {
  const info = source.info;
  if (!rendersByDefault(info)) {
    const { raster, level } = await readStatsLevel(source);
    const Y = info.levels.some((l) => l.luma) ? await readStatsLevel(source, "luma") : null;
    return {
      px: toUint8(raster),
      ...(Y?.luma ? { luma: toUint8(Y.raster) } : {}),
      level,
      ...summarize(channelSummaries(raster)),
      plane,
    };
  }
  const spec = renderSpecOf({}, info)!;
  const kept: Raster[] = [];
  const summaries: ChannelSummary[] = [];
  let level: ImageStats["level"] | undefined;
  for (let c = 0; c < info.channels; c++) {
    const read = await readStatsLevel(source, "samples", { c: [c], ...plane });
    level = read.level;
    summaries.push(...channelSummaries(read.raster));
    if (spec.c.includes(c)) kept.push(read.raster);
  }
  const stats = summarize(summaries);
  const render = resolveRender({ ...spec, ...plane }, stats.percentiles);
  return { px: renderRaster(interleave(kept), render), level: level!, ...stats, plane };
}

/** Percentiles and channel statistics from per-channel summaries. */
function summarize(s: ChannelSummary[]): Pick<ImageStats, "percentiles" | "channels"> {
  return {
    percentiles: { low: s.map((c) => c.low), high: s.map((c) => c.high) },
    channels: { min: s.map((c) => c.min), max: s.map((c) => c.max), histogram: s.map((c) => c.histogram) },
  };
}

/** One-channel rasters of one size and type, interleaved. */
function interleave(parts: Raster[]): Raster {
  const [first] = parts, n = first.width * first.height, ch = parts.length;
  const out = new (arrayTypeFor(first.type))(n * ch);
  parts.forEach((p, k) => {
    for (let i = 0; i < n; i++) out[i * ch + k] = p.data[i];
  });
  return { ...first, channels: ch, data: out };
}

/**
 * Histograms of Y (of `luma` where given: the same Y the gray and threshold tiles read) and of the
 * median-filtered saturation, their Otsu thresholds, the tissue map; each kernel through `run`.
 */
export async function statsKernels(px: Raster8, luma: Raster8 | undefined, run: KernelRunner): Promise<StatsKernels> {
  const [gray, medS] = await Promise.all([
    run({ kernel: "gray", input: luma ?? px }),
    run({ kernel: "maskSaturation", input: px }),
  ]) as Raster8[];
  const [grayHist, satHist] = await Promise.all([gray, medS].map((r) => run({ kernel: "histogram", input: r }))) as [
    Uint32Array,
    Uint32Array,
  ];
  const otsu = { gray: otsuThreshold(grayHist), saturation: otsuThreshold(satHist) };
  // The tissue map: the mask op on the stats level (its kernel, from the saturation computed above).
  const closed = await run({ kernel: "maskFromSaturation", input: medS, t: otsu.saturation }) as Raster8;
  return { grayHist, satHist, otsu, closed };
}

/** The statistics from the kernels' results (and the tissue map's PNG). */
export function finishStats(input: Omit<StatsInput, "px">, k: StatsKernels): ComputedStats {
  const { closed } = k;
  let tissue = 0;
  for (let i = 0; i < closed.data.length; i++) if (closed.data[i]) tissue++;
  const stats: ImageStats = {
    level: input.level,
    histogram: { gray: Array.from(k.grayHist), saturation: Array.from(k.satHist) },
    otsu: k.otsu,
    percentiles: input.percentiles,
    channels: input.channels,
    plane: input.plane,
    tissue: { width: closed.width, height: closed.height, fraction: tissue / closed.data.length },
  };
  return { stats, tissueMap: closed.data, tissuePng: encodePng(closed, { bitDepth: 1 }) };
}

/** The `k`-colour median-cut palette of the stats level, rendered to 8 bits with `rescale` (resolved). */
export async function computePalette(source: ImageSource, k: number, rescale?: string): Promise<Uint8Array> {
  // A rendered image's palette is of its default render (the stats level's 8-bit pixels).
  if (rendersByDefault(source.info)) return medianCutPalette((await prepareStats(source)).px, k);
  const { raster } = await readStatsLevel(source);
  return medianCutPalette(to8Bit(raster, rescale), k);
}

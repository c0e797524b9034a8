/**
 * Whole-slide patch export: every grid cell of the tissue listing whose tissue fraction ≥ min (or a seeded
 * random sample of `limit` of them, or one shard of either), rendered by the one pipeline (any op,
 * PNG/JPEG/npy) at `size` × `size` output pixels at a power-of-two or physical scale, in row-major order. Patches
 * are computed in parallel on the backend with at most `window` in flight, and produced only as fast as
 * the consumer takes them (HTTP backpressure, or the CLI's writes); when the consumer stops, no more are
 * started. Shared by `GET /images/{id}/patches.tar|ndjson` and `deno task extract`.
 */
import { requestRender, type ResolvedRender, resolveRender } from "../kernels/render.ts";
import { tensorFor } from "../pipeline/raw_tensor.ts";
import type { ImageRegistry, ResolvedImage } from "../sources/registry.ts";
import type { StatsService } from "../service/stats.ts";
import type { TileBackend } from "../workers/backend.ts";
import { opLabel, resolveOpSpec } from "../kernels/index.ts";
import { checkOutputSize, type TileFormat, type TileRequest } from "../pipeline/tile_request.ts";
import { canonicalOp, type OpSpec } from "../kernels/op.ts";
import { tileRequestOf } from "../service/tile_service.ts";
import type { TensorSpec } from "../pipeline/tensor.ts";
import {
  countTissueCells,
  gridCellCount,
  MAX_GRID_CELLS,
  type TissueCell,
  tissueCells,
  type TissueIntegral,
  tissueIntegralOf,
} from "../stats/tissue_grid.ts";
import { badRequest, notFound } from "../errors.ts";
import type { GridParams } from "../service/query.ts";
import { downsampleForScale, scaleOfDownsample } from "../pyramid/physical.ts";
import { bestLevelForDownsample } from "../pyramid/levels.ts";
import { sampleRanks } from "./sample.ts";
import { arrayTypeFor } from "../core/raster.ts";
import type { RenderedTile } from "../pipeline/render.ts";

/** What to export: the grid (scale, size, stride, min), the encoding, the op, and which patches. */
export interface PatchParams extends GridParams {
  format: TileFormat;
  op: OpSpec;
  quality: number;
  tensor?: TensorSpec;
  /** The query's render parameters (c, color, window, …), parsed against the image when the export is planned. */
  renderQuery?: string;
  /** A reproducible random sample of `limit` tissue patches. */
  sample?: { limit: number; seed: number };
  /** Plain files (`{x}_{y}.{ext}`, a manifest) or WebDataset samples (`{key}.{ext}` + `{key}.json`). */
  layout: "files" | "webdataset";
  /** Only the `index`-th run of `size` patches (0-based) of the export. */
  shard?: { size: number; index: number };
}

/** One line of the manifest (and a WebDataset sample's `.json`). */
export interface PatchEntry {
  image: string;
  /** The file version the pixels come from (changes when the file does). */
  version: string;
  file: string;
  /** The WebDataset sample key (layout=webdataset). */
  key?: string;
  /** Footprint in level-0 pixels. */
  x: number;
  y: number;
  w: number;
  h: number;
  /** The pyramid level read, its downsample from level 0, and the patch's µm/px where the image says. */
  level: number;
  downsample: number;
  mpp?: number;
  tissue: number;
  op: string;
  [key: string]: unknown;
}

/** One exported patch. */
export interface Patch {
  entry: PatchEntry;
  bytes: Uint8Array;
}

/** Counters of an export (for tests, progress and metrics). */
export interface PatchProgress {
  total: number;
  started: number;
  done: number;
  maxInFlight: number;
}

const EXT: Record<TileFormat, string> = { jpeg: "jpg", png: "png", webp: "webp", npy: "npy", zarr: "bin" };

/** Most patches one export may hold (its manifest is kept to the end of a tar: ≤ ~40 MB). */
export const MAX_PATCHES = 200_000;

/** What an export will do, checked before anything is streamed. */
export interface PatchPlan {
  image: ResolvedImage;
  op: OpSpec;
  /** The render step of every patch (windows resolved), for images rendered or render parameters given. */
  render?: ResolvedRender;
  integral: TissueIntegral;
  /** The level every patch reads (the best for the downsample). */
  level: number;
  /** Tissue cells of the grid (before sampling and sharding). */
  tissuePatches: number;
  /** Ranks (among the tissue cells) of the sample, when `limit` draws one. */
  ranks?: Uint32Array;
  /** Patches of the export before sharding, its shards, and this shard's range of them. */
  selected: number;
  shards: number;
  from: number;
  /** Patches the export (this shard) will hold. */
  total: number;
  /** Its first patch, computed while planning (`planPatchExport`), and where it is. */
  first?: { x: number; y: number; tile: Promise<RenderedTile> };
}

/**
 * Resolves the image, its statistics and the op, and checks the export before it starts: 400 past
 * `MAX_GRID_CELLS` grid cells or `MAX_PATCHES` patches, 413 when one patch's samples exceed
 * `MAX_OUTPUT_BYTES`. Counting walks the grid lazily, in slices (the thread is never blocked for long).
 */
export async function planPatchExport(
  ctx: { registry: ImageRegistry; stats: StatsService; backend?: TileBackend },
  id: string,
  p: PatchParams,
  signal?: AbortSignal,
): Promise<PatchPlan> {
  const image = await ctx.registry.resolve(id);
  const { width, height } = image.info;
  p.downsample = downsampleForScale(image.info, p.scale);
  const cells = gridCellCount(width, height, p);
  if (cells > MAX_GRID_CELLS) {
    throw badRequest(
      `the grid has ${cells} cells, more than ${MAX_GRID_CELLS}: raise size, stride or downsample`,
    );
  }
  const { render: spec, op: renderedOp } = requestRender(new URLSearchParams(p.renderQuery ?? ""), image.info, p.op);
  p.op = renderedOp;
  const plane = spec ? { z: spec.z, t: spec.t } : undefined;
  // 413 before any work (the statistics included) when one patch holds too many samples.
  const tensor = p.tensor ? tensorFor(p.tensor, !!spec && p.op.name === "none") : undefined;
  checkOutputSize(
    { outWidth: p.size, outHeight: p.size, format: p.format, ...(tensor ? { tensor } : {}), render: spec ?? undefined },
    image.info.channels,
  );
  const computed = await ctx.stats.get(image.source, plane);
  const render = spec ? resolveRender(spec, computed.stats.percentiles) : undefined;
  if (p.tensor) p.tensor = tensorFor(p.tensor, !!render && p.op.name === "none");
  patchRequest(image, p.op, p, { x: 0, y: 0 }, render); // 413 now when one patch is too large
  const op = await resolveOpSpec(p.op, ctx.stats.provider(image.source, plane));
  const { tissue } = computed.stats;
  const integral = tissueIntegralOf(computed.tissueMap, tissue.width, tissue.height);
  // A sample draws from every tissue cell (the grid is bounded by MAX_GRID_CELLS); a whole export stops
  // counting past MAX_PATCHES.
  const tissuePatches = await countTissueCells(width, height, integral, p, p.sample ? Infinity : MAX_PATCHES, signal);
  if (!p.sample && tissuePatches > MAX_PATCHES) {
    throw badRequest(
      `the export has more than ${MAX_PATCHES} patches: raise min, size, stride or downsample, or sample with limit=`,
    );
  }
  const ranks = p.sample && p.sample.limit < tissuePatches
    ? sampleRanks(tissuePatches, p.sample.limit, p.sample.seed)
    : undefined;
  const selected = ranks ? ranks.length : tissuePatches;
  const shardSize = p.shard?.size ?? Math.max(1, selected);
  const shards = Math.max(1, Math.ceil(selected / shardSize));
  const index = p.shard?.index ?? 0;
  if (index >= shards) throw notFound(`no shard ${index}: the export has ${shards} shards of ${shardSize} patches`);
  const from = index * shardSize, total = Math.min(selected, from + shardSize) - from;
  const level = bestLevelForDownsample(image.info.levels, p.downsample);
  const plan: PatchPlan = {
    image,
    op,
    integral,
    level,
    tissuePatches,
    ...(ranks ? { ranks } : {}),
    selected,
    shards,
    from,
    total,
    ...(render ? { render } : {}),
  };
  // What fails for one patch fails for all (a source too large to read within the budget, a level that does
  // not decode): the first patch is computed now, so that such an export is its 4xx, before any byte.
  const first = total > 0 && ctx.backend ? (await exportCells(plan, p, signal).next()).value : undefined;
  if (first && ctx.backend) {
    const request = patchRequest(image, op, p, first, render);
    const tile = ctx.backend.run(image.source, { kind: "tile", request }, signal);
    await tile;
    plan.first = { x: first.x, y: first.y, tile };
  }
  return plan;
}

/**
 * The cells of a planned export, row-major: the tissue cells, those of the sample where there is one,
 * those of the shard's range; the grid is walked lazily and the walk stops after the shard's last cell.
 */
async function* exportCells(plan: PatchPlan, p: PatchParams, signal?: AbortSignal): AsyncGenerator<TissueCell> {
  const { width, height } = plan.image.info;
  const { ranks, from } = plan, to = from + plan.total;
  let rank = -1, chosen = -1, r = 0;
  for await (const cell of tissueCells(width, height, plan.integral, p, signal)) {
    rank++;
    if (ranks) {
      if (r >= ranks.length) return;
      if (ranks[r] !== rank) continue;
      r++;
    }
    if (++chosen < from) continue;
    if (chosen >= to) return;
    yield cell;
  }
}

/**
 * The WebDataset sample key of a patch: the image file's name (without extension, as a word, at most 64
 * characters) and the origin, so that `{key}.json` fits a tar header's 100-byte name for any origin.
 */
export function sampleKey(imageId: string, x: number, y: number): string {
  const name = imageId.slice(imageId.lastIndexOf("/") + 1).replace(/\.[^.]*$/, "");
  return `${name.replace(/[^A-Za-z0-9_-]+/g, "_").slice(0, 64)}_${x}_${y}`;
}

/** The request of the patch at level-0 (`x`, `y`); 413 when its output is too large. */
function patchRequest(
  image: ResolvedImage,
  op: OpSpec,
  p: PatchParams,
  at: { x: number; y: number },
  render?: ResolvedRender,
): TileRequest {
  const span = p.size * p.downsample;
  const region = { x: at.x, y: at.y, w: span, h: span };
  return tileRequestOf(
    {
      image,
      region,
      outWidth: p.size,
      outHeight: p.size,
      format: p.format,
      op,
      quality: p.quality,
      tensor: p.tensor,
    },
    op,
    render,
  );
}

/** Exports being computed in this thread (their windows are shared: `exportPatches`). */
let activeExports = 0;

/** Consecutive patches of a row computed on one worker (in its block cache), a group of them at a time. */
export const PATCH_GROUP = 8;

/** Patches an export computes at once on `workers` workers: enough for every worker's groups to overlap. */
export function exportWindow(workers: number): number {
  return Math.max(8, workers * PATCH_GROUP * 3 / 2);
}

/**
 * Whether an export at `level` reads as a scan (stored blocks decoded whole and kept, not in part): when two
 * rows of the level's blocks, which the patch rows straddling them share, fit the pixel budget. Past it a
 * block would be evicted before the next patch row needs it, and decoding only the parts costs less.
 */
export function readsAsScan(image: ResolvedImage, level: number, pixelBudgetBytes?: number): boolean {
  const L = image.info.levels[level];
  if (!L?.stored || pixelBudgetBytes === undefined) return false;
  const pixel = image.info.channels * arrayTypeFor(image.info.pixelType).BYTES_PER_ELEMENT;
  return 2 * Math.ceil(L.width / L.tileWidth) * L.tileWidth * L.tileHeight * pixel <= pixelBudgetBytes;
}

/**
 * The patches of a planned export, in row-major order, computed up to `window` at a time (an export started
 * while others run takes `window` divided by their number, at least 2); the grid is walked lazily (never
 * held whole). Each group of `PATCH_GROUP` consecutive patches of a row runs on one worker
 * (the groups take the workers in turn), so the stored blocks its patches share are decoded once, in that
 * worker's cache, and — where `readsAsScan` — whole (bench/README.md: +15 % patches/s off the stored grid).
 */
export async function* exportPatches(
  ctx: { backend: TileBackend; config?: { pixelCacheBytes: number } },
  plan: PatchPlan,
  p: PatchParams,
  progress: PatchProgress = { total: 0, started: 0, done: 0, maxInFlight: 0 },
  window = 8,
  signal?: AbortSignal,
): AsyncGenerator<Patch> {
  const { image, op, render: rendering } = plan;
  const cells = exportCells(plan, p, signal);
  progress.total = plan.total;
  const { mpp } = scaleOfDownsample(image.info, p.downsample);
  const ext = EXT[p.format], opName = canonicalOp(opLabel(op));
  const scan = readsAsScan(image, plan.level, ctx.config?.pixelCacheBytes);
  const groupSpan = PATCH_GROUP * p.size * p.downsample;
  let inFlight = 0;
  const render = (c: TissueCell): Promise<Patch> => {
    const request = { ...patchRequest(image, op, p, c, rendering), ...(scan ? { scan } : {}) };
    progress.started++;
    inFlight++;
    progress.maxInFlight = Math.max(progress.maxInFlight, inFlight);
    const group = Math.floor(c.x / groupSpan);
    const planned = plan.first?.x === c.x && plan.first.y === c.y ? plan.first.tile : undefined;
    if (planned) delete plan.first;
    const patch = (planned ?? ctx.backend.run(image.source, { kind: "tile", request }, signal, group)).then((tile) => {
      inFlight--;
      progress.done++;
      const key = p.layout === "webdataset" ? sampleKey(image.id, c.x, c.y) : undefined;
      const entry: PatchEntry = {
        image: image.id,
        version: image.source.version,
        file: `${key ?? `${c.x}_${c.y}`}.${ext}`,
        ...(key ? { key } : {}),
        x: c.x,
        y: c.y,
        w: c.w,
        h: c.h,
        level: plan.level,
        downsample: p.downsample,
        ...(mpp !== undefined ? { mpp } : {}),
        tissue: c.tissue,
        op: opName,
      };
      if (tile.headers?.["X-Quant-Scale"]) {
        entry.quantScale = tile.headers["X-Quant-Scale"].split(",").map(Number);
        entry.quantZeroPoint = tile.headers["X-Quant-Zero-Point"].split(",").map(Number);
        entry.sqnrDb = Number(tile.headers["X-Quant-SQNR"]);
      }
      return { entry, bytes: tile.bytes };
    }, (err) => {
      inFlight--;
      throw err;
    });
    // Marked handled now: a consumer that goes away without finishing this generator (a client that left
    // before its body was read) leaves patches in flight whose rejection (cancelled) nobody awaits.
    patch.catch(() => {});
    return patch;
  };
  const queue: Promise<Patch>[] = [];
  const nextCell = async () => {
    const n = await cells.next();
    return n.done ? null : n.value;
  };
  // Exports at once share the window: each later one takes its share (at least 2), so a burst of exports
  // (or of clients that never read theirs) cannot fill the pool's queue and turn tiles away with 503s.
  activeExports++;
  const share = Math.max(2, Math.floor(window / activeExports));
  try {
    for (let c; queue.length < share && (c = await nextCell());) queue.push(render(c));
    while (queue.length > 0) {
      const patch = await queue.shift()!;
      const c = await nextCell();
      if (c) queue.push(render(c));
      yield patch;
    }
  } finally {
    activeExports--;
    // The consumer stopped (or an error): nothing more is started; the few in flight finish unobserved.
    for (const q of queue) q.catch(() => {});
    await cells.return(undefined);
  }
}

/**
 * A planned patch export's patches (export/plan.ts), in row-major order: every tissue cell of the grid (or
 * the sample's, or one shard's), each built from the plan's one recipe and served by the tile service like
 * any tile (its cache mode `lookup`: a tile already there is taken, the export's own are not kept). Patches
 * are computed up to a window at a time and produced only as fast as the consumer takes them (HTTP
 * backpressure, or the CLI's writes); when the consumer stops, no more are started. Shared by
 * `GET /images/{id}/patches.tar|ndjson` and `deno task extract`.
 */
import type { AppContext } from "../service/context.ts";
import { builtOf } from "../service/request.ts";
import { serveTile } from "../service/tile_service.ts";
import type { TileFormat } from "../pipeline/tile_request.ts";
import { type TissueCell, tissueCells } from "../stats/tissue_grid.ts";
import { scaleOfDownsample } from "../pyramid/physical.ts";
import { arrayTypeFor } from "../core/raster.ts";
import type { ResolvedImage } from "../sources/registry.ts";
import type { PatchParams, PatchPlan } from "./plan.ts";

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
  /** The op as it ran: the same tile's `X-Op`. */
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
 * The WebDataset sample key of a patch: the image file's name (without extension, as a word, at most 64
 * characters) and the origin, so that `{key}.json` fits a tar header's 100-byte name for any origin.
 */
export function sampleKey(imageId: string, x: number, y: number): string {
  const name = imageId.slice(imageId.lastIndexOf("/") + 1).replace(/\.[^.]*$/, "");
  return `${name.replace(/[^A-Za-z0-9_-]+/g, "_").slice(0, 64)}_${x}_${y}`;
}

/**
 * The cells of a planned export, row-major: the tissue cells, those of the sample where there is one,
 * those of the shard's range; the grid is walked lazily and the walk stops after the shard's last cell.
 */
async function* exportCells(plan: PatchPlan, signal?: AbortSignal): AsyncGenerator<TissueCell> {
  const { width, height } = plan.image.info;
  const { ranks, from } = plan, to = from + plan.total;
  let rank = -1, chosen = -1, r = 0;
  for await (const cell of tissueCells(width, height, plan.integral, plan.grid, signal)) {
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
 * The patches of a planned export, in row-major order, computed up to `window` at a time (an export started
 * while others run takes its share of it: `ctx.exportWindows`); the grid is walked lazily (never held
 * whole). Each group of `PATCH_GROUP` consecutive patches of a row runs on one worker (the groups take the
 * workers in turn), so the stored blocks its patches share are decoded once, in that worker's cache, and —
 * where `readsAsScan` — whole. The first `next()` computes the first patch: what fails for one fails there.
 */
export async function* exportPatches(
  ctx: Pick<AppContext, "cache" | "backend" | "codecs" | "exportWindows"> & { config?: { pixelCacheBytes: number } },
  plan: PatchPlan,
  p: Readonly<PatchParams>,
  progress: PatchProgress = { total: 0, started: 0, done: 0, maxInFlight: 0 },
  window = 8,
  signal?: AbortSignal,
): AsyncGenerator<Patch> {
  const { image, recipe, grid } = plan;
  const cells = exportCells(plan, signal);
  progress.total = plan.total;
  const { mpp } = scaleOfDownsample(image.info, grid.downsample);
  const ext = EXT[recipe.format];
  const scan = readsAsScan(image, plan.level, ctx.config?.pixelCacheBytes);
  const groupSpan = PATCH_GROUP * grid.size * grid.downsample;
  const how = { mode: p.mode ?? "lookup" as const, pinned: false };
  let inFlight = 0;
  const render = (c: TissueCell): Promise<Patch> => {
    const span = grid.size * grid.downsample;
    const g = { region: { x: c.x, y: c.y, w: span, h: span }, outWidth: grid.size, outHeight: grid.size, scan };
    const built = builtOf(recipe, g, ctx.codecs.tier, how);
    progress.started++;
    inFlight++;
    progress.maxInFlight = Math.max(progress.maxInFlight, inFlight);
    const conn = { affinity: Math.floor(c.x / groupSpan), ...(signal ? { signal: () => signal } : {}) };
    const patch = serveTile(ctx, built, conn).then((answer) => {
      inFlight--;
      progress.done++;
      if (answer.notModified) throw new Error("a patch answered not-modified"); // no validator is sent
      const { tile } = answer;
      const key = p.layout === "webdataset" ? sampleKey(image.id, c.x, c.y) : undefined;
      const { quant } = tile.notes;
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
        downsample: grid.downsample,
        ...(mpp !== undefined ? { mpp } : {}),
        tissue: c.tissue,
        op: tile.xOp,
        // As the tile's X-Quant-* headers say them.
        ...(quant
          ? {
            quantScale: quant.scale.map((v) => Number(v.toPrecision(9))),
            quantZeroPoint: quant.zeroPoint,
            sqnrDb: Number(quant.sqnrDb.toFixed(3)),
          }
          : {}),
      };
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
  const nextCell = async () => {
    const n = await cells.next();
    return n.done ? null : n.value;
  };
  // The first patch alone: an export that fails fails on it, before its window of patches is started.
  const first = await nextCell();
  if (!first) return;
  const firstPatch = await render(first);
  // Exports at once share the window: each later one takes its share (at least 2), so a burst of exports
  // (or of clients that never read theirs) cannot fill the pool's queue and turn tiles away with 503s.
  const { share, leave } = ctx.exportWindows.enter(window);
  const queue: Promise<Patch>[] = [];
  try {
    for (let c; queue.length < share && (c = await nextCell());) queue.push(render(c));
    yield firstPatch;
    while (queue.length > 0) {
      const patch = await queue.shift()!;
      const c = await nextCell();
      if (c) queue.push(render(c));
      yield patch;
    }
  } finally {
    leave();
    // The consumer stopped (or an error): nothing more is started; the few in flight finish unobserved.
    for (const q of queue) q.catch(() => {});
    await cells.return(undefined);
  }
}

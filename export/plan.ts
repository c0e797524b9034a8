/**
 * What a whole-slide patch export will do, settled before anything is streamed: the image, the grid at its
 * resolved scale, the one recipe every patch shares (service/request.ts: the op and the render resolved
 * once), the tissue cells counted, the sample and the shard. A request's parameters are read, never written.
 */
import type { ImageRegistry, ResolvedImage } from "../sources/registry.ts";
import type { StatsService } from "../service/stats.ts";
import { buildRecipe, type TileRecipe } from "../service/request.ts";
import type { TileFormat } from "../pipeline/tile_request.ts";
import type { OpSpec } from "../kernels/op.ts";
import type { TensorSpec } from "../pipeline/tensor.ts";
import type { CacheMode } from "../cache/tile_cache.ts";
import {
  countTissueCells,
  gridCellCount,
  MAX_GRID_CELLS,
  type TissueIntegral,
  tissueIntegralOf,
} from "../stats/tissue_grid.ts";
import { badRequest, notFound } from "../errors.ts";
import type { GridParams } from "../service/query.ts";
import { downsampleForScale } from "../pyramid/physical.ts";
import { bestLevelForDownsample } from "../pyramid/levels.ts";
import { sampleRanks } from "./sample.ts";

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
  /** How the patches use the tile cache (`cache=`): `lookup` unless asked otherwise (exports never fill it). */
  mode?: CacheMode;
}

/** Most patches one export may hold (its manifest is kept to the end of a tar: ≤ ~40 MB). */
export const MAX_PATCHES = 200_000;

/** What an export will do, checked before anything is streamed. */
export interface PatchPlan {
  readonly image: ResolvedImage;
  /** What every patch is: op, render, encoding — resolved once. */
  readonly recipe: TileRecipe;
  /** The grid with its scale resolved to a level-0 downsample. */
  readonly grid: GridParams;
  readonly integral: TissueIntegral;
  /** The level every patch reads (the best for the downsample). */
  readonly level: number;
  /** Tissue cells of the grid (before sampling and sharding). */
  readonly tissuePatches: number;
  /** Ranks (among the tissue cells) of the sample, when `limit` draws one. */
  readonly ranks?: Uint32Array;
  /** Patches of the export before sharding, its shards, and this shard's range of them. */
  readonly selected: number;
  readonly shards: number;
  readonly from: number;
  /** Patches the export (this shard) will hold. */
  readonly total: number;
}

/**
 * Resolves the image, its statistics and the recipe, and checks the export before it starts: 400 past
 * `MAX_GRID_CELLS` grid cells or `MAX_PATCHES` patches, 413 when one patch's samples exceed
 * `MAX_OUTPUT_BYTES` (before the statistics are computed). Counting walks the grid lazily, in slices.
 */
export async function planPatchExport(
  ctx: { registry: ImageRegistry; stats: StatsService },
  id: string,
  p: Readonly<PatchParams>,
  signal?: AbortSignal,
): Promise<PatchPlan> {
  const image = await ctx.registry.resolve(id);
  const { width, height } = image.info;
  const grid: GridParams = { ...p, downsample: downsampleForScale(image.info, p.scale) };
  const cells = gridCellCount(width, height, grid);
  if (cells > MAX_GRID_CELLS) {
    throw badRequest(`the grid has ${cells} cells, more than ${MAX_GRID_CELLS}: raise size, stride or downsample`);
  }
  const recipe = await buildRecipe(ctx.stats, image, p.format, {
    op: p.op,
    quality: p.quality,
    renderQuery: new URLSearchParams(p.renderQuery ?? ""),
    ...(p.tensor ? { tensor: p.tensor } : {}),
  }, { outWidth: p.size, outHeight: p.size });
  // The tissue map of the plane the patches render (the first plane's otherwise).
  const plane = recipe.render ? { z: recipe.render.z, t: recipe.render.t } : undefined;
  const computed = await ctx.stats.get(image.source, plane);
  const { tissue } = computed.stats;
  const integral = tissueIntegralOf(computed.tissueMap, tissue.width, tissue.height);
  // A sample draws from every tissue cell (the grid is bounded by MAX_GRID_CELLS); a whole export stops
  // counting past MAX_PATCHES.
  const tissuePatches = await countTissueCells(
    width,
    height,
    integral,
    grid,
    p.sample ? Infinity : MAX_PATCHES,
    signal,
  );
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
  return Object.freeze({
    image,
    recipe,
    grid,
    integral,
    level: bestLevelForDownsample(image.info.levels, grid.downsample),
    tissuePatches,
    ...(ranks ? { ranks } : {}),
    selected,
    shards,
    from,
    total,
  });
}

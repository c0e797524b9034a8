/**
 * The one tile request builder. A route maps its URL to a target (the image, the footprint, the output size,
 * the format) and hands over the query; here it becomes one frozen, fully resolved request — the op with its
 * global parameters resolved against the image statistics, the render step with its windows, the tensor,
 * the quality rule — with its cache key, built once. Tiles, Zarr chunks, patch exports and the command line
 * all build here; the tile service (tile_service.ts) runs what was built.
 */
import { HttpError } from "../errors.ts";
import type { CacheMode } from "../cache/tile_cache.ts";
import type { TileKey } from "../cache/key.ts";
import type { Rect } from "../core/rect.ts";
import type { OpSpec } from "../kernels/op.ts";
import { resolveOpSpec } from "../kernels/index.ts";
import { type RenderSpec, type ResolvedRender, resolveRender } from "../kernels/render.ts";
import { deprecatedTPlane, requestRender } from "./render_query.ts";
import { parseTensorSpec, type TensorSpec } from "../pipeline/tensor.ts";
import { tensorFor } from "../pipeline/raw_tensor.ts";
import {
  checkOutputSize,
  type ChunkSpec,
  type TileFormat,
  tileKey,
  type TileRequest,
} from "../pipeline/tile_request.ts";
import type { ResolvedImage } from "../sources/registry.ts";
import type { CodecTier } from "../codecs/tier.ts";
import type { StatsService } from "./stats.ts";
import { parseCacheMode, parseTileOptions, rejectUnread, type TileOptions, type TrackedQuery } from "./query.ts";

/** Where the output's pixels come from and how large it is: what a URL's path names. */
export interface TileGeometry {
  /** Footprint in level-0 pixels (or in the associated image's pixels). */
  region: Rect;
  outWidth: number;
  outHeight: number;
  /** An associated image (label, macro, thumbnail) instead of the pyramid. */
  associated?: string;
  /** Clockwise right-angle rotation and mirroring (IIIF). */
  rotate?: 0 | 90 | 180 | 270;
  mirror?: boolean;
  /** For `zarr` output: the planes of the chunk. */
  chunk?: ChunkSpec;
  /** A hint for the reader (a patch export's scan of the stored blocks): how, not what, so not in the key. */
  scan?: boolean;
}

/** What a route asks for: the image, the geometry and the format its URL names. */
export interface TileTarget extends TileGeometry {
  image: ResolvedImage;
  format: TileFormat;
}

/** What a recipe is made of, as asked (global op parameters such as `t=otsu` and `auto` windows unresolved). */
export interface RecipeAsk {
  op: OpSpec;
  quality: number;
  /** A JPEG's padding colour, `RRGGBB` (`bg=`). */
  background?: string;
  /** The render step's parameters (c, color, window, …); none for associated images. */
  renderQuery?: URLSearchParams;
  /** For `npy` output, as asked. */
  tensor?: TensorSpec;
}

/** Everything of a request but its geometry, resolved: what every patch of an export shares. */
export interface TileRecipe {
  readonly image: ResolvedImage;
  readonly format: TileFormat;
  readonly op: OpSpec;
  readonly quality: number;
  readonly background?: string;
  readonly render?: ResolvedRender;
  readonly tensor?: TensorSpec;
}

/** A request built once: what to compute, its key, and how it was asked (cache mode, a pinned version). */
export interface BuiltTile {
  readonly image: ResolvedImage;
  readonly request: Readonly<TileRequest>;
  readonly key: TileKey;
  readonly mode: CacheMode;
  readonly pinned: boolean;
  /** What the request asked in a deprecated form, said back to the client (`Deprecation`, `Warning`). */
  readonly deprecation?: string;
}

/** A tile URL's query as read before its image is resolved (so a bad parameter is a 400 whatever the id). */
export interface TileQuery {
  readonly query: TrackedQuery;
  readonly options: TileOptions;
  /** Names the request in a 400 for a parameter nothing read ("a Deep Zoom tile"). */
  readonly what: string;
  /** Render parameters the URL carries in its path (an IIIF meta-identifier); the query's own win. */
  readonly extra?: URLSearchParams;
}

/** Reads op, quality and background from a tile's query (400 naming a bad one). */
export function readTileQuery(
  query: TrackedQuery,
  defaultQuality: number,
  what: string,
  extra?: URLSearchParams,
): TileQuery {
  return { query, options: parseTileOptions(query, defaultQuality), what, ...(extra ? { extra } : {}) };
}

/** The quality a request keeps: the given one for lossy formats, 0 (dropped from the key) otherwise. */
export function keptQuality(format: TileFormat, quality: number): number {
  return format === "jpeg" || format === "webp" ? quality : 0;
}

/** 404 `stale_version` when the caller pinned a version the image no longer has. */
export function checkPinned(image: ResolvedImage, pinned: string | null): void {
  if (pinned !== null && pinned !== image.source.version) {
    throw new HttpError(
      404,
      "stale_version",
      `image "${image.id}" changed: version ${pinned} is gone, the current one is ${image.source.version}`,
    );
  }
}

/** A recipe's parsed parts, before anything is resolved: the render step as asked, the op it leaves, the tensor. */
interface RecipeDraft {
  spec: RenderSpec | null;
  asked: OpSpec;
  tensor?: TensorSpec;
}

/**
 * The parsing half of a recipe: the render step parsed (quantize's `rescale` becoming its windows) and the
 * tensor settled; 413 when one output of `outWidth` × `outHeight` would hold too many samples (before any
 * statistics are computed).
 */
function draftRecipe(
  image: ResolvedImage,
  format: TileFormat,
  ask: RecipeAsk,
  size: { outWidth: number; outHeight: number },
): RecipeDraft {
  const { render: spec, op: asked } = ask.renderQuery
    ? requestRender(ask.renderQuery, image.info, ask.op)
    : { render: null, op: ask.op };
  const tensor = format === "npy" && ask.tensor ? tensorFor(ask.tensor, !!spec && asked.name === "none") : undefined;
  checkOutputSize({ ...size, format, ...(tensor ? { tensor } : {}), render: spec ?? undefined }, image.info.channels);
  return { spec, asked, ...(tensor ? { tensor } : {}) };
}

/**
 * The resolving half: the op's global parameters and `auto` windows resolved against the statistics of the
 * plane rendered (computed only when something asks).
 */
async function resolveRecipe(
  stats: StatsService,
  image: ResolvedImage,
  format: TileFormat,
  ask: RecipeAsk,
  { spec, asked, tensor }: RecipeDraft,
): Promise<TileRecipe> {
  const provider = stats.provider(image.source, spec ? { z: spec.z, t: spec.t } : undefined);
  const op = await resolveOpSpec(asked, provider);
  const render = !spec
    ? undefined
    : spec.window.includes("auto")
    ? resolveRender(spec, (await provider.get()).percentiles)
    : resolveRender(spec, { low: [], high: [] });
  return Object.freeze({
    image,
    format,
    op,
    quality: keptQuality(format, ask.quality),
    ...(ask.background && format === "jpeg" ? { background: ask.background } : {}),
    ...(render ? { render } : {}),
    ...(format === "npy" ? { tensor: tensor ?? { dtype: "uint8" as const } } : {}),
  });
}

/** The recipe of `ask` on `image` in `format`, for outputs of `size` (a patch export's, shared by its patches). */
export async function buildRecipe(
  stats: StatsService,
  image: ResolvedImage,
  format: TileFormat,
  ask: RecipeAsk,
  size: { outWidth: number; outHeight: number },
): Promise<TileRecipe> {
  return await resolveRecipe(stats, image, format, ask, draftRecipe(image, format, ask, size));
}

/** The frozen request of `recipe` at `geometry`; 413 when its output would be too large. */
export function requestOf(recipe: TileRecipe, g: TileGeometry): Readonly<TileRequest> {
  const request: TileRequest = {
    ...(g.associated ? { associated: g.associated } : {}),
    ...(g.rotate ? { rotate: g.rotate } : {}),
    ...(g.mirror ? { mirror: g.mirror } : {}),
    ...(recipe.background ? { background: recipe.background } : {}),
    image: recipe.image.id,
    version: recipe.image.source.version,
    region: g.region,
    outWidth: g.outWidth,
    outHeight: g.outHeight,
    op: recipe.op,
    format: recipe.format,
    quality: recipe.quality,
    ...(recipe.tensor ? { tensor: recipe.tensor } : {}),
    ...(recipe.render ? { render: recipe.render } : {}),
    ...(g.chunk ? { chunk: g.chunk } : {}),
    ...(g.scan ? { scan: true } : {}),
  };
  checkOutputSize(request, recipe.image.info.channels);
  return Object.freeze(request);
}

/** One request of a recipe, keyed, as asked. */
export function builtOf(
  recipe: TileRecipe,
  g: TileGeometry,
  codecs: CodecTier,
  how: { mode: CacheMode; pinned: boolean },
): BuiltTile {
  const request = requestOf(recipe, g);
  return Object.freeze({ image: recipe.image, request, key: tileKey(request, codecs), ...how });
}

/** An OME-Zarr chunk's fixed op: nothing but `v` and `cache` is read from its query. */
export interface FixedTileQuery {
  query: TrackedQuery;
  what: string;
  op: OpSpec;
  /** The default render step (a label image: the mask of what `op=mask` tiles show), or none (raw samples). */
  defaultRender: boolean;
}

/**
 * A route's tile, built: `?v=` checked against the image's version (404 when it changed), `?cache=`, the
 * render and tensor parameters read, a parameter nothing read a 400, then the recipe resolved.
 */
export async function buildTile(
  ctx: { stats: StatsService; codecs: { tier: CodecTier } },
  target: TileTarget,
  asked: TileQuery | FixedTileQuery,
): Promise<BuiltTile> {
  const { query, what } = asked;
  const pinned = query.get("v");
  checkPinned(target.image, pinned);
  const mode = parseCacheMode(query);
  let ask: RecipeAsk;
  if ("op" in asked) {
    ask = { op: asked.op, quality: 0, ...(asked.defaultRender ? { renderQuery: new URLSearchParams() } : {}) };
  } else {
    // Parameters carried by the URL's path (an IIIF meta-identifier): the query's own win.
    for (const [k, v] of asked.extra ?? []) if (!query.has(k)) query.set(k, v);
    ask = { ...asked.options, ...(target.associated ? {} : { renderQuery: query }) };
    if (target.format === "npy") ask.tensor = parseTensorSpec(query);
  }
  const draft = draftRecipe(target.image, target.format, ask, target);
  const deprecation = "op" in asked ? null : deprecatedTPlane(query, draft.asked);
  rejectUnread(query, `${what}${draft.asked.name === "none" ? "" : ` with op=${draft.asked.name}`}`);
  const recipe = await resolveRecipe(ctx.stats, target.image, target.format, ask, draft);
  const built = builtOf(recipe, target, ctx.codecs.tier, { mode, pinned: pinned !== null });
  return deprecation ? Object.freeze({ ...built, deprecation }) : built;
}

/**
 * The tile service, below the routes: turns a request value (`TileTarget` + how it was asked) into an
 * encoded tile. Version pinning, op resolution against the image statistics, the `TileRequest` (one
 * quality rule for every caller), its key and ETag, the conditional check, then the cache (memory, KV)
 * or the backend. Routes map the answer to HTTP; patch export and the CLI build their requests here too.
 */
import { bandAffinity } from "../pyramid/read_plan.ts";
import { HttpError } from "../errors.ts";
import { ifNoneMatchHits } from "../cache/key.ts";
import { tileKey } from "../pipeline/tile_request.ts";
import type { CacheMode, CacheResult } from "../cache/tile_cache.ts";
import type { TensorSpec } from "../pipeline/tensor.ts";
import { opLabel, resolveOpSpec } from "../kernels/index.ts";
import { canonicalRender, type RenderSpec, type ResolvedRender, resolveRender } from "../kernels/render.ts";
import { checkOutputSize, type ChunkSpec, type TileFormat, type TileRequest } from "../pipeline/tile_request.ts";
import { canonicalOp, type OpSpec } from "../kernels/op.ts";
import type { ResolvedImage } from "../sources/registry.ts";
import type { AppContext } from "./context.ts";

/** What a caller asks the pipeline for: an image, a footprint, an output size, an op and an encoding. */
export interface TileTarget {
  image: ResolvedImage;
  /** Footprint in level-0 pixels (or in the associated image's pixels). */
  region: TileRequest["region"];
  outWidth: number;
  outHeight: number;
  format: TileFormat;
  /** The op as parsed (global parameters such as `t=otsu` still unresolved, or already resolved). */
  op: OpSpec;
  /** 1..100, used by JPEG and WebP only. */
  quality: number;
  /** For `npy` output. */
  tensor?: TensorSpec;
  /** The render step's parameters (windows may be `auto`: resolved per image version here). */
  render?: RenderSpec;
  /** For `zarr` output: the planes of the chunk. */
  chunk?: ChunkSpec;
  /** An associated image (Aperio label, macro, thumbnail) instead of the pyramid. */
  associated?: string;
  /** A JPEG's padding colour, `RRGGBB` (`bg=`). */
  background?: string;
  /** Clockwise right-angle rotation and mirroring (IIIF). */
  rotate?: 0 | 90 | 180 | 270;
  mirror?: boolean;
}

/** How a tile was asked for, besides what it is. */
export interface TileAsk {
  /** `?v=`: the version the caller pinned, or null. */
  pinned: string | null;
  mode: CacheMode;
  /** The `If-None-Match` header, or null. */
  ifNoneMatch: string | null;
  /** The signal of the work (it is asked for only when a computation starts). */
  signal?: () => AbortSignal;
}

/** The service's answer: not modified (the ETag matched), or the tile and how it was obtained. */
export type TileAnswer =
  & { etag: string; pinned: boolean; timings: Record<string, number> }
  & ({ notModified: true } | { notModified: false; tile: CacheResult["tile"]; cache: CacheResult["status"] });

/** The quality a request keeps: the given one for lossy formats, 0 (dropped from the key) otherwise. */
export function keptQuality(format: TileFormat, quality: number): number {
  return format === "jpeg" || format === "webp" ? quality : 0;
}

/** The `TileRequest` of a target whose op is resolved; 413 when its output would be too large. */
export function tileRequestOf(t: TileTarget, op: OpSpec = t.op, render?: ResolvedRender): TileRequest {
  const request: TileRequest = {
    ...(t.associated ? { associated: t.associated } : {}),
    ...(t.rotate ? { rotate: t.rotate } : {}),
    ...(t.mirror ? { mirror: t.mirror } : {}),
    ...(t.background && t.format === "jpeg" ? { background: t.background } : {}),
    image: t.image.id,
    version: t.image.source.version,
    region: t.region,
    outWidth: t.outWidth,
    outHeight: t.outHeight,
    op,
    format: t.format,
    quality: keptQuality(t.format, t.quality),
    ...(t.format === "npy" ? { tensor: t.tensor ?? { dtype: "uint8" } } : {}),
    ...(render ? { render } : {}),
    ...(t.chunk ? { chunk: t.chunk } : {}),
  };
  checkOutputSize(request, t.image.info.channels);
  return request;
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

/**
 * One tile: the pinned version checked, the op's global parameters resolved (before keying, so equal
 * pixels share one key and the answer says which values were used), the request keyed, a matching
 * `If-None-Match` answered before any pixel work, then the cache or the backend.
 */
export async function serveTile(ctx: AppContext, target: TileTarget, ask: TileAsk): Promise<TileAnswer> {
  const { image } = target;
  checkPinned(image, ask.pinned);
  const t0 = performance.now();
  const spec = target.render;
  // Global parameters (t=otsu, auto windows) resolve against the statistics of the plane rendered.
  const stats = ctx.stats.provider(image.source, spec ? { z: spec.z, t: spec.t } : undefined);
  const op = await resolveOpSpec(target.op, stats);
  // Statistics are computed only when a window is `auto` (explicit windows need none).
  const render = !spec
    ? undefined
    : spec.window.includes("auto")
    ? resolveRender(spec, (await stats.get()).percentiles)
    : resolveRender(spec, { low: [], high: [] });
  const request = tileRequestOf(target, op, render);
  const key = tileKey(request, ctx.codecs.tier);
  const base = { etag: key.etag, pinned: ask.pinned !== null };
  const resolve = performance.now() - t0;
  if (ask.mode === "normal" && ifNoneMatchHits(ask.ifNoneMatch, key.etag)) {
    return { ...base, notModified: true, timings: { resolve } };
  }
  const result = await ctx.cache.get(
    key,
    async (signal) => {
      // Tiles of one band of a banded level (NDPI) on one worker: the band decoded once for them all.
      const affinity = request.associated ? undefined : bandAffinity(image.info, request);
      const tile = await ctx.backend.run(image.source, { kind: "tile", request }, signal, affinity);
      return {
        tile: {
          bytes: tile.bytes,
          contentType: tile.contentType,
          xOp: xOpHeader(op, tile.resolved),
          // The render as it ran (auto windows resolved): kept with the tile, like X-Op.
          headers: render ? { ...tile.headers, "X-Render": canonicalRender(render) } : tile.headers,
        },
        timings: tile.timings,
      };
    },
    ask.mode,
    ask.signal,
  );
  return {
    ...base,
    notModified: false,
    tile: result.tile,
    cache: result.status,
    timings: { resolve, ...result.timings },
  };
}

/** `X-Op`: the op and the parameters it ran with (`threshold;t=172`); palette colours left out (see /stats). */
export function xOpHeader(op: OpSpec, resolved?: Record<string, string | number>): string {
  return canonicalOp(opLabel(op, resolved)).replace(":", ";");
}

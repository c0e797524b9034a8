/**
 * The tile service, below the routes: runs a request built by `service/request.ts`. A matching
 * `If-None-Match` is answered before any pixel work; otherwise the cache (memory, KV: as the request's cache
 * mode says) or the backend computes it, once however many ask. Routes map the answer to HTTP; Zarr chunks,
 * patch exports and the command line are served here too.
 */
import { bandAffinity } from "../pyramid/read_plan.ts";
import { ifNoneMatchHits } from "../cache/key.ts";
import type { CacheResult } from "../cache/tile_cache.ts";
import { opLabel } from "../kernels/index.ts";
import { canonicalRender } from "../kernels/render.ts";
import { canonicalOp, type OpSpec } from "../kernels/op.ts";
import type { AppContext } from "./context.ts";
import type { BuiltTile } from "./request.ts";

/** How the answer travels, besides what was asked: the validator the client holds, the work's signal. */
export interface TileConnection {
  /** The `If-None-Match` header, or null. */
  ifNoneMatch?: string | null;
  /** The signal of the work (it is asked for only when a computation starts). */
  signal?: () => AbortSignal;
  /** The worker to prefer (a patch export's group of neighbours); default: the band of a banded level. */
  affinity?: number;
}

/** The service's answer: not modified (the ETag matched), or the tile and how it was obtained. */
export type TileAnswer =
  & { etag: string; pinned: boolean; timings: Record<string, number> }
  & ({ notModified: true } | { notModified: false; tile: CacheResult["tile"]; cache: CacheResult["status"] });

/** One built tile: a matching `If-None-Match` answered before any pixel work, then the cache or the backend. */
export async function serveTile(
  ctx: Pick<AppContext, "cache" | "backend" | "storedTiles">,
  built: BuiltTile,
  conn: TileConnection = {},
): Promise<TileAnswer> {
  const { image, request, key, mode } = built;
  const base = { etag: key.etag, pinned: built.pinned };
  if (mode === "normal" && ifNoneMatchHits(conn.ifNoneMatch ?? null, key.etag)) {
    return { ...base, notModified: true, timings: {} };
  }
  const result = await ctx.cache.get(
    key,
    async (signal) => {
      // Tiles of one band of a banded level (NDPI) on one worker: the band decoded once for them all.
      const affinity = conn.affinity ?? (request.associated ? undefined : bandAffinity(image.info, request));
      const tile = (await ctx.storedTiles?.tile(image.source, image.info, request)) ??
        await ctx.backend.run(image.source, { kind: "tile", request }, signal, affinity);
      return {
        tile: {
          bytes: tile.bytes,
          contentType: tile.contentType,
          xOp: xOpHeader(request.op, tile.resolved),
          // The render as it ran (auto windows resolved): kept with the tile, like X-Op.
          notes: request.render ? { ...tile.notes, render: canonicalRender(request.render) } : (tile.notes ?? {}),
        },
        timings: tile.timings,
      };
    },
    mode,
    conn.signal,
  );
  return { ...base, notModified: false, tile: result.tile, cache: result.status, timings: result.timings };
}

/** `X-Op`: the op and the parameters it ran with (`threshold;t=172`); palette colours left out (see /stats). */
export function xOpHeader(op: OpSpec, resolved?: Record<string, string | number>): string {
  return canonicalOp(opLabel(op, resolved)).replace(":", ";");
}

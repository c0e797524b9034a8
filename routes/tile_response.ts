/**
 * A tile as HTTP: the route's target and query built into one request (service/request.ts), run by the tile
 * service (service/tile_service.ts), its answer mapped to a response with its validators and timings.
 */
import { withHeaders } from "../core/response_headers.ts";
import type { AppContext } from "../service/context.ts";
import { buildTile, type FixedTileQuery, type TileQuery, type TileTarget } from "../service/request.ts";
import { serveTile, type TileAnswer } from "../service/tile_service.ts";
import type { CachedTile, CacheMode } from "../cache/tile_cache.ts";
import { workSignalOf } from "../pipeline/abort.ts";
import { leasedBody } from "../service/leased_body.ts";
import { noteFastTile } from "../service/fast_hits.ts";

/**
 * Answers a tile route: 304 on a matching `If-None-Match`, else the tile. `?v=` pins the image version: the
 * answer is then immutable, and a changed file is a 404. A query parameter nothing read is a 400.
 */
export async function tileResponse(
  ctx: AppContext,
  incoming: Request,
  target: TileTarget,
  asked: TileQuery | FixedTileQuery,
): Promise<Response> {
  const t0 = performance.now();
  const built = await buildTile(ctx, target, asked);
  const resolve = performance.now() - t0;
  const answer = await serveTile(ctx, built, {
    ifNoneMatch: incoming.headers.get("If-None-Match"),
    signal: () => workSignalOf(incoming),
  });
  const res = answerResponse(ctx, { ...answer, timings: { resolve, ...answer.timings } }, built.mode, incoming.method);
  // A plain local file's tile in the default mode may be answered again by the fast path (service/fast_hits.ts).
  const source = built.image.source;
  if (built.mode === "normal" && !answer.notModified && source.pinned && !source.remote && !source.dicomweb) {
    noteFastTile(incoming, { hash: built.key.hash, id: built.image.id, version: source.version });
  }
  if (built.deprecation) {
    res.headers.set("Deprecation", "true");
    res.headers.set("Warning", `299 - "${built.deprecation}"`);
  }
  return res;
}

/** The headers a computed tile's notes answer as (the quantization of an int8 tensor, a pass-through, …). */
export function noteHeaders(tile: CachedTile, backend: string): Record<string, string> {
  const { quant, passThrough, render } = tile.notes;
  return {
    "X-Backend": tile.notes.backend ?? backend,
    ...(quant
      ? {
        "X-Quant-Scale": quant.scale.map((v) => v.toPrecision(9)).join(","),
        "X-Quant-Zero-Point": quant.zeroPoint.join(","),
        "X-Quant-SQNR": quant.sqnrDb.toFixed(3),
      }
      : {}),
    ...(passThrough ? { "X-Pass-Through": passThrough } : {}),
    ...(render ? { "X-Render": render } : {}),
  };
}

/**
 * The HTTP of a tile service answer: 304 with its validators, or the bytes with `ETag`, `Cache-Control`
 * (immutable when pinned, `no-store` when the cache was bypassed), `X-Cache`, `X-Backend`, `X-Op`,
 * `Server-Timing` and the tile's notes. Every route that serves `serveTile` answers with it.
 */
export function answerResponse(ctx: AppContext, answer: TileAnswer, mode: CacheMode, method = "GET"): Response {
  const cacheControl = answer.pinned ? "public, max-age=31536000, immutable" : `public, max-age=${ctx.config.cacheTtl}`;
  if (answer.notModified) {
    return new Response(null, { status: 304, headers: { ETag: answer.etag, "Cache-Control": cacheControl } });
  }
  const headers: Record<string, string> = {
    "Content-Type": answer.tile.contentType,
    // Known here, so the telemetry middleware need not buffer the body to learn it (HEAD answers it too).
    "Content-Length": String(answer.tile.bytes.byteLength),
    "Cache-Control": mode === "bypass" ? "no-store" : cacheControl,
    ETag: answer.etag,
    "X-Cache": answer.cache,
    "X-Op": answer.tile.xOp,
    "Server-Timing": Object.entries(answer.timings).map(([k, v]) => `${k};dur=${v.toFixed(2)}`).join(", "),
    ...noteHeaders(answer.tile, ctx.backend.name),
  };
  // A HEAD answer's body is dropped unread: nothing to hold.
  const body = method === "HEAD"
    ? answer.tile.bytes as Uint8Array<ArrayBuffer>
    : leasedBody(ctx.largeWork, answer.tile.bytes);
  return withHeaders(new Response(body), headers);
}

/**
 * A tile as HTTP: the request's `?v=`, `?cache=`, tensor options and `If-None-Match` handed to the tile
 * service (service/tile_service.ts), its answer mapped to a response with its validators and timings.
 */
import { parseTensorSpec } from "../pipeline/tensor.ts";
import { tensorFor } from "../pipeline/raw_tensor.ts";
import { requestRender } from "../kernels/render.ts";
import type { AppContext } from "../service/context.ts";
import { serveTile, type TileAnswer, type TileTarget } from "../service/tile_service.ts";
import type { CacheMode } from "../cache/tile_cache.ts";
import { parseCacheMode, rejectUnread, type TrackedQuery } from "../service/query.ts";
import { workSignalOf } from "../pipeline/abort.ts";
import { leasedBody } from "../service/leased_body.ts";

/**
 * Answers a tile route: 304 on a matching `If-None-Match`, else the tile. `?v=` pins the image version: the
 * answer is then immutable, and a changed file is a 404. `query` is the route's (what the route read of it
 * is marked): a parameter nothing read is a 400 naming `what` and what it takes. `extra`: render parameters
 * the URL carries in its path.
 */
export async function tileResponse(
  ctx: AppContext,
  incoming: Request,
  target: TileTarget,
  query: TrackedQuery,
  what: string,
  extra?: URLSearchParams,
): Promise<Response> {
  // Parameters carried by the URL's path (an IIIF meta-identifier): the query's own win.
  for (const [k, v] of extra ?? []) if (!query.has(k)) query.set(k, v);
  const mode = parseCacheMode(query);
  // The render step's parameters (quantize's rescale becomes its windows); associated images have none.
  const { render, op } = target.associated
    ? { render: null, op: target.op }
    : requestRender(query, target.image.info, target.op);
  target = { ...target, op };
  const tensor = target.format === "npy"
    ? target.tensor ?? tensorFor(parseTensorSpec(query), !!render && target.op.name === "none")
    : undefined;
  const pinned = query.get("v");
  rejectUnread(query, `${what}${target.op.name === "none" ? "" : ` with op=${target.op.name}`}`);
  const answer = await serveTile(ctx, { ...target, ...(tensor ? { tensor } : {}), ...(render ? { render } : {}) }, {
    pinned,
    mode,
    ifNoneMatch: incoming.headers.get("If-None-Match"),
    signal: () => workSignalOf(incoming),
  });
  return answerResponse(ctx, answer, mode, incoming.method);
}

/**
 * The HTTP of a tile service answer: 304 with its validators, or the bytes with `ETag`, `Cache-Control`
 * (immutable when pinned, `no-store` when the cache was bypassed), `X-Cache`, `X-Backend`, `X-Op`,
 * `Server-Timing` and the tile's own headers. Every route that serves `serveTile` answers with it.
 */
export function answerResponse(ctx: AppContext, answer: TileAnswer, mode: CacheMode, method = "GET"): Response {
  const cacheControl = answer.pinned ? "public, max-age=31536000, immutable" : `public, max-age=${ctx.config.cacheTtl}`;
  if (answer.notModified) {
    return new Response(null, { status: 304, headers: { ETag: answer.etag, "Cache-Control": cacheControl } });
  }
  const headers = new Headers({
    "Content-Type": answer.tile.contentType,
    // Known here, so the telemetry middleware need not buffer the body to learn it (HEAD answers it too).
    "Content-Length": String(answer.tile.bytes.byteLength),
    "Cache-Control": mode === "bypass" ? "no-store" : cacheControl,
    ETag: answer.etag,
    "X-Cache": answer.cache,
    "X-Backend": ctx.backend.name,
    "X-Op": answer.tile.xOp,
    "Server-Timing": Object.entries(answer.timings).map(([k, v]) => `${k};dur=${v.toFixed(2)}`).join(", "),
  });
  for (const [k, v] of Object.entries(answer.tile.headers ?? {})) headers.set(k, v);
  // A HEAD answer's body is dropped unread: nothing to hold.
  const body = method === "HEAD"
    ? answer.tile.bytes as Uint8Array<ArrayBuffer>
    : leasedBody(ctx.largeWork, answer.tile.bytes);
  return new Response(body, { headers });
}

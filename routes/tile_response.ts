/**
 * Shared by every tile route: parsing the common query options (`op` and its parameters, `quality`), and
 * turning a `TileRequest` into an HTTP response through the one pipeline.
 */
import { badRequest, HttpError } from "../errors.ts";
import { ifNoneMatchHits, tileKey } from "../cache/key.ts";
import type { CacheMode } from "../cache/tile_cache.ts";
import { parseTensorSpec } from "../pipeline/tensor.ts";
import { opLabel, parseOpSpec, resolveOpSpec } from "../kernels/index.ts";
import {
  canonicalOp,
  checkOutputSize,
  type OpSpec,
  type TileFormat,
  type TileRequest,
} from "../pipeline/tile_request.ts";
import type { ResolvedImage } from "../sources/registry.ts";
import type { AppContext } from "./context.ts";
import { workSignalOf } from "../pipeline/abort.ts";

/** Op and quality from a tile URL's query. */
export interface TileOptions {
  op: OpSpec;
  quality: number;
}

/** Parses `op` (+ its parameters) and `quality` (1..100); 400 naming the bad parameter. */
export function parseTileOptions(query: URLSearchParams, defaultQuality: number): TileOptions {
  const op = parseOpSpec(query);
  const q = query.get("quality");
  let quality = defaultQuality;
  if (q !== null) {
    quality = Number(q);
    if (!/^\d+$/.test(q) || quality < 1 || quality > 100) throw badRequest("quality must be an integer in 1..100");
  }
  return { op, quality };
}

/**
 * Decodes one URL path segment holding an image id: `%2F` for `/`, or `slash` (the configured substitute)
 * for `/`; 400 when malformed.
 */
export function decodeId(raw: string, slash = ""): string {
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    throw badRequest("malformed percent-encoding in the image id");
  }
  return slash ? id.replaceAll(slash, "/") : id;
}

/** An image id as one URL path segment: `/` written as `slash` when configured, else `%2F`. */
export function encodeId(id: string, slash = ""): string {
  return slash ? id.split("/").map(encodeURIComponent).join(slash) : encodeURIComponent(id);
}

/** The raw (still percent-encoded) path of a request. */
export function rawPath(url: string): string {
  return new URL(url).pathname;
}

/** What a route asks the pipeline for. */
export interface TileTarget {
  image: ResolvedImage;
  /** Footprint in level-0 pixels (or in the associated image's pixels). */
  region: TileRequest["region"];
  outWidth: number;
  outHeight: number;
  format: TileFormat;
  opts: TileOptions;
  /** An associated image (Aperio label, macro, thumbnail) instead of the pyramid. */
  associated?: string;
  /** Clockwise right-angle rotation and mirroring (IIIF). */
  rotate?: 0 | 90 | 180 | 270;
  mirror?: boolean;
}

/** Cache options from a tile URL: `?cache=false` (bypass) or `?cache=refresh` (recompute and overwrite). */
export function parseCacheMode(query: URLSearchParams): CacheMode {
  const raw = query.get("cache");
  if (raw === null || raw === "true") return "normal";
  if (raw === "false") return "bypass";
  if (raw === "refresh") return "refresh";
  throw badRequest(`cache must be false or refresh, got "${raw}"`);
}

/**
 * Builds the `TileRequest` for an image and answers it: the op's global parameters resolved, the request
 * keyed, `If-None-Match` answered with 304 before any pixel work, then the cache (memory, KV) or the
 * pipeline. `?v=` pins the image version: the answer is then immutable, and a changed file is a 404.
 */
export async function tileResponse(ctx: AppContext, incoming: Request, what: TileTarget): Promise<Response> {
  const { image, region, outWidth, outHeight, format, opts, associated, rotate, mirror } = what;
  const url = new URL(incoming.url);
  const pinned = url.searchParams.get("v");
  if (pinned !== null && pinned !== image.source.version) {
    throw new HttpError(
      404,
      "stale_version",
      `image "${image.id}" changed: version ${pinned} is gone, the current one is ${image.source.version}`,
    );
  }
  const mode = parseCacheMode(url.searchParams);
  const tResolve = performance.now();
  // Global parameters (Otsu thresholds, palettes, percentiles) are resolved before the request is keyed,
  // so equal pixels share one key and the response says which values were used.
  const op = await resolveOpSpec(opts.op, ctx.stats.provider(image.source));
  const request: TileRequest = {
    associated,
    ...(rotate ? { rotate } : {}),
    ...(mirror ? { mirror } : {}),
    image: image.id,
    version: image.source.version,
    region,
    outWidth,
    outHeight,
    op,
    format,
    quality: format === "png" || format === "npy" ? 0 : opts.quality,
    ...(format === "npy" ? { tensor: parseTensorSpec(url.searchParams) } : {}),
  };
  checkOutputSize(request, image.info.channels);
  const key = tileKey(request, ctx.codecs.tier);
  const resolveMs = performance.now() - tResolve;
  const cacheControl = pinned !== null
    ? "public, max-age=31536000, immutable"
    : `public, max-age=${ctx.config.cacheTtl}`;
  if (mode === "normal" && ifNoneMatchHits(incoming.headers.get("If-None-Match"), key.etag)) {
    return new Response(null, { status: 304, headers: { ETag: key.etag, "Cache-Control": cacheControl } });
  }
  const result = await ctx.cache.get(
    key,
    async (signal) => {
      const tile = await ctx.backend.run(image.source, { kind: "tile", request }, signal);
      return {
        tile: {
          bytes: tile.bytes,
          contentType: tile.contentType,
          xOp: xOpHeader(op, tile.resolved),
          headers: tile.headers,
        },
        timings: tile.timings,
      };
    },
    mode,
    () => workSignalOf(incoming),
  );
  const timings = { resolve: resolveMs, ...result.timings };
  const headers = new Headers({
    "Content-Type": result.tile.contentType,
    // Known here, so the telemetry middleware need not buffer the body to learn it (HEAD answers it too).
    "Content-Length": String(result.tile.bytes.byteLength),
    "Cache-Control": mode === "bypass" ? "no-store" : cacheControl,
    ETag: key.etag,
    "X-Cache": result.status,
    "X-Backend": ctx.backend.name,
    "X-Op": result.tile.xOp,
    "Server-Timing": Object.entries(timings).map(([k, v]) => `${k};dur=${v.toFixed(2)}`).join(", "),
  });
  for (const [k, v] of Object.entries(result.tile.headers ?? {})) headers.set(k, v);
  return new Response(result.tile.bytes as Uint8Array<ArrayBuffer>, { headers });
}

/** `X-Op`: the op and the parameters it ran with (`threshold;t=172`); palette colours left out (see /stats). */
export function xOpHeader(op: OpSpec, resolved?: Record<string, string | number>): string {
  return canonicalOp(opLabel(op, resolved)).replace(":", ";");
}

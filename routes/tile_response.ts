/**
 * Shared by every tile route: parsing the common query options (`op` and its parameters, `quality`), and
 * turning a `TileRequest` into an HTTP response through the one pipeline.
 */
import { badRequest } from "../errors.ts";
import { parseOpSpec, resolveOpSpec } from "../kernels/index.ts";
import { canonicalOp, type OpSpec, type TileFormat, type TileRequest } from "../pipeline/tile_request.ts";
import type { ResolvedImage } from "../sources/registry.ts";
import type { AppContext } from "./context.ts";

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

/** Decodes one URL path segment holding an image id (`%2F` for `/`); 400 when malformed. */
export function decodeId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw badRequest("malformed percent-encoding in the image id");
  }
}

/** The raw (still percent-encoded) path of a request. */
export function rawPath(url: string): string {
  return new URL(url).pathname;
}

/** Builds the `TileRequest` for an image and renders it into a response. */
export async function tileResponse(
  ctx: AppContext,
  image: ResolvedImage,
  region: TileRequest["region"],
  outWidth: number,
  outHeight: number,
  format: TileFormat,
  opts: TileOptions,
  associated?: string,
): Promise<Response> {
  // Global parameters (Otsu thresholds, palettes, percentiles) are resolved before the request is keyed,
  // so equal pixels share one key and the response says which values were used.
  const op = await resolveOpSpec(opts.op, ctx.stats.provider(image.source));
  const request: TileRequest = {
    associated,
    image: image.id,
    version: image.source.version,
    region,
    outWidth,
    outHeight,
    op,
    format,
    quality: format === "png" ? 0 : opts.quality,
  };
  const tile = await ctx.backend.run(image.source, { kind: "tile", request });
  const headers = new Headers({
    "Content-Type": tile.contentType,
    "Cache-Control": `public, max-age=${ctx.config.cacheTtl}`,
    "X-Backend": ctx.backend.name,
    "X-Op": xOpHeader(op, tile.resolved),
    "Server-Timing": Object.entries(tile.timings).map(([k, v]) => `${k};dur=${v.toFixed(2)}`).join(", "),
  });
  return new Response(tile.bytes as Uint8Array<ArrayBuffer>, { headers });
}

/** `X-Op`: the op and the parameters it ran with (`threshold;t=172`); palette colours left out (see /stats). */
export function xOpHeader(op: OpSpec, resolved?: Record<string, string | number>): string {
  const params = Object.fromEntries(
    Object.entries({ ...op.params, ...resolved }).filter(([k]) => k !== "colors"),
  );
  return canonicalOp({ name: op.name, params }).replace(":", ";");
}

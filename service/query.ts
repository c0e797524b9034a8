/**
 * Query parameters shared by the routes and the command line (`deno task extract` takes the same names as
 * flags): op and quality, cache mode, thumbnail boxes, tissue grids and patch exports. Each parser throws a
 * 400 that names the bad parameter.
 */
import { badRequest, tooLarge } from "../errors.ts";
import type { CacheMode } from "../cache/tile_cache.ts";
import { parseOpSpec } from "../kernels/index.ts";
import { RENDER_PARAMS } from "../kernels/render.ts";
import { formatFromExtension, type OpSpec } from "../pipeline/tile_request.ts";
import { parseTensorSpec } from "../pipeline/tensor.ts";
import type { PatchParams } from "../export/patches.ts";

/** Op and quality from a tile URL's query. */
export interface TileOptions {
  op: OpSpec;
  quality: number;
}

/** Parses `op` (+ its parameters) and `quality` (1..100). */
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

/** Cache options: `?cache=false` (bypass) or `?cache=refresh` (recompute and overwrite). */
export function parseCacheMode(query: URLSearchParams): CacheMode {
  const raw = query.get("cache");
  if (raw === null || raw === "true") return "normal";
  if (raw === "false") return "bypass";
  if (raw === "refresh") return "refresh";
  throw badRequest(`cache must be false or refresh, got "${raw}"`);
}

/** Largest thumbnail (and associated image) side. */
export const THUMBNAIL_MAX_SIDE = 4096;

/** `?width=&height=` as a box; `dflt` for both when neither is given. 400/413 for bad values. */
export function parseBox(query: URLSearchParams, dflt: number | null): { width: number | null; height: number | null } {
  const width = sideParam(query, "width"), height = sideParam(query, "height");
  if (width === null && height === null) return { width: dflt, height: dflt };
  return { width, height };
}

function sideParam(query: URLSearchParams, name: string): number | null {
  const raw = query.get(name);
  if (raw === null || raw === "") return null;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw badRequest(`${name} must be a positive integer`);
  const v = Number(raw);
  if (v > THUMBNAIL_MAX_SIDE) throw tooLarge(`${name} must be at most ${THUMBNAIL_MAX_SIDE}`);
  return v;
}

/** A number parameter checked by `ok` (`rule` says what it must be), or `dflt` when absent or empty. */
export function numberParam(
  q: URLSearchParams,
  name: string,
  dflt: number,
  ok: (v: number) => boolean,
  rule: string,
): number {
  const raw = q.get(name);
  if (raw === null || raw === "") return dflt;
  const v = Number(raw);
  if (!Number.isFinite(v) || !ok(v)) throw badRequest(`${name} must be ${rule}, got "${raw}"`);
  return v;
}

/** A tissue grid: cells of `size` output pixels at `downsample`, every `stride`, kept from tissue share `min`. */
export interface GridParams {
  downsample: number;
  size: number;
  stride: number;
  min: number;
}

/** The tissue grid's parameters (`downsample`, `size`, `stride`, `min`). */
export function parseGridParams(query: URLSearchParams): GridParams {
  const downsample = numberParam(
    query,
    "downsample",
    1,
    (v) => Number.isInteger(Math.log2(v)) && v >= 1 && v <= 2 ** 20,
    "a power of two ≥ 1",
  );
  const side = (v: number) => Number.isInteger(v) && v >= 1 && v <= 16384;
  const size = numberParam(query, "size", 256, side, "an integer in 1..16384");
  const stride = numberParam(query, "stride", size, side, "an integer in 1..16384");
  const min = numberParam(query, "min", 0.5, (v) => v >= 0 && v <= 1, "a number in 0..1");
  return { downsample, size, stride, min };
}

/** An export's parameters: the grid, `format` (png, jpg, npy and its tensor options), `op`, `quality`. */
export function parsePatchParams(query: URLSearchParams, defaultQuality: number): PatchParams {
  const grid = parseGridParams(query);
  const format = formatFromExtension(query.get("format") ?? "png");
  if (!format || format === "webp") throw badRequest("format must be png, jpg or npy");
  const { op, quality } = parseTileOptions(query, defaultQuality);
  const renderQuery = new URLSearchParams([...query].filter(([k]) => RENDER_PARAMS.includes(k))).toString();
  return {
    ...grid,
    format,
    op,
    quality,
    ...(format === "npy" ? { tensor: parseTensorSpec(query) } : {}),
    ...(renderQuery ? { renderQuery } : {}),
  };
}

/**
 * Query parameters shared by the routes and the command line (`deno task extract` takes the same names as
 * flags): op and quality, cache mode, thumbnail boxes and tissue grids (a patch export's: export/params.ts). Each parser throws a
 * 400 that names the bad parameter.
 */
import { badRequest, tooLarge } from "../errors.ts";
import type { CacheMode } from "../cache/tile_cache.ts";
import { getOp, opSpecOf } from "../kernels/index.ts";
import { type OpSpec } from "../kernels/op.ts";
import { downsampleForScale, type GridScale, MAX_GRID_DOWNSAMPLE, type PhysicalInfo } from "../pyramid/physical.ts";

/**
 * The op `?op=` names (default none), its parameters read from the query by the names the op declares
 * (read: a parameter no op takes is left for the unread-parameter check).
 */
export function parseOpSpec(query: URLSearchParams): OpSpec {
  const op = getOp(query.get("op") ?? "none");
  const args: Record<string, string> = {};
  for (const k of op.params) {
    const v = query.get(k);
    if (v !== null) args[k] = v;
  }
  return opSpecOf(op.name, args);
}

/** Op and quality from a tile URL's query. */
export interface TileOptions {
  op: OpSpec;
  quality: number;
  /** `bg=RRGGBB`: a JPEG's padding past the image edge (and under transparency); absent: white. */
  background?: string;
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
  const bg = query.get("bg");
  if (bg !== null && !/^[0-9a-fA-F]{6}$/.test(bg)) throw badRequest(`bg must be a colour RRGGBB, got "${bg}"`);
  // White is the default: not part of the key.
  return { op, quality, ...(bg && bg.toLowerCase() !== "ffffff" ? { background: bg.toLowerCase() } : {}) };
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

/** A tissue grid: cells of `size` output pixels at a scale, every `stride`, kept from tissue share `min`. */
export interface GridParams {
  /** The scale as asked (`downsample=`, `mpp=` or `magnification=`). */
  scale: GridScale;
  /** Its level-0 downsample: NaN until `resolveGridScale` has seen the image (for a physical scale). */
  downsample: number;
  size: number;
  stride: number;
  min: number;
}

/** The tissue grid's parameters (`downsample` | `mpp` | `magnification`, `size`, `stride`, `min`). */
export function parseGridParams(query: URLSearchParams): GridParams {
  const given = ["downsample", "mpp", "magnification"].filter((k) => (query.get(k) ?? "") !== "");
  if (given.length > 1) throw badRequest(`give one of downsample, mpp and magnification, not ${given.join(" and ")}`);
  const positive = (v: number) => v > 0 && v < 1e6;
  let scale: GridScale;
  if (given[0] === "mpp") scale = { mpp: numberParam(query, "mpp", 0, positive, "a positive number of µm/px") };
  else if (given[0] === "magnification") {
    scale = { magnification: numberParam(query, "magnification", 0, positive, "a positive magnification") };
  } else {
    scale = {
      downsample: numberParam(
        query,
        "downsample",
        1,
        (v) => Number.isInteger(Math.log2(v)) && v >= 1 && v <= MAX_GRID_DOWNSAMPLE,
        "a power of two ≥ 1",
      ),
    };
  }
  const side = (v: number) => Number.isInteger(v) && v >= 1 && v <= 16384;
  const size = numberParam(query, "size", 256, side, "an integer in 1..16384");
  const stride = numberParam(query, "stride", size, side, "an integer in 1..16384");
  const min = numberParam(query, "min", 0.5, (v) => v >= 0 && v <= 1, "a number in 0..1");
  return { scale, downsample: "downsample" in scale ? scale.downsample : NaN, size, stride, min };
}

/** The grid with its scale resolved against the image (400/422 as `downsampleForScale`). */
export function resolveGridScale<G extends GridParams>(grid: G, info: PhysicalInfo): G {
  return { ...grid, downsample: downsampleForScale(info, grid.scale) };
}

/** Parameters every route takes besides its own: URL signing. */
export const ACCESS_PARAMS: readonly string[] = ["sig", "exp", "scope"];

/**
 * Parameters every route takes whatever it serves: the version pin and cache mode, the signing parameters,
 * and the cache-busters clients and proxies add (`_`: jQuery and Leaflet plugins; `cb`, `cachebust`,
 * `nocache`, `ts`). OpenSeadragon, Leaflet and Mirador add nothing else to tile or info URLs.
 */
export const CLIENT_PARAMS: readonly string[] = ["v", "cache", "_", "cb", "cachebust", "nocache", "ts"];

/**
 * A query that records which parameters were read, so that once a route has parsed everything it serves,
 * the ones nobody read are a 400 (`rejectUnread`): one rule on every route.
 */
export class TrackedQuery extends URLSearchParams {
  readonly read = new Set<string>();
  override get(name: string): string | null {
    this.read.add(name);
    return super.get(name);
  }
  override getAll(name: string): string[] {
    this.read.add(name);
    return super.getAll(name);
  }
  override has(name: string, value?: string): boolean {
    this.read.add(name);
    return value === undefined ? super.has(name) : super.has(name, value);
  }
}

/** The query of `url`, tracked (`TrackedQuery`). */
export function trackedQuery(url: string): TrackedQuery {
  return new TrackedQuery(new URL(url).searchParams);
}

/**
 * 400 naming the first parameter of `query` that no parser read, nor `CLIENT_PARAMS`, `ACCESS_PARAMS` or
 * `also` names, and the ones `what` (e.g. "a Deep Zoom tile with op=gray") takes.
 */
export function rejectUnread(query: TrackedQuery, what: string, also: readonly string[] = []): void {
  const known = new Set([...query.read, ...CLIENT_PARAMS, ...ACCESS_PARAMS, ...also]);
  for (const k of query.keys()) {
    if (known.has(k)) continue;
    const takes = [...new Set([...query.read, ...also])].filter((p) => !CLIENT_PARAMS.includes(p)).sort();
    throw badRequest(
      `unknown query parameter "${k}" for ${what} (it takes ${takes.join(", ") || "none"}, and ${
        CLIENT_PARAMS.join(", ")
      })`,
    );
  }
}

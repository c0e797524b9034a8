/** A patch export's query (the routes' and `deno task extract`'s flags alike), parsed into its parameters. */
import { badRequest } from "../errors.ts";
import { RENDER_PARAMS } from "../kernels/render.ts";
import { formatFromExtension } from "../pipeline/tile_request.ts";
import { parseTensorSpec } from "../pipeline/tensor.ts";
import {
  numberParam,
  parseCacheMode,
  parseGridParams,
  parseTileOptions,
  rejectUnread,
  TrackedQuery,
} from "../service/query.ts";
import { MAX_PATCHES, type PatchParams } from "./plan.ts";

/**
 * An export's parameters: the grid (scale, size, stride, min), `format` (png, jpg, npy and its tensor
 * options), `op` and its parameters, `quality`, the render parameters, `limit`/`seed` (a reproducible random
 * sample of the tissue patches), `layout` (files | webdataset), `shard_size`/`shard` and `cache`. A parameter that
 * none of these reads for this op and format is a 400, not silently ignored.
 */
export function parsePatchParams(raw: URLSearchParams, defaultQuality: number): PatchParams {
  const query = new TrackedQuery(raw);
  const grid = parseGridParams(query);
  const format = formatFromExtension(query.get("format") ?? "png");
  if (!format || format === "webp" || format === "zarr") throw badRequest("format must be png, jpg or npy");
  const { op, quality } = parseTileOptions(query, defaultQuality);
  const renderQuery = new URLSearchParams([...raw].filter(([k]) => RENDER_PARAMS.includes(k))).toString();
  const tensor = format === "npy" ? parseTensorSpec(query) : undefined;
  const count = (v: number) => Number.isInteger(v) && v >= 1 && v <= MAX_PATCHES;
  const limit = numberParam(query, "limit", 0, count, `an integer in 1..${MAX_PATCHES}`);
  const seed = numberParam(
    query,
    "seed",
    0,
    (v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32,
    "an integer in 0..2³²-1",
  );
  if (raw.has("seed") && !limit) throw badRequest("seed= draws the sample of limit=: give limit too");
  const layout = query.get("layout") ?? "files";
  if (layout !== "files" && layout !== "webdataset") {
    throw badRequest(`layout must be files or webdataset, got "${layout}"`);
  }
  const shardSize = numberParam(query, "shard_size", 0, count, `an integer in 1..${MAX_PATCHES}`);
  const shard = numberParam(query, "shard", 0, (v) => Number.isInteger(v) && v >= 0, "an integer ≥ 0");
  if (raw.has("shard") && !shardSize) throw badRequest("shard= numbers shards of shard_size=: give shard_size too");
  // `cache=` as on tiles; by default an export takes what the cache has and keeps none of its own patches.
  const cache = parseCacheMode(query);
  const mode = cache === "normal" ? "lookup" as const : cache;
  rejectUnread(
    query,
    `a patch export with op=${op.name} and format=${format === "jpeg" ? "jpg" : format}`,
    RENDER_PARAMS,
  );
  return {
    ...grid,
    format,
    op,
    quality,
    ...(tensor ? { tensor } : {}),
    ...(renderQuery ? { renderQuery } : {}),
    ...(limit ? { sample: { limit, seed } } : {}),
    layout,
    mode,
    ...(shardSize ? { shard: { size: shardSize, index: shard } } : {}),
  };
}

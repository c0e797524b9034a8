/**
 * OME-Zarr: `GET|HEAD /zarr/{id}/{key}` serves every image as a read-only OME-NGFF 0.4 store on Zarr v2
 * (pyramid/zarr.ts, zarr/metadata.ts): `.zgroup`, `.zattrs`, `.zmetadata`, `{level}/.zarray`, chunks
 * `{level}/{c}/{y}/{x}` (`t`/`z` keys too where the image has several planes), and the tissue mask as the
 * label image `labels/tissue/…`. Chunks go through the tile service like tiles (ETag, 304, `?v=`, cache,
 * single-flight). Query parameters: `v` and `cache` (and a signature's); any other is a 400.
 */
import type { Context } from "hono";
import { notFound } from "../errors.ts";
import type { AppContext } from "../service/context.ts";
import { checkPinned } from "../service/request.ts";
import { rejectUnread, type TrackedQuery, trackedQuery } from "../service/query.ts";
import { getOp } from "../kernels/index.ts";
import { chunkTarget, ZARR_CHUNK, zarrLayout } from "../pyramid/zarr.ts";
import { storeDocuments, TISSUE_LABEL, ZARR_COMPRESSOR } from "../zarr/metadata.ts";
import type { ResolvedImage } from "../sources/registry.ts";
import { decodeId, decodePart } from "./ids.ts";
import { tileResponse } from "./tile_response.ts";

const CHUNK_KEY = /^(?:labels\/([^/]+)\/)?(\d{1,2})\/(\d{1,7}(?:\/\d{1,7})*)$/;

/** `/zarr/{id}/{key}`: a metadata document or a chunk of the store. */
export async function zarrKey(ctx: AppContext, c: Context, m: RegExpExecArray): Promise<Response> {
  const query = trackedQuery(c.req.url);
  rejectUnread(query, "an OME-Zarr key"); // it takes only what every route takes (v, cache, …)
  const image = await ctx.registry.resolve(decodeId(m[1], ctx.config.slashSubstitute));
  checkPinned(image, query.get("v"));
  const key = decodePart(m[2], "OME-Zarr key");
  const chunk = CHUNK_KEY.exec(key);
  if (chunk) return await chunkResponse(ctx, c.req.raw, query, image, chunk[1] ?? null, Number(chunk[2]), chunk[3]);
  const docs = await documentsOf(ctx, image);
  const doc = docs.get(key);
  if (doc === undefined) {
    throw notFound(
      `no key "${key}" in the OME-Zarr store of "${image.id}" (metadata: ${[...docs.keys()].join(", ")})`,
    );
  }
  const etag = `"${image.source.version}/${ZARR_COMPRESSOR.id}/${key}"`;
  const cacheControl = query.has("v")
    ? "public, max-age=31536000, immutable"
    : `public, max-age=${ctx.config.cacheTtl}`;
  const headers = { "Content-Type": "application/json", ETag: etag, "Cache-Control": cacheControl };
  if (c.req.header("If-None-Match") === etag) return new Response(null, { status: 304, headers });
  return new Response(asciiJson(doc), { headers });
}

/** The store's metadata documents; labels where the tissue mask applies (every source the mask op reads). */
async function documentsOf(ctx: AppContext, image: ResolvedImage): Promise<Map<string, unknown>> {
  const { stats } = await ctx.stats.get(image.source);
  return storeDocuments(image.id, image.info, zarrLayout(image.info), stats, true);
}

/** One chunk through the tile service; 404 past the array. */
async function chunkResponse(
  ctx: AppContext,
  incoming: Request,
  query: TrackedQuery,
  image: ResolvedImage,
  label: string | null,
  level: number,
  indexPath: string,
): Promise<Response> {
  if (label !== null && label !== TISSUE_LABEL) throw notFound(`no label image "${label}" (labels: ${TISSUE_LABEL})`);
  const labels = label !== null;
  const layout = zarrLayout(image.info);
  const index = indexPath.split("/").map(Number);
  const target = chunkTarget(layout, level, index, labels);
  if (!target) {
    const L = layout.levels[level];
    throw notFound(
      L
        ? `no chunk ${index.join("/")} in level ${level} (axes ${layout.axes.map((a) => a.name).join(",")}, ` +
          `${L.width}×${L.height} pixels in ${ZARR_CHUNK}² chunks)`
        : `no level ${level} (levels 0..${layout.levels.length - 1})`,
    );
  }
  // The label is the mask of what `op=mask` tiles show (of the default render of a multichannel image).
  const op = labels ? { name: "mask", params: getOp("mask").parse({}) } : { name: "none", params: {} };
  const chunk = { c: target.c, z: target.z, t: target.t, ...(labels ? { labels: true } : {}) };
  return await tileResponse(
    ctx,
    incoming,
    { image, region: target.region, outWidth: ZARR_CHUNK, outHeight: ZARR_CHUNK, format: "zarr", chunk },
    { query, what: "an OME-Zarr key", op, defaultRender: labels },
  );
}

/** JSON with every non-ASCII character escaped: zarr-python 2 decodes metadata as ASCII. */
export function asciiJson(doc: unknown): string {
  return JSON.stringify(doc).replace(
    /[\u0080-\uffff]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

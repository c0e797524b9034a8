/**
 * XYZ tiles: `GET /xyz/{id}/{z}/{x}/{y}.{jpg|png|webp}` (256 px, padded past the image edge) and
 * `GET /xyz/{id}/tilejson.json` (tile format: `?format=`, else JPEG for lossy sources, PNG otherwise).
 * Geometry: `pyramid/xyz.ts`.
 */
import type { Context } from "hono";
import { badRequest, notFound } from "../errors.ts";
import { XyzGeometry } from "../pyramid/xyz.ts";
import { formatFromExtension } from "../pipeline/tile_request.ts";
import { getOp } from "../kernels/index.ts";
import type { AppContext } from "../service/context.ts";
import type { ImageInfo } from "../core/image_info.ts";
import { headersForUrls, publicBase } from "./public_url.ts";
import { decodeId } from "./ids.ts";
import { parseTileOptions, rejectUnread, TrackedQuery } from "../service/query.ts";
import { readTileQuery } from "../service/request.ts";
import { RENDER_PARAMS } from "../kernels/render.ts";
import { tileResponse } from "./tile_response.ts";

/** `/xyz/{id}/tilejson.json`. */
export async function tileJson(ctx: AppContext, c: Context, tj: RegExpExecArray): Promise<Response> {
  const url = new URL(c.req.url);
  const image = await ctx.registry.resolve(decodeId(tj[1], ctx.config.slashSubstitute));
  const opts = new TrackedQuery(url.searchParams);
  opts.delete("format");
  const { op } = parseTileOptions(opts, ctx.config.quality);
  rejectUnread(opts, "a TileJSON document", [...RENDER_PARAMS, "format"]);
  const format = formatFromExtension(url.searchParams.get("format") ?? defaultTileFormat(image.info, op.name));
  if (!format) throw badRequest("format must be jpg, png or webp");
  const geo = new XyzGeometry(image.info.width, image.info.height);
  const qs = opts.toString();
  const ext = format === "jpeg" ? "jpg" : format;
  const { base, fromRequest } = publicBase(ctx, c);
  headersForUrls(ctx, c, fromRequest, `public, max-age=${ctx.config.cacheTtl}`);
  return c.json({
    tilejson: "3.0.0",
    name: image.id,
    scheme: "xyz",
    tiles: [`${base}/xyz/${tj[1]}/{z}/{x}/{y}.${ext}${qs ? "?" + qs : ""}`],
    minzoom: 0,
    maxzoom: geo.maxZoom,
    tileSize: geo.tileSize,
    width: image.info.width,
    height: image.info.height,
  });
}

/** `/xyz/{id}/{z}/{x}/{y}.{ext}`: a tile. */
export async function xyzTile(ctx: AppContext, c: Context, tile: RegExpExecArray): Promise<Response> {
  const format = formatFromExtension(tile[5]);
  if (!format) throw badRequest(`unsupported tile format "${tile[5]}" (jpg, png, webp)`);
  const asked = readTileQuery(new TrackedQuery(new URL(c.req.url).searchParams), ctx.config.quality, "an XYZ tile");
  const image = await ctx.registry.resolve(decodeId(tile[1], ctx.config.slashSubstitute));
  const geo = new XyzGeometry(image.info.width, image.info.height);
  const [z, x, y] = [Number(tile[2]), Number(tile[3]), Number(tile[4])];
  if (z > geo.maxZoom) throw notFound(`no zoom ${z} (zooms 0..${geo.maxZoom})`);
  if (!geo.hasTile(z, x, y)) {
    const [cols, rows] = geo.tileCounts(z);
    throw notFound(`no tile ${x}/${y} at zoom ${z} (${cols}×${rows} tiles)`);
  }
  const t = geo.tile(z, x, y);
  const target = { image, region: t.l0Region, outWidth: t.outWidth, outHeight: t.outHeight, format };
  return await tileResponse(ctx, c.req.raw, target, asked);
}

/**
 * TileJSON's tile format when the URL names none: JPEG for a lossy source (JPEG, JPEG 2000 or WebP
 * tiles, JPEG/WebP files) shown as pixels, gray or edges, PNG otherwise (lossless sources, and ops whose
 * output must stay exact: masks, levels, palettes).
 */
export function defaultTileFormat(info: ImageInfo, op: string): "jpg" | "png" {
  if (getOp(op).exactOutput) return "png";
  const lossy = /^(JPEG|WebP)/.test(info.compression ?? "") || info.format === "jpeg" || info.format === "webp";
  return lossy ? "jpg" : "png";
}

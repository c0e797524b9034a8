/**
 * Deep Zoom: `GET /dzi/{id}.dzi` (XML descriptor; `?format=jpeg|png|webp`, other query parameters are
 * carried to the tile URLs by viewers) and `GET /dzi/{id}_files/{level}/{col}_{row}.{jpeg|jpg|png|webp}`
 * (routes/table.ts holds the patterns). Geometry: `pyramid/deepzoom.ts`.
 */
import type { Context } from "hono";
import { badRequest, notFound } from "../errors.ts";
import { DeepZoomGeometry } from "../pyramid/deepzoom.ts";
import { formatFromExtension } from "../pipeline/tile_request.ts";
import type { AppContext } from "../service/context.ts";
import { decodeId } from "./ids.ts";
import { parseTileOptions, rejectUnread, trackedQuery } from "../service/query.ts";
import { readTileQuery } from "../service/request.ts";
import { RENDER_PARAMS } from "../kernels/render.ts";
import { tileResponse } from "./tile_response.ts";

/** The Deep Zoom geometry of an image under the configured tile size and overlap. */
export function deepZoomFor(ctx: AppContext, width: number, height: number): DeepZoomGeometry {
  return new DeepZoomGeometry(width, height, ctx.config.tileSize, ctx.config.tileOverlap);
}

/** `/dzi/{id}.dzi`: the descriptor. */
export async function dziDescriptor(ctx: AppContext, c: Context, dzi: RegExpExecArray): Promise<Response> {
  const query = trackedQuery(c.req.url);
  const image = await ctx.registry.resolve(decodeId(dzi[1], ctx.config.slashSubstitute));
  const format = formatFromExtension(query.get("format") ?? "jpeg");
  if (!format) throw badRequest("format must be jpeg, png or webp");
  parseTileOptions(query, ctx.config.quality); // validate op parameters now rather than per tile
  // Its tiles carry the render parameters too: a descriptor takes them (checked by the tiles).
  rejectUnread(query, "a Deep Zoom descriptor", RENDER_PARAMS);
  const ext = format === "jpeg" ? "jpeg" : format;
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<Image xmlns="http://schemas.microsoft.com/deepzoom/2008" Format="${ext}" Overlap="${ctx.config.tileOverlap}" TileSize="${ctx.config.tileSize}">` +
    `<Size Width="${image.info.width}" Height="${image.info.height}"/></Image>\n`;
  return c.body(xml, 200, { "Content-Type": "application/xml; charset=utf-8" });
}

/** `/dzi/{id}_files/{level}/{col}_{row}.{ext}`: a tile. */
export async function dziTile(ctx: AppContext, c: Context, tile: RegExpExecArray): Promise<Response> {
  const query = trackedQuery(c.req.url);
  const format = formatFromExtension(tile[5]);
  if (!format) throw badRequest(`unsupported tile format "${tile[5]}" (jpeg, jpg, png, webp)`);
  const asked = readTileQuery(query, ctx.config.quality, "a Deep Zoom tile");
  // OpenSeadragon carries the descriptor's query (`?format=png&op=…`) into every tile URL: the tile's
  // format is its extension, and `format` is taken as the descriptor's.
  query.get("format");
  const image = await ctx.registry.resolve(decodeId(tile[1], ctx.config.slashSubstitute));
  const geo = deepZoomFor(ctx, image.info.width, image.info.height);
  const [level, col, row] = [Number(tile[2]), Number(tile[3]), Number(tile[4])];
  if (level >= geo.levelCount) throw notFound(`no Deep Zoom level ${level} (levels 0..${geo.levelCount - 1})`);
  if (!geo.hasTile(level, col, row)) {
    const [cols, rows] = geo.tLevelCounts[level];
    throw notFound(`no tile ${col}_${row} at level ${level} (${cols}×${rows} tiles)`);
  }
  const t = geo.tile(level, col, row);
  const target = { image, region: t.l0Region, outWidth: t.zWidth, outHeight: t.zHeight, format };
  return await tileResponse(ctx, c.req.raw, target, asked);
}

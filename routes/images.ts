/**
 * Image metadata: `GET /images` (every image: id, size, levels, format, URLs), `GET /images/{id}` (levels
 * with sizes and downsamples, tile size, pixel type, MPP, associated images, Deep Zoom and XYZ
 * geometry) and `GET /images/{id}/associated/{name}.{jpg|png|webp}` (Aperio thumbnail, label, macro).
 */
import { Hono } from "hono";
import { badRequest, notFound } from "../errors.ts";
import { levelDownsample } from "../pyramid/levels.ts";
import { XyzGeometry } from "../pyramid/xyz.ts";
import { encodeOutput } from "../pipeline/encode.ts";
import { CONTENT_TYPES, formatFromExtension } from "../pipeline/tile_request.ts";
import type { ImageInfo } from "../sources/source.ts";
import type { AppContext } from "./context.ts";
import { deepZoomFor } from "./dzi.ts";
import { decodeId, parseTileOptions, rawPath } from "./tile_response.ts";
import { SourceCache } from "../sources/source_cache.ts";

const INFO_PATH = /^\/images\/([^/]+)$/;
const ASSOCIATED_PATH = /^\/images\/([^/]+)\/associated\/([a-z]+)\.([a-z]+)$/;

function urlsFor(origin: string, id: string) {
  const e = encodeURIComponent(id);
  return {
    info: `${origin}/images/${e}`,
    dzi: `${origin}/dzi/${e}.dzi`,
    tilejson: `${origin}/xyz/${e}/tilejson.json`,
    thumbnail: `${origin}/thumbnail/${e}.jpg`,
  };
}

function describe(ctx: AppContext, id: string, version: string, info: ImageInfo, origin: string) {
  const dz = deepZoomFor(ctx, info.width, info.height);
  const xyz = new XyzGeometry(info.width, info.height);
  return {
    id,
    version,
    format: info.format,
    width: info.width,
    height: info.height,
    channels: info.channels,
    pixelType: info.pixelType,
    compression: info.compression ?? null,
    mpp: info.mpp ?? null,
    levels: info.levels.map((l) => ({
      width: l.width,
      height: l.height,
      downsample: Number(levelDownsample(l).toFixed(6)),
      tileWidth: l.tileWidth,
      tileHeight: l.tileHeight,
      stored: l.stored,
    })),
    associated: info.associated,
    properties: info.properties,
    deepZoom: { tileSize: dz.tileSize, overlap: dz.overlap, levels: dz.levelCount },
    xyz: { tileSize: xyz.tileSize, maxZoom: xyz.maxZoom },
    urls: urlsFor(origin, id),
  };
}

/** Image metadata routes. */
export function imageRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  // Associated images are rare and whole-image reads: a small cache of their own, on this thread.
  const associatedSources = new SourceCache(8);

  app.get("/images", async (c) => {
    const origin = new URL(c.req.url).origin;
    const rows = await ctx.registry.list();
    return c.json({
      images: rows.filter((r) => r.info).map((r) => ({
        id: r.id,
        width: r.info!.width,
        height: r.info!.height,
        levels: r.info!.levels.length,
        format: r.info!.format,
        urls: urlsFor(origin, r.id),
      })),
      unreadable: rows.filter((r) => r.error).map((r) => ({ id: r.id, error: r.error })),
    });
  });

  app.get("/images/*", async (c) => {
    const path = rawPath(c.req.url);
    const info = INFO_PATH.exec(path);
    if (info) {
      const image = await ctx.registry.resolve(decodeId(info[1]));
      return c.json(describe(ctx, image.id, image.source.version, image.info, new URL(c.req.url).origin));
    }
    const assoc = ASSOCIATED_PATH.exec(path);
    if (!assoc) throw notFound("no such image route");
    const format = formatFromExtension(assoc[3]);
    if (!format) throw badRequest(`unsupported format "${assoc[3]}" (jpg, png, webp)`);
    const opts = parseTileOptions(
      new URLSearchParams({ quality: new URL(c.req.url).searchParams.get("quality") ?? String(ctx.config.quality) }),
      ctx.config.quality,
    );
    const image = await ctx.registry.resolve(decodeId(assoc[1]));
    if (!image.info.associated.includes(assoc[2])) {
      throw notFound(`no associated image "${assoc[2]}" (has: ${image.info.associated.join(", ") || "none"})`);
    }
    const source = await associatedSources.get(image.source);
    const raster = await source.readAssociated(assoc[2]);
    const bytes = await encodeOutput({ raster }, format, opts.quality);
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      "Content-Type": CONTENT_TYPES[format],
      "Cache-Control": `public, max-age=${ctx.config.cacheTtl}`,
    });
  });
  return app;
}

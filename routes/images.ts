/**
 * Image metadata: `GET /images` (every image: id, size, levels, format, URLs; with `?source=dicomweb/{name}`
 * the slide-microscopy series of that DICOMweb server), `GET /images/{id}` (levels
 * with sizes and downsamples, tile size, pixel type, MPP, associated images, Deep Zoom and XYZ
 * geometry) and `GET /images/{id}/associated/{name}.{jpg|png|webp}?width=&height=` (Aperio thumbnail,
 * label, macro; full size unless a box is given), computed by the same pipeline as tiles.
 */
import type { Context } from "hono";
import { badRequest, HttpError, notFound } from "../errors.ts";
import { levelDownsample } from "../pyramid/levels.ts";
import { XyzGeometry } from "../pyramid/xyz.ts";
import { formatFromExtension } from "../pipeline/tile_request.ts";
import type { ImageInfo } from "../core/image_info.ts";
import type { SourceDescriptor } from "../sources/open.ts";
import type { ImageStats } from "../core/image_stats.ts";
import { channelColor, RENDER_PARAMS, rendersByDefault } from "../kernels/render.ts";
import { parseRenderSpec } from "../service/render_query.ts";
import type { AppContext } from "../service/context.ts";
import { headersForUrls, publicBase } from "./public_url.ts";
import { deepZoomFor } from "./dzi.ts";
import { decodeId, encodeId, renderSuffix } from "./ids.ts";
import { parseBox, trackedQuery } from "../service/query.ts";
import { readTileQuery } from "../service/request.ts";
import { tileResponse } from "./tile_response.ts";
import { thumbnailSize } from "../pyramid/thumbnail.ts";

/**
 * The image's URLs; render parameters of the request (`c`, `window`, …) are carried into each protocol's
 * entry point: query strings (Deep Zoom, TileJSON, thumbnail), an IIIF meta-identifier (`id;c=…`).
 */
function urlsFor(origin: string, id: string, slash: string, query = new URLSearchParams()) {
  const e = encodeId(id, slash);
  const render = new URLSearchParams([...query].filter(([k]) => RENDER_PARAMS.includes(k))).toString();
  const qs = render ? `?${render}` : "";
  return {
    info: `${origin}/images/${e}${qs}`,
    iiif: `${origin}/iiif/3/${e}${renderSuffix(query)}/info.json`,
    dzi: `${origin}/dzi/${e}.dzi${qs}`,
    tilejson: `${origin}/xyz/${e}/tilejson.json${qs}`,
    thumbnail: `${origin}/thumbnail/${e}.jpg${qs}`,
  };
}

/**
 * The channel listing: per channel its index, name, colour (the file's, else the render's default), sample
 * type, and — for images rendered by default, whose viewers show a channel panel — min, max and the
 * 0.5 / 99.5 percentiles from the stats level (first Z/T plane). Other images' listings read no pixels.
 */
function channelList(info: ImageInfo, stats: ImageStats | null) {
  return Array.from({ length: info.channels }, (_, i) => ({
    index: i,
    name: info.channelMeta?.[i]?.name ?? null,
    color: channelColor(info, i),
    type: info.pixelType,
    ...(stats
      ? {
        min: stats.channels.min[i],
        max: stats.channels.max[i],
        low: stats.percentiles.low[i],
        high: stats.percentiles.high[i],
      }
      : {}),
  }));
}

function describe(
  ctx: AppContext,
  id: string,
  version: string,
  info: ImageInfo,
  origin: string,
  stats: ImageStats | { error: string } | null,
  query: URLSearchParams,
) {
  const dz = deepZoomFor(ctx, info.width, info.height);
  const xyz = new XyzGeometry(info.width, info.height);
  return {
    id,
    version,
    format: info.format,
    width: info.width,
    height: info.height,
    channels: info.channels,
    channelList: channelList(info, stats && "channels" in stats ? stats : null),
    ...(stats && "error" in stats ? { statsError: stats.error } : {}),
    sizeZ: info.planes?.z ?? 1,
    sizeT: info.planes?.t ?? 1,
    // True when tiles are rendered (c, color, window, stretch, colormap, z, t) even without parameters.
    rendered: rendersByDefault(info),
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
    urls: urlsFor(origin, id, ctx.config.slashSubstitute, query),
  };
}

/**
 * The statistics the channel listing shows, or `{ error }` when they cannot be computed (a damaged tile, a
 * level past the pixel budget): the metadata still answers, the tiles give the error.
 */
async function channelStats(ctx: AppContext, source: SourceDescriptor): Promise<ImageStats | { error: string }> {
  try {
    return (await ctx.stats.get(source)).stats;
  } catch (err) {
    if (err instanceof HttpError) return { error: err.message };
    throw err;
  }
}

/** `/images`: every image (or a DICOMweb server's series). */
export async function listImages(ctx: AppContext, c: Context): Promise<Response> {
  const { base: origin, fromRequest } = publicBase(ctx, c);
  const from = new URL(c.req.url).searchParams.get("source");
  if (from !== null) {
    // A DICOMweb server's slide-microscopy series (QIDO-RS), listed without opening each.
    const name = /^dicomweb\/([A-Za-z0-9_-]+)$/.exec(from)?.[1];
    if (!name) throw badRequest(`source must be dicomweb/{server}, got ${JSON.stringify(from.slice(0, 100))}`);
    const series = await ctx.registry.listDicomweb(name);
    headersForUrls(ctx, c, fromRequest, "no-cache");
    return c.json({
      images: series.map((s) => ({ ...s, urls: urlsFor(origin, s.id, ctx.config.slashSubstitute) })),
    });
  }
  const rows = await ctx.registry.list();
  headersForUrls(ctx, c, fromRequest, "no-cache");
  // Every file, read or not: one the service does not read says why (the 415 or 422 its URLs would give).
  return c.json({
    images: rows.map((r) =>
      r.info
        ? {
          id: r.id,
          supported: true,
          width: r.info.width,
          height: r.info.height,
          levels: r.info.levels.length,
          format: r.info.format,
          urls: urlsFor(origin, r.id, ctx.config.slashSubstitute),
        }
        : { id: r.id, supported: false, reason: r.error!.message, error: r.error }
    ),
    unreadable: rows.filter((r) => r.error).map((r) => ({ id: r.id, error: r.error })),
  });
}

/** `/images/{id}`: an image's metadata. */
export async function imageInfo(ctx: AppContext, c: Context, info: RegExpExecArray): Promise<Response> {
  const image = await ctx.registry.resolve(decodeId(info[1], ctx.config.slashSubstitute));
  const { base, fromRequest } = publicBase(ctx, c);
  headersForUrls(ctx, c, fromRequest, "no-cache");
  const stats = rendersByDefault(image.info) ? await channelStats(ctx, image.source) : null;
  const query = new URL(c.req.url).searchParams;
  parseRenderSpec(query, image.info); // 400 for bad render parameters before they are carried anywhere
  return c.json(describe(ctx, image.id, image.source.version, image.info, base, stats, query));
}

/** `/images/{id}/associated/{name}.{ext}`: an associated image (label, macro, thumbnail). */
export async function associatedImage(ctx: AppContext, c: Context, assoc: RegExpExecArray): Promise<Response> {
  const format = formatFromExtension(assoc[3]);
  if (!format) throw badRequest(`unsupported format "${assoc[3]}" (jpg, png, webp)`);
  const query = trackedQuery(c.req.url);
  const box = parseBox(query, null);
  const asked = readTileQuery(query, ctx.config.quality, "an associated image");
  const image = await ctx.registry.resolve(decodeId(assoc[1], ctx.config.slashSubstitute));
  const size = image.info.associatedSizes[assoc[2]];
  if (!size) {
    throw notFound(`no associated image "${assoc[2]}" (has: ${image.info.associated.join(", ") || "none"})`);
  }
  const [w, h] = thumbnailSize(size.width, size.height, box.width, box.height);
  const region = { x: 0, y: 0, w: size.width, h: size.height };
  return await tileResponse(ctx, c.req.raw, {
    image,
    region,
    outWidth: w,
    outHeight: h,
    format,
    associated: assoc[2],
  }, asked);
}

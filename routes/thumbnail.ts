/**
 * Thumbnails: `GET /thumbnail/{id}.{jpg|png|webp}?width=&height=` — the whole image fitted inside the box
 * (aspect kept, never enlarged past level 0; default 256×256), through the same pipeline and ops.
 */
import { Hono } from "hono";
import { badRequest, notFound, tooLarge } from "../errors.ts";
import { formatFromExtension } from "../pipeline/tile_request.ts";
import type { AppContext } from "./context.ts";
import { thumbnailSize } from "../pyramid/thumbnail.ts";
import { decodeId, parseTileOptions, rawPath, tileResponse } from "./tile_response.ts";

const THUMB_PATH = /^\/thumbnail\/([^/]+)\.([a-z]+)$/;
/** Largest thumbnail side. */
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

/** Thumbnail route. */
export function thumbnailRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  app.get("/thumbnail/*", async (c) => {
    const m = THUMB_PATH.exec(rawPath(c.req.url));
    if (!m) throw notFound("not a thumbnail URL: expected /thumbnail/{id}.{jpg|png|webp}");
    const format = formatFromExtension(m[2]);
    if (!format) throw badRequest(`unsupported format "${m[2]}" (jpg, png, webp)`);
    const query = new URL(c.req.url).searchParams;
    const box = parseBox(query, 256);
    const opts = parseTileOptions(query, ctx.config.quality);
    const image = await ctx.registry.resolve(decodeId(m[1], ctx.config.slashSubstitute));
    const { width, height } = image.info;
    const [w, h] = thumbnailSize(width, height, box.width, box.height);
    return await tileResponse(ctx, c.req.raw, {
      image,
      region: { x: 0, y: 0, w: width, h: height },
      outWidth: w,
      outHeight: h,
      format,
      opts,
    });
  });
  return app;
}

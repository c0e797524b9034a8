/**
 * Thumbnails: `GET /thumbnail/{id}.{jpg|png|webp}?width=&height=` — the whole image fitted inside the box
 * (aspect kept, never enlarged past level 0; default 256×256), through the same pipeline and ops.
 */
import type { Context } from "hono";
import { badRequest } from "../errors.ts";
import { formatFromExtension } from "../pipeline/tile_request.ts";
import type { AppContext } from "../service/context.ts";
import { thumbnailSize } from "../pyramid/thumbnail.ts";
import { decodeId } from "./ids.ts";
import { parseBox, trackedQuery } from "../service/query.ts";
import { readTileQuery } from "../service/request.ts";
import { tileResponse } from "./tile_response.ts";

/** `/thumbnail/{id}.{ext}`. */
export async function thumbnail(ctx: AppContext, c: Context, m: RegExpExecArray): Promise<Response> {
  const format = formatFromExtension(m[2]);
  if (!format) throw badRequest(`unsupported format "${m[2]}" (jpg, png, webp)`);
  const query = trackedQuery(c.req.url);
  const box = parseBox(query, 256);
  const asked = readTileQuery(query, ctx.config.quality, "a thumbnail");
  const image = await ctx.registry.resolve(decodeId(m[1], ctx.config.slashSubstitute));
  const { width, height } = image.info;
  const [w, h] = thumbnailSize(width, height, box.width, box.height);
  const target = { image, region: { x: 0, y: 0, w: width, h: height }, outWidth: w, outHeight: h, format };
  return await tileResponse(ctx, c.req.raw, target, asked);
}

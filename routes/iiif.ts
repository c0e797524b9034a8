/**
 * IIIF Image API 3.0, level 2, at `/iiif/3/{id}` (`%2F` for `/` in ids): the base URI redirects (303) to
 * `info.json`; image requests `{region}/{size}/{rotation}/{quality}.{format}` go through the one pipeline.
 * `gray` is the gray op and `bitonal` the global-Otsu threshold op, so IIIF shares cache entries with the
 * other protocols; `default`/`color` accept `?op=` (an extension) for derived tiles. Geometry:
 * `pyramid/iiif.ts`.
 */
import type { Context } from "hono";
import { badRequest, HttpError } from "../errors.ts";
import { formatFromExtension, maxOutputPixels } from "../pipeline/tile_request.ts";
import { gridFootprint, IiifError, iiifLayout, iiifLimits, parseIiifRequest } from "../pyramid/iiif.ts";
import { GRID_TILE } from "../pyramid/levels.ts";
import type { AppContext } from "../service/context.ts";
import { cacheControlFor, publicBase, varyFor } from "./public_url.ts";
import { decodeId, decodePart, metaIdentifier, renderSuffix } from "./ids.ts";
import { parseRenderSpec } from "../service/render_query.ts";
import { getOp } from "../kernels/index.ts";
import { TrackedQuery } from "../service/query.ts";
import { readTileQuery } from "../service/request.ts";
import { tileResponse } from "./tile_response.ts";

const PROFILE_LINK = '<http://iiif.io/api/image/3/level2.json>;rel="profile"';
const CONTEXT = "http://iiif.io/api/image/3/context.json";

/** The JSON-LD media type, unless the client's Accept header asks for plain JSON only. */
function infoContentType(accept: string | null): string {
  const ld = `application/ld+json;profile="${CONTEXT}"`;
  if (!accept || accept.includes("application/ld+json") || accept.includes("*/*")) return ld;
  return accept.includes("application/json") ? "application/json" : ld;
}

/** `/iiif/3/{id}`: 303 to its `info.json`. */
export function iiifBase(ctx: AppContext, _c: Context, base: RegExpExecArray): Response {
  // Relative to the request (RFC 9110), so it holds under any proxy prefix and never echoes the client's
  // host; absolute only from PUBLIC_URL.
  const location = ctx.config.publicUrl
    ? `${ctx.config.publicUrl}/iiif/3/${base[1]}/info.json`
    : `${base[1]}/info.json`;
  return new Response(null, { status: 303, headers: { Location: location } });
}

/** `/iiif/3/{id}/info.json`. */
export async function iiifInfo(ctx: AppContext, c: Context, info: RegExpExecArray): Promise<Response> {
  const url = new URL(c.req.url);
  const meta = metaIdentifier(info[1]);
  const image = await ctx.registry.resolve(decodeId(meta.id, ctx.config.slashSubstitute));
  // Render parameters on the info.json request go into its id, so every tile URL carries them; bad ones
  // are 400 here (the same parser as the tiles'), not an advertised id whose every tile is a 400.
  const suffix = meta.render.size ? "" : renderSuffix(url.searchParams);
  const spec = parseRenderSpec(meta.render.size ? meta.render : url.searchParams, image.info);
  const { width, height } = image.info;
  // The limits its requests get: outputs of a rendered image hold more samples a pixel.
  const limits = iiifLimits(maxOutputPixels(image.info.channels, spec));
  const { scaleFactors, sizes } = iiifLayout(width, height, limits);
  const pub = publicBase(ctx, c);
  const body = {
    "@context": CONTEXT,
    id: `${pub.base}/iiif/3/${info[1]}${suffix}`,
    type: "ImageService3",
    protocol: "http://iiif.io/api/image",
    profile: "level2",
    width,
    height,
    ...limits,
    sizes,
    tiles: [{ width: GRID_TILE, height: GRID_TILE, scaleFactors }],
    preferredFormats: ["jpg", "webp"],
    extraQualities: ["color", "gray", "bitonal"],
    extraFormats: ["webp"],
    extraFeatures: [
      "baseUriRedirect",
      "canonicalLinkHeader",
      "cors",
      "jsonldMediaType",
      "mirroring",
      "profileLinkHeader",
      "regionByPct",
      "regionByPx",
      "regionSquare",
      "rotationBy90s",
      "sizeByConfinedWh",
      "sizeByH",
      "sizeByPct",
      "sizeByW",
      "sizeByWh",
      "sizeUpscaling",
    ],
  };
  return new Response(JSON.stringify(body), {
    headers: {
      "Content-Type": infoContentType(c.req.header("Accept") ?? null),
      Link: PROFILE_LINK,
      // The media type follows Accept; the id, under TRUST_PROXY, the forwarding headers.
      Vary: ["Accept", varyFor(ctx)].filter(Boolean).join(", "),
      "Cache-Control": cacheControlFor(pub.fromRequest, `public, max-age=${ctx.config.cacheTtl}`),
    },
  });
}

/** `/iiif/3/{id}/{region}/{size}/{rotation}/{quality}.{format}`: an image request. */
export async function iiifImage(ctx: AppContext, c: Context, m: RegExpExecArray): Promise<Response> {
  const url = new URL(c.req.url);
  const meta = metaIdentifier(m[1]);
  const image = await ctx.registry.resolve(decodeId(meta.id, ctx.config.slashSubstitute));
  const { width, height } = image.info;
  let req;
  try {
    const [region, size, rotation, quality] = [m[2], m[3], m[4], m[5]].map((p) => decodePart(p, "IIIF request"));
    // The render parameters of the query and the path (a meta-identifier), merged as `tileResponse` does.
    const renderQuery = new URLSearchParams(url.searchParams);
    for (const [k, v] of meta.render) if (!renderQuery.has(k)) renderQuery.set(k, v);
    // `t` is the op's threshold where the op takes one (bitonal is the threshold op).
    const op = quality.startsWith("bitonal.") ? "threshold" : url.searchParams.get("op") ?? "none";
    const tIsOp = getOp(op).params.includes("t");
    const spec = parseRenderSpec(renderQuery, image.info, tIsOp);
    const limits = iiifLimits(maxOutputPixels(image.info.channels, spec));
    req = parseIiifRequest(region, size, rotation, quality, width, height, limits);
  } catch (err) {
    if (err instanceof IiifError) throw new HttpError(err.status, "iiif", err.message);
    throw err;
  }
  const query = new TrackedQuery(url.searchParams);
  if (req.quality === "gray" || req.quality === "bitonal") {
    if (query.has("op")) throw badRequest(`quality "${req.quality}" and ?op= cannot be combined`);
    query.set("op", req.quality === "gray" ? "gray" : "threshold");
  }
  const asked = readTileQuery(query, ctx.config.quality, "an IIIF image request", meta.render);
  const res = await tileResponse(ctx, c.req.raw, {
    image,
    region: gridFootprint(req.region, req.outWidth, req.outHeight, width, height),
    outWidth: req.outWidth,
    outHeight: req.outHeight,
    format: formatFromExtension(req.format)!,
    rotate: req.rotate,
    mirror: req.mirror,
  }, asked);
  // Relative to the request unless PUBLIC_URL is set (from …/{region}/{size}/{rotation}/{quality}.{format},
  // ../../../ is …/{id}/): tiles are cached, so the Link carries neither the client's Host nor a proxy's prefix.
  const canonical = ctx.config.publicUrl
    ? `${ctx.config.publicUrl}/iiif/3/${m[1]}/${req.canonical}`
    : `../../../${req.canonical}`;
  res.headers.set("Link", `<${canonical}>;rel="canonical", ${PROFILE_LINK}`);
  return res;
}

/**
 * Every URL the service answers, in one table read top to bottom: a `GET` (or `HEAD`) path is matched
 * (still percent-encoded, so an id's `%2F` stays one segment) against the patterns of its first segment, in
 * order, and the first that matches answers; each handler gets the match. A path under a known prefix that
 * matches none is a 404 saying what the prefix takes. Dispatched once per request (app.ts), no `next()`.
 */
import type { Context } from "hono";
import { notFound } from "../errors.ts";
import { rawPath } from "./ids.ts";
import { labelRoute } from "../telemetry/http.ts";
import type { AppContext } from "../service/context.ts";
import { health, metricsText, ready } from "./health.ts";
import { associatedImage, imageInfo, listImages } from "./images.ts";
import { imageStats, tissueList, tissuePng } from "./stats.ts";
import { patchExport } from "./patches.ts";
import { dziDescriptor, dziTile } from "./dzi.ts";
import { tileJson, xyzTile } from "./xyz.ts";
import { iiifBase, iiifImage, iiifInfo } from "./iiif.ts";
import { thumbnail } from "./thumbnail.ts";
import { zarrKey } from "./zarr.ts";
import { favicon, viewerFile } from "./viewer.ts";

/** A route's handler: the service, the request, and what its pattern matched. */
export type Handler = (ctx: AppContext, c: Context, m: RegExpExecArray) => Response | Promise<Response>;

/** Pattern → handler, in the order they are tried. */
export const ROUTES: readonly (readonly [RegExp, Handler])[] = [
  [/^\/$/, viewerFile],
  [/^\/viewer\/(?:app\.js|channels\.js|style\.css)$/, viewerFile],
  [/^\/vendor\/openseadragon\/(?:openseadragon\.min\.js|images\/[a-z_]+\.png)$/, viewerFile],
  [/^\/favicon\.ico$/, favicon],
  [/^\/health$/, health],
  [/^\/ready$/, ready],
  [/^\/metrics$/, metricsText],
  [/^\/images$/, listImages],
  [/^\/images\/([^/]+)$/, imageInfo],
  [/^\/images\/([^/]+)\/associated\/([a-z]+)\.([a-z]+)$/, associatedImage],
  [/^\/images\/([^/]+)\/stats$/, imageStats],
  [/^\/images\/([^/]+)\/tissue\.png$/, tissuePng],
  [/^\/images\/([^/]+)\/tissue\.(ndjson|json)$/, tissueList],
  [/^\/images\/([^/]+)\/patches\.(tar|ndjson)$/, patchExport],
  [/^\/dzi\/([^/]+)\.dzi$/, dziDescriptor],
  [/^\/dzi\/([^/]+)_files\/(\d{1,3})\/(\d{1,7})_(\d{1,7})\.([a-z]+)$/, dziTile],
  [/^\/xyz\/([^/]+)\/tilejson\.json$/, tileJson],
  [/^\/xyz\/([^/]+)\/(\d{1,3})\/(\d{1,7})\/(\d{1,7})\.([a-z]+)$/, xyzTile],
  [/^\/iiif\/3\/([^/]+)\/?$/, iiifBase],
  [/^\/iiif\/3\/([^/]+)\/info\.json$/, iiifInfo],
  [/^\/iiif\/3\/([^/]+)\/([^/]+)\/([^/]+)\/([^/]+)\/([^/]+)$/, iiifImage],
  [/^\/thumbnail\/([^/]+)\.([a-z]+)$/, thumbnail],
  [/^\/zarr\/([^/]+)\/(.*)$/, zarrKey],
];

/** The 404 of a path under a known first segment that no pattern matches: what the segment takes. */
const MISSES: Record<string, string> = {
  images: "no such image route",
  dzi: "not a Deep Zoom URL: expected /dzi/{id}.dzi or /dzi/{id}_files/{level}/{col}_{row}.{ext}",
  xyz: "not an XYZ URL: expected /xyz/{id}/{z}/{x}/{y}.{ext} or /xyz/{id}/tilejson.json",
  iiif: "not a IIIF URL: /iiif/3/{id}/info.json or /iiif/3/{id}/{region}/{size}/{rotation}/{quality}.{format}",
  thumbnail: "not a thumbnail URL: expected /thumbnail/{id}.{jpg|png|webp}",
  zarr: "not an OME-Zarr URL: expected /zarr/{id}/{key} (e.g. /zarr/{id}/.zmetadata)",
  vendor: "no such file",
  viewer: "no such file",
};

/** The first segment of a path (`images` of `/images/x/stats`; "" of `/`). */
function segmentOf(path: string): string {
  const end = path.indexOf("/", 1);
  return path.slice(1, end < 0 ? undefined : end);
}

/**
 * A pattern's label in the access log and the metrics: its literal start, `*` for what follows (`/dzi/*`,
 * `/images/*`, `/health`), so that labels stay few.
 */
export function labelOf(pattern: RegExp): string {
  const escaped = /^\^((?:\\[/.]|[a-z0-9_-])*)/.exec(pattern.source)![1];
  const literal = escaped.replaceAll("\\", "");
  return pattern.source[1 + escaped.length] === "$" ? literal : `${literal}*`;
}

/** The routes by first segment, in table order: a request tries only its own segment's few patterns. */
const BY_SEGMENT = new Map<string, (readonly [RegExp, Handler, string])[]>();
for (const route of ROUTES) {
  // The pattern's literal first segment (`favicon\.ico` of `^\/favicon\.ico$`), unescaped.
  const literal = /^\^\\\/((?:[a-z0-9]|\\\.)*)(?:\\\/|\$)/.exec(route[0].source)![1].replaceAll("\\.", ".");
  if (!BY_SEGMENT.has(literal)) BY_SEGMENT.set(literal, []);
  BY_SEGMENT.get(literal)!.push([route[0], route[1], labelOf(route[0])]);
}

/** The handler of a `GET`/`HEAD` request: the table's first match answers; a 404 otherwise. */
export function dispatch(ctx: AppContext): (c: Context) => Response | Promise<Response> {
  return (c) => {
    const path = rawPath(c.req.url);
    const segment = segmentOf(path);
    for (const [pattern, handler, label] of BY_SEGMENT.get(segment) ?? []) {
      const m = pattern.exec(path);
      if (!m) continue;
      labelRoute(c.req.raw, label);
      return handler(ctx, c, m);
    }
    throw notFound(MISSES[segment] ?? "no such route");
  };
}

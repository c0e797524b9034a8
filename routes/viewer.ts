/**
 * The viewer page at `GET /` (viewer/index.html, app.js, style.css) and OpenSeadragon from its npm package
 * at `/vendor/openseadragon/…` (no CDN). Static files are read once and kept in memory.
 */
import type { Context } from "hono";
import { notFound } from "../errors.ts";
import { PromiseCache } from "../cache/memo.ts";

const ROOT = new URL("../", import.meta.url);
const FILES: Record<string, [string, string]> = {
  "/": ["viewer/index.html", "text/html; charset=utf-8"],
  "/viewer/app.js": ["viewer/app.js", "text/javascript; charset=utf-8"],
  "/viewer/channels.js": ["viewer/channels.js", "text/javascript; charset=utf-8"],
  "/viewer/style.css": ["viewer/style.css", "text/css; charset=utf-8"],
  "/vendor/openseadragon/openseadragon.min.js": [
    "node_modules/openseadragon/build/openseadragon/openseadragon.min.js",
    "text/javascript; charset=utf-8",
  ],
};

/** The viewer's few files, read once each (a failed read is retried). */
const files = new PromiseCache<string, Uint8Array>(256);

/** A viewer file (`/`, `/viewer/…`) or one of OpenSeadragon's (`/vendor/openseadragon/…`); 404 for others. */
export async function viewerFile(_ctx: unknown, c: Context): Promise<Response> {
  const path = new URL(c.req.url).pathname;
  const file = FILES[path];
  const img = /^\/vendor\/openseadragon\/images\/([a-z_]+\.png)$/.exec(path);
  if (!file && !img) throw notFound(`no file ${path}`);
  const [rel, type] = file ?? [`node_modules/openseadragon/build/openseadragon/images/${img![1]}`, "image/png"];
  let bytes: Uint8Array;
  try {
    bytes = await files.get(rel, () => Deno.readFile(new URL(rel, ROOT)));
  } catch {
    throw notFound(`no file ${path}`);
  }
  return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
    "Content-Type": type,
    "Content-Length": String(bytes.byteLength), // known: the telemetry middleware need not copy the file
    "Cache-Control": "public, max-age=3600",
  });
}

/** `/favicon.ico`: none. */
export function favicon(_ctx: unknown, c: Context): Response {
  return c.body(null, 204);
}

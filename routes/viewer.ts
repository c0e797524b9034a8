/**
 * The viewer page at `GET /` (viewer/index.html, app.js, style.css) and OpenSeadragon from its npm package
 * at `/vendor/openseadragon/…` (no CDN). Static files are read once and kept in memory.
 */
import { Hono } from "hono";
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
const OSD_IMAGE = /^\/vendor\/openseadragon\/images\/([a-z_]+\.png)$/;

/** Viewer and vendor routes. */
export function viewerRoutes(): Hono {
  const app = new Hono();
  // The viewer's few files, read once each (a failed read is retried).
  const files = new PromiseCache<string, Uint8Array>(256);
  const read = (path: string) => files.get(path, () => Deno.readFile(new URL(path, ROOT)));
  app.get("/favicon.ico", (c) => c.body(null, 204));
  app.get("*", async (c, next) => {
    const path = new URL(c.req.url).pathname;
    const file = FILES[path];
    const img = OSD_IMAGE.exec(path);
    if (!file && !img) return await next();
    const [rel, type] = file ?? [`node_modules/openseadragon/build/openseadragon/images/${img![1]}`, "image/png"];
    let bytes: Uint8Array;
    try {
      bytes = await read(rel);
    } catch {
      throw notFound(`no file ${path}`);
    }
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      "Content-Type": type,
      "Content-Length": String(bytes.byteLength), // known: the telemetry middleware need not copy the file
      "Cache-Control": "public, max-age=3600",
    });
  });
  return app;
}

/**
 * CORS as a browser enforces it: a page on another origin (another port) fetches tiles, a preflighted
 * request (a custom request header) and an error from the service in Chromium, and reads the headers the
 * service exposes. Chromium, not this code, decides what the page may read.
 */
import { browserTest } from "./browser_helpers.ts";
import { assert, assertEquals } from "./assert.ts";
import { SAMPLES, startServer } from "./helpers.ts";

browserTest(
  "CORS in Chromium: another origin reads tiles, their exposed headers and errors; preflights pass",
  async (browser) => {
    const server = startServer({ BACKEND: "workers", WORKERS: "1", IMAGES_DIR: SAMPLES });
    const otherOrigin = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => new Response("<!doctype html><title>other origin</title>", { headers: { "Content-Type": "text/html" } }),
    );
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${otherOrigin.addr.port}/`);
      const tile = `${server.url}/iiif/3/CMU-1-Small-Region.svs/0,0,256,256/256,/0/gray.jpg`;
      const seen = await page.evaluate(async ([tile, base]) => {
        const read = async (url: string, init?: RequestInit) => {
          try {
            const r = await fetch(url, init);
            const body = new Uint8Array(await r.arrayBuffer());
            return {
              status: r.status,
              xOp: r.headers.get("X-Op"),
              etag: r.headers.get("ETag"),
              xCache: r.headers.get("X-Cache"),
              type: r.headers.get("Content-Type"),
              first: Array.from(body.subarray(0, 2)),
              text: r.status >= 400 ? new TextDecoder().decode(body) : "",
            };
          } catch (err) {
            return { error: String(err) };
          }
        };
        return {
          simple: await read(tile),
          // A custom request header makes the browser send a preflight first.
          preflighted: await read(tile + "?_=1", { headers: { "X-Requested-With": "edgetile-test" } }),
          missing: await read(`${base}/iiif/3/no-such-image.svs/info.json`),
          // Refused by the limits middleware (414), before any route.
          tooLong: await read(`${base}/iiif/3/${"x".repeat(5000)}/info.json`),
        };
      }, [tile, server.url]);
      const { simple, preflighted, missing, tooLong } = seen as Record<string, Record<string, unknown>>;
      assertEquals(simple.error, undefined, JSON.stringify(simple));
      assertEquals([simple.status, simple.type, simple.first], [200, "image/jpeg", [0xff, 0xd8]]);
      assertEquals(simple.xOp, "gray", "X-Op is exposed");
      assert(typeof simple.etag === "string" && /^"[0-9a-f]{64}"$/.test(simple.etag), `ETag exposed: ${simple.etag}`);
      assertEquals(preflighted.error, undefined, JSON.stringify(preflighted));
      assertEquals([preflighted.status, preflighted.xCache], [200, "hit"]);
      assertEquals(missing.error, undefined, JSON.stringify(missing));
      assertEquals(missing.status, 404);
      assertEquals(JSON.parse(missing.text as string).error.code, "not_found");
      assertEquals(tooLong.error, undefined, JSON.stringify(tooLong));
      assertEquals([tooLong.status, JSON.parse(tooLong.text as string).error.code], [414, "uri_too_long"]);

      // The preflight itself, as the browser sent it.
      const pre = await fetch(tile, {
        method: "OPTIONS",
        headers: {
          Origin: "http://example.org",
          "Access-Control-Request-Method": "GET",
          "Access-Control-Request-Headers": "x-a, x-b",
        },
      });
      await pre.body?.cancel();
      assertEquals(pre.status, 204);
      assertEquals(pre.headers.get("access-control-allow-origin"), "*");
      assertEquals(pre.headers.get("access-control-allow-methods"), "GET,HEAD");
      assertEquals(pre.headers.get("access-control-allow-headers"), "x-a,x-b");
      assertEquals(pre.headers.get("access-control-max-age"), "86400");
    } finally {
      await otherOrigin.shutdown();
      await server.close();
    }
  },
);

/**
 * The README's OpenSeadragon and Leaflet snippets, pasted verbatim, work from another origin (Chromium).
 */
import { browserTest } from "./browser_helpers.ts";
import pngDecode from "@jsquash/png/decode.js";
import { assert } from "./assert.ts";
import { SAMPLES, startServer } from "./helpers.ts";

browserTest(
  "the README's OpenSeadragon and Leaflet snippets work pasted verbatim, from another origin",
  async (browser) => {
    const server = startServer({ BACKEND: "workers", WORKERS: "2", IMAGES_DIR: SAMPLES });
    const leaflet = new URL("../node_modules/leaflet/dist/", import.meta.url);
    let page = "";
    // The page's own origin (another port: tiles are cross-origin), with Leaflet where unpkg would be.
    const site = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/") return new Response(page, { headers: { "Content-Type": "text/html" } });
      const file = /^\/leaflet@1\.9\.4\/dist\/([\w./-]+)$/.exec(path)?.[1];
      if (!file || file.includes("..")) return new Response("no", { status: 404 });
      const type = file.endsWith(".css") ? "text/css" : file.endsWith(".js") ? "text/javascript" : "image/png";
      return new Response(await Deno.readFile(new URL(file, leaflet)), { headers: { "Content-Type": type } });
    });
    try {
      for (
        const [heading, tiles] of [["OpenSeadragon (Deep Zoom or IIIF)", /_files\//], [
          "Leaflet (pixel",
          /\/xyz\//,
        ]] as const
      ) {
        // Verbatim but for where things live: the test server for localhost:8000, the site for unpkg.
        page = (await readmeSnippet(heading)).replaceAll("http://localhost:8000", server.url)
          .replaceAll("https://unpkg.com/", `http://127.0.0.1:${site.addr.port}/`);
        const tab = await browser.newPage({ viewport: { width: 900, height: 700 } });
        const answers: { url: string; status: number }[] = [];
        tab.on("response", (r) => answers.push({ url: r.url(), status: r.status() }));
        const errors: string[] = [];
        tab.on("pageerror", (e) => errors.push(e.message));
        tab.on("requestfailed", (r) => errors.push(`${r.url()}: ${r.failure()?.errorText}`));
        await tab.goto(`http://127.0.0.1:${site.addr.port}/`);
        await tab.waitForFunction(() => true);
        for (let i = 0; i < 100 && answers.filter((a) => tiles.test(a.url) && a.status === 200).length < 4; i++) {
          await new Promise((r) => setTimeout(r, 200));
        }
        await new Promise((r) => setTimeout(r, 1500)); // let the tiles draw
        const shot = await tab.screenshot();
        const img = await pngDecode(shot.slice().buffer as ArrayBuffer);
        const d = new Uint8Array(img.data.buffer);
        let stained = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] > d[i + 1] + 25 && d[i + 2] > d[i + 1] + 10) stained++;
        assert(
          stained / (d.length / 4) > 0.05,
          `${heading}: the slide is drawn (${(stained / (d.length / 4)).toFixed(3)})`,
        );
        if (heading.startsWith("Leaflet")) {
          // The view fits the slide (portrait: its stained rows span most of the 600-px map), and past its
          // edge the map's own grey shows, not a white box of padding around it.
          // The map's box on the page (the body's 8-px margin is white, and not the map's).
          const box = (await tab.locator("#map").boundingBox())!;
          let top = -1, bottom = -1, white = 0, grey = 0;
          const [x0, y0, x1, y1] = [box.x, box.y, box.x + box.width, box.y + box.height].map(Math.round);
          for (let y = y0; y < y1; y++) {
            for (let x = x0; x < x1; x++) {
              const i = (y * img.width + x) * 4;
              if (d[i] > d[i + 1] + 25 && d[i + 2] > d[i + 1] + 10) (top < 0 ? top = y : 0, bottom = y);
              if (d[i] === 255 && d[i + 1] === 255 && d[i + 2] === 255) white++;
              if ([0, 1, 2].every((c) => Math.abs(d[i + c] - 221) <= 3)) grey++;
            }
          }
          const area = (x1 - x0) * (y1 - y0);
          assert(
            bottom - top > 0.8 * box.height,
            `${heading}: the slide fills the view's height (rows ${top}..${bottom})`,
          );
          assert(white / area < 0.01, `${heading}: no white padding (${white} white pixels)`);
          assert(grey / area > 0.2, `${heading}: the map's grey beside the slide (${grey} pixels)`);
        }
        // Zoom all the way out and drag the image aside, as a user would: the view reaches past the image,
        // and still every tile asked for exists.
        await tab.mouse.move(450, 350);
        for (let i = 0; i < 4; i++) {
          await tab.mouse.wheel(0, 400);
          await new Promise((r) => setTimeout(r, 300));
        }
        await tab.mouse.down();
        await tab.mouse.move(650, 450, { steps: 5 });
        await tab.mouse.up();
        await new Promise((r) => setTimeout(r, 1500));
        const tileAnswers = answers.filter((a) => tiles.test(a.url));
        assert(tileAnswers.length >= 4, `${heading}: tiles requested (${tileAnswers.length})`);
        const bad = tileAnswers.filter((a) => a.status !== 200);
        assert(bad.length === 0, `${heading}: every tile 200 (none outside the image): ${JSON.stringify(bad[0])}`);
        assert(errors.length === 0, `${heading}: ${errors.join("; ")}`);
        await tab.close();
      }
    } finally {
      await site.shutdown();
      await server.close();
    }
  },
);

/** The README's fenced ```html block that follows `heading`. */
async function readmeSnippet(heading: string): Promise<string> {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const at = readme.indexOf(heading);
  assert(at >= 0, `README has "${heading}"`);
  const m = /```html\n([\s\S]*?)```/.exec(readme.slice(at));
  assert(m, `an html block after "${heading}"`);
  return m[1];
}

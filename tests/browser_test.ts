/**
 * The viewer page in a real browser: Debian's Chromium driven by playwright-core. It opens the bundled
 * SVS, waits until OpenSeadragon reports every tile loaded, switches to the mask overlay and to IIIF, and
 * asserts on the screenshots' pixels. Without /usr/bin/chromium the test is skipped on a developer
 * machine and fails in CI (`.ci/run` installs Debian's chromium first).
 */
import type { Page } from "playwright-core";
import { browserTest, waitLoaded } from "./browser_helpers.ts";
import pngDecode from "@jsquash/png/decode.js";
import { assert } from "./assert.ts";
import { SAMPLES, startServer } from "./helpers.ts";
import { craftBombs } from "./craft_tiff.ts";

/** Shares of the viewer's pixels: near-white (slide glass) and H&E-stained (pink/purple) tissue. */
async function screenshotStats(page: Page) {
  const png = await page.locator("#viewer").screenshot();
  const img = await pngDecode(png.slice().buffer as ArrayBuffer);
  const d = new Uint8Array(img.data.buffer);
  let white = 0, stained = 0;
  const n = img.width * img.height;
  for (let i = 0; i < n; i++) {
    const [r, g, b] = [d[i * 4], d[i * 4 + 1], d[i * 4 + 2]];
    if (r > 215 && g > 215 && b > 215) white++;
    else if (r > g + 25 && b > g + 10) stained++;
  }
  return { white: white / n, stained: stained / n, rgba: d };
}

browserTest(
  "viewer in Chromium: the SVS through Deep Zoom, the mask overlay, and IIIF, checked on screenshot pixels",
  async (browser) => {
    const server = startServer({ BACKEND: "workers", WORKERS: "2", IMAGES_DIR: SAMPLES });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 750 } });
      const requested: string[] = [];
      page.on("request", (r) => requested.push(new URL(r.url()).pathname));
      await page.goto(`${server.url}/?image=CMU-1-Small-Region.svs`);
      await waitLoaded(page, "dzi", "none");
      assert(requested.some((p) => p.startsWith("/dzi/CMU-1-Small-Region.svs_files/")), "Deep Zoom tiles were fetched");
      assert(requested.includes("/vendor/openseadragon/openseadragon.min.js"), "OpenSeadragon served locally");
      const plain = await screenshotStats(page);
      assert(plain.white > 0.15, `slide glass visible (${plain.white.toFixed(3)} near-white)`);
      assert(plain.stained > 0.1, `stained tissue visible (${plain.stained.toFixed(3)})`);
      const info = await page.locator("#info").innerText();
      assert(/2220 × 2967/.test(info) && /0\.4990 µm/.test(info), `image info shown: ${info}`);
      await page.locator("#info").getByText("gray 173, saturation 54").waitFor({ timeout: 30_000 });

      // The tissue mask as a multiply overlay: the glass darkens, the tissue keeps its colour.
      await page.selectOption("#op", "mask");
      await waitLoaded(page, "dzi", "mask");
      assert(requested.some((p) => p.includes("_files/") && p.endsWith(".png")), "mask tiles fetched (PNG)");
      const masked = await screenshotStats(page);
      assert(
        masked.white < plain.white * 0.1,
        `glass darkened under the mask (${plain.white.toFixed(3)} → ${masked.white.toFixed(3)})`,
      );
      assert(masked.stained > plain.stained * 0.6, `tissue still visible (${masked.stained.toFixed(3)})`);

      // The same view through IIIF: tiles from /iiif/3/, the same picture.
      const before = requested.length;
      await page.selectOption("#protocol", "iiif");
      await waitLoaded(page, "iiif", "mask");
      const iiifTiles = requested.slice(before).filter((p) => /^\/iiif\/3\/CMU-1-Small-Region\.svs\/\d/.test(p));
      assert(iiifTiles.length > 0, "IIIF tiles were fetched");
      const viaIiif = await screenshotStats(page);
      let diff = 0;
      for (let i = 0; i < viaIiif.rgba.length; i++) diff += Math.abs(viaIiif.rgba[i] - masked.rgba[i]);
      const meanDiff = diff / viaIiif.rgba.length;
      assert(meanDiff < 8, `IIIF and Deep Zoom views match (mean |Δ| ${meanDiff.toFixed(2)})`);
    } finally {
      await server.close();
    }
  },
);

/** A reverse proxy serving `target` under `/edge` (the prefix stripped), as nginx's `location /edge/` would. */
function prefixProxy(target: string) {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    if (!url.pathname.startsWith("/edge/")) return new Response("outside the prefix", { status: 404 });
    const res = await fetch(target + url.pathname.slice("/edge".length) + url.search, { headers: req.headers });
    return new Response(res.body, { status: res.status, headers: res.headers });
  });
}

/** The viewer's reported view (centre in image pixels, zoom in screen pixels per image pixel). */
// deno-lint-ignore no-explicit-any
const viewOf = (page: Page) => page.evaluate(() => (globalThis as any).edgetileViewer.view);

browserTest(
  "viewer as a product: the view in the URL and kept across switches, keyboard, 390 px, errors, scale bar, PNG masks, under a prefix",
  async (browser) => {
    const dir = await Deno.makeTempDir({ prefix: "edgetile-viewer-" });
    await Deno.copyFile(`${SAMPLES}CMU-1-Small-Region.svs`, `${dir}/CMU-1-Small-Region.svs`);
    await Deno.copyFile(`${SAMPLES}coffee.png`, `${dir}/coffee.png`);
    await craftBombs(dir);
    const server = startServer({ BACKEND: "workers", WORKERS: "2", IMAGES_DIR: dir });
    const proxy = prefixProxy(server.url);
    const site = `http://127.0.0.1:${proxy.addr.port}/edge/`;
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 750 } });
      const requested: string[] = [];
      page.on("request", (r) => requested.push(new URL(r.url()).pathname + new URL(r.url()).search));
      // A shared link: image, protocol, op, centre and zoom.
      await page.goto(`${site}?image=CMU-1-Small-Region.svs&protocol=dzi&op=gray&x=1500&y=2000&z=0.5`);
      await waitLoaded(page, "dzi", "gray");
      const near = (a: { x: number; y: number; z: number }, b: { x: number; y: number; z: number }, what: string) =>
        assert(
          Math.abs(a.x - b.x) < 3 && Math.abs(a.y - b.y) < 3 && Math.abs(a.z / b.z - 1) < 0.01,
          `${what}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`,
        );
      near(await viewOf(page), { x: 1500, y: 2000, z: 0.5 }, "the link's view");
      assert(
        requested.every((p) => p.startsWith("/edge/")),
        `everything relative to the page: ${requested.find((p) => !p.startsWith("/edge/"))}`,
      );

      // Switching op, then protocol, keeps the view; mask tiles come as PNG on both protocols.
      await page.selectOption("#op", "mask");
      await waitLoaded(page, "dzi", "mask");
      near(await viewOf(page), { x: 1500, y: 2000, z: 0.5 }, "after the op switch");
      const maskTiles = requested.filter((p) => p.includes("_files/") && p.includes("op=mask"));
      assert(maskTiles.length > 0 && maskTiles.every((p) => /\.png\?/.test(p)), `mask tiles as PNG: ${maskTiles[0]}`);
      await page.selectOption("#protocol", "iiif");
      await waitLoaded(page, "iiif", "mask");
      near(await viewOf(page), { x: 1500, y: 2000, z: 0.5 }, "after the protocol switch");
      const iiifMask = requested.filter((p) => p.startsWith("/edge/iiif/3/") && p.includes("op=mask"));
      assert(
        iiifMask.length > 0 && iiifMask.every((p) => /\.png\?op=mask$/.test(p)),
        `IIIF mask as PNG: ${iiifMask[0]}`,
      );

      // Panning writes the URL; the URL reopens the same view (shareable).
      await page.evaluate(() => {
        // deno-lint-ignore no-explicit-any
        const g = globalThis as any;
        const osd = g.edgetileViewer.osd;
        osd.viewport.panBy(new g.OpenSeadragon.Point(0.1, 0), true);
        osd.viewport.applyConstraints(true);
        osd.raiseEvent("animation-finish");
      });
      const moved = await viewOf(page);
      assert(moved.x > 1600, `panned right: ${JSON.stringify(moved)}`);
      const link = page.url();
      for (const [k, v] of [["image", "CMU-1-Small-Region.svs"], ["protocol", "iiif"], ["op", "mask"]]) {
        assert(new URL(link).searchParams.get(k) === v, `${k} in ${link}`);
      }
      const again = await browser.newPage({ viewport: { width: 1100, height: 750 } });
      await again.goto(link);
      await waitLoaded(again, "iiif", "mask");
      near(await viewOf(again), moved, "the copied link");

      // The scale bar from MPP (0.499 µm/px at level 0).
      const scale = await again.locator("#scalebar-label").innerText();
      assert(/^\d+ (µm|mm)$/.test(scale), `scale bar: ${scale}`);
      const barPx = await again.locator("#scalebar-bar").evaluate((e) => e.getBoundingClientRect().width);
      const um = Number(scale.split(" ")[0]) * (scale.endsWith("mm") ? 1000 : 1);
      assert(Math.abs(barPx - um / 0.499 * moved.z) < 2, `bar ${barPx} px for ${scale} at zoom ${moved.z}`);
      await again.close();

      // The image list by keyboard: focus, arrow down, Enter opens the next image.
      await page.locator("#images button").first().focus();
      await page.keyboard.press("ArrowDown");
      // deno-lint-ignore no-explicit-any
      const next = await page.evaluate(() => (globalThis as any).document.activeElement?.getAttribute("data-id"));
      await page.keyboard.press("Enter");
      // deno-lint-ignore no-explicit-any
      await page.waitForFunction((id) => (globalThis as any).edgetileViewer.image === id, next);
      assert(next && next !== "CMU-1-Small-Region.svs", `moved to ${next}`);

      // The server's messages: an unknown image, and tiles that fail (a JPEG lying about its size).
      await page.goto(`${site}?image=nope.svs`);
      await page.locator("#error").getByText('nope.svs: no image "nope.svs"').waitFor({ timeout: 10_000 });
      await page.goto(`${site}?image=lying-jpeg.tif`);
      await page.locator("#error").getByText(/a tile failed: .*claims/).waitFor({ timeout: 20_000 });

      // A phone: 390 px wide, nothing wider than the screen, the view and the controls usable.
      const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
      await phone.goto(`${site}?image=CMU-1-Small-Region.svs`);
      await waitLoaded(phone, "dzi", "none");
      const layout = await phone.evaluate(() => {
        // deno-lint-ignore no-explicit-any
        const doc = (globalThis as any).document;
        return {
          scrollWidth: doc.documentElement.scrollWidth,
          stage: doc.getElementById("stage").getBoundingClientRect().toJSON(),
          op: doc.getElementById("op").getBoundingClientRect().toJSON(),
        };
      });
      assert(layout.scrollWidth <= 390, `no horizontal overflow (${layout.scrollWidth} px)`);
      assert(
        layout.stage.width >= 380 && layout.stage.height >= 300,
        `the view fills the width: ${JSON.stringify(layout.stage)}`,
      );
      assert(layout.op.right <= 390 && layout.op.width > 0, "the op switch is on screen");
      await phone.close();
    } finally {
      await proxy.shutdown();
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

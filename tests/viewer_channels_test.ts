/**
 * The viewer's channel panel in a real browser (Debian's Chromium, playwright-core): on the TCGA OME-TIFF
 * and the z-series, its controls drive the tile URLs and the page URL reproduces the rendering.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, startServer } from "./helpers.ts";
import { browserTest, waitLoaded } from "./browser_helpers.ts";

browserTest(
  "viewer channel panel: toggle, colour, window, stretch and Z drive the tiles; the view's URL reproduces it",
  async (browser) => {
    const dir = await Deno.makeTempDir({ prefix: "edgetile-channels-" });
    for (const f of ["generated__tcga-hed-4ch-uint16_ome_pyramid.tif", "libvips__multi-channel-z-series.ome.tif"]) {
      await Deno.copyFile(`${DATA}${f}`, `${dir}/${f}`);
    }
    const server = startServer({ BACKEND: "workers", WORKERS: "2", IMAGES_DIR: dir });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
      const tiles: string[] = [];
      page.on("request", (r) => r.url().includes("_files/") && tiles.push(r.url()));
      const id = "generated__tcga-hed-4ch-uint16_ome_pyramid.tif";
      await page.goto(`${server.url}/?image=${id}`);
      await waitLoaded(page, "dzi", "none");
      const names = await page.locator("#channel-list .channel label").allInnerTexts();
      assertEquals(names.map((s) => s.trim()), ["Hematoxylin", "Eosin", "DAB", "Luminance"]);
      // The histograms arrive with the stats.
      await page.locator("#channel-list .histogram").first().waitFor({ timeout: 30_000 });
      // Channel 1 off, channel 0 white with a window, sqrt: the tiles ask for exactly that.
      const before = tiles.length;
      await page.locator('#channel-list input[data-channel="1"]').uncheck();
      await page.locator("#channel-list .channel").first().locator('input[type="color"]').fill("#ffffff");
      await page.locator("#channel-list .channel").first().locator('input[type="range"]').first().fill("5000");
      await page.selectOption("#stretch", "sqrt");
      await page.waitForFunction(
        // deno-lint-ignore no-explicit-any
        () => ((globalThis as any).edgetileViewer.render ?? "").includes("stretch=sqrt"),
        undefined,
        { timeout: 20_000 },
      );
      // The view URL may say it before the tiles are asked for (a resize of the panel writes it too): wait for
      // the first tile of the new rendering (30 s only catches a hang), then for the view to load.
      for (let i = 0; i < 300 && !tiles.slice(before).some((u) => u.includes("stretch=sqrt")); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      await waitLoaded(page, "dzi", "none");
      // deno-lint-ignore no-explicit-any
      const render: string = await page.evaluate(() => (globalThis as any).edgetileViewer.render);
      const q = new URLSearchParams(render);
      assertEquals(q.get("c"), "0,2,3");
      assertEquals(q.get("color")!.split(",")[0], "ffffff");
      // The slider snaps to its step (a thousandth of the channel's range).
      const lo = Number(q.get("window")!.split(",")[0].split(":")[0]);
      assert(Math.abs(lo - 5000) < 100, q.get("window")!);
      // From the first tile of the new rendering on, every tile carries it.
      const first = tiles.findIndex((u, i) => i >= before && u.includes("stretch=sqrt"));
      const fresh = tiles.slice(first < 0 ? tiles.length : first).map((u) => new URL(u).searchParams);
      assert(
        fresh.length > 0 && fresh.every((p) => p.get("c") === "0,2,3" && p.get("stretch") === "sqrt"),
        "tiles carry it",
      );
      // The page URL reproduces the rendering in a new page.
      const link = page.url();
      assert(new URL(link).searchParams.get("render") === render, link);
      const again = await browser.newPage({ viewport: { width: 1200, height: 800 } });
      await again.goto(link);
      await waitLoaded(again, "dzi", "none");
      // deno-lint-ignore no-explicit-any
      assertEquals(await again.evaluate(() => (globalThis as any).edgetileViewer.render), render);
      assert(!(await again.locator('#channel-list input[data-channel="1"]').isChecked()), "channel 1 stays off");
      // A Z plane of the z-series through IIIF: the tile URLs' meta-identifier carries z.
      const iiif: string[] = [];
      again.on(
        "request",
        (r) => r.url().includes("/iiif/3/") && iiif.push(decodeURIComponent(decodeURIComponent(r.url()))),
      );
      await again.goto(`${server.url}/?image=libvips__multi-channel-z-series.ome.tif&protocol=iiif`);
      await waitLoaded(again, "iiif", "none");
      await again.locator("#plane-z").fill("3");
      await again.waitForFunction(
        // deno-lint-ignore no-explicit-any
        () => ((globalThis as any).edgetileViewer.render ?? "").includes("z=3"),
        undefined,
        { timeout: 20_000 },
      );
      await waitLoaded(again, "iiif", "none");
      assert(iiif.some((u) => /;c=0,1,2.*z=3\/\d+,\d+,\d+,\d+\//.test(u)), iiif.slice(-3).join("\n"));
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/**
 * The viewer page in a real browser: Debian's Chromium driven by playwright-core. It opens the bundled
 * SVS, waits until OpenSeadragon reports every tile loaded, switches to the mask overlay and to IIIF, and
 * asserts on the screenshots' pixels. Without /usr/bin/chromium the test is skipped on a developer
 * machine and fails in CI (`.ci/run` installs Debian's chromium first).
 */
import { chromium, type Page } from "playwright-core";
import pngDecode from "@jsquash/png/decode.js";
import { assert } from "./assert.ts";
import { SAMPLES, startServer } from "./helpers.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();
const inCi = Deno.env.get("CI") === "true";

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

async function waitLoaded(page: Page, protocol: string, op: string) {
  await page.waitForFunction(
    ([p, o]) => {
      // deno-lint-ignore no-explicit-any
      const v = (globalThis as any).edgetileViewer;
      return v && v.protocol === p && v.op === o && v.fullyLoaded && v.tileErrors === 0;
    },
    [protocol, op],
    { timeout: 60_000 },
  );
}

Deno.test({
  name: "viewer in Chromium: the SVS through Deep Zoom, the mask overlay, and IIIF, checked on screenshot pixels",
  ignore: !hasChromium && !inCi,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    assert(hasChromium, `${CHROMIUM} is missing (apt-get install chromium)`);
    const server = startServer({ BACKEND: "workers", WORKERS: "2", IMAGES_DIR: SAMPLES });
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic"],
    });
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
      assert(requested.some((p) => p.includes("_files/") && p.endsWith(".jpeg")), "mask tiles fetched");
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
      await browser.close();
      await server.close();
    }
  },
});

/// <reference lib="dom" />
/**
 * The built-in viewer as a newcomer met it (issue 37), in Chromium, on the page's DOM and screenshot pixels:
 * the status settles on "loaded"; the mask overlay is the mask of the level shown (no blocks of coarser
 * levels left on screen after zooming in); the op menu offers sobel; names break only at separators; files
 * the server does not read are listed greyed with why; the unknown-image view shows no op controls and no
 * empty navigator; channel windows show the window in use; the mobile strip shows that it scrolls.
 */
import type { Page } from "playwright-core";
import pngDecode from "@jsquash/png/decode.js";
import { assert, assertEquals } from "./assert.ts";
import { browserTest, waitLoaded } from "./browser_helpers.ts";
import { DATA, SAMPLES, startServer } from "./helpers.ts";

/** The mean of R, G and B of each pixel of a screenshot of `clip`. */
async function grayShot(page: Page, clip: { x: number; y: number; width: number; height: number }) {
  const img = await pngDecode((await page.screenshot({ clip })).slice().buffer as ArrayBuffer);
  const d = new Uint8Array(img.data.buffer), g = new Float64Array(d.length / 4);
  for (let i = 0; i < g.length; i++) g[i] = (d[i * 4] + d[i * 4 + 1] + d[i * 4 + 2]) / 3;
  return g;
}

/** The status line's text, once the view has settled (30 s only catches a hang). */
async function settledStatus(page: Page): Promise<string> {
  await page.waitForFunction(() => document.getElementById("status")?.textContent === "loaded", null, {
    timeout: 30_000,
  }).catch(() => {});
  return await page.locator("#status").textContent() ?? "";
}

browserTest(
  "viewer: status settles, mask overlay of the level shown, sobel, names, unsupported files, 390 px",
  async (browser) => {
    const server = startServer({ BACKEND: "workers", WORKERS: "2", IMAGES_DIR: SAMPLES, KV_PATH: "off" });
    try {
      // The first page a newcomer opens: the first image, its status settling on "loaded", wide and narrow.
      for (const width of [1200, 390]) {
        const page = await browser.newPage({ viewport: { width, height: 844 } });
        await page.goto(`${server.url}/`);
        await waitLoaded(page, "dzi", "none");
        assertEquals(await settledStatus(page), "loaded", `${width} px: the status is not stuck`);
        if (width === 390) {
          // The image strip scrolls sideways, and says so: a fade at its edge while more lies past it.
          const strip = await page.evaluate(() => {
            const l = document.getElementById("images")!;
            return { overflow: l.scrollWidth > l.clientWidth, more: l.classList.contains("more") };
          });
          assert(strip.overflow && strip.more, `the strip scrolls and shows it: ${JSON.stringify(strip)}`);
          await page.evaluate(() => document.getElementById("images")!.scrollTo({ left: 1e6 }));
          await page.waitForFunction(() => !document.getElementById("images")!.classList.contains("more"));
        }
        await page.close();
      }

      const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
      await page.goto(`${server.url}/?image=CMU-1-Small-Region.svs`);
      await waitLoaded(page, "dzi", "none");
      // Names break at their separators only, and the size stays whole; the README beside the slides is listed
      // greyed, with the server's reason.
      const names = await page.evaluate(() =>
        [...document.querySelectorAll("#images li")].map((li) => ({
          text: li.querySelector("span")?.textContent,
          wbr: li.querySelectorAll("wbr").length,
          unsupported: li.classList.contains("unsupported"),
          disabled: li.querySelector("button")?.disabled,
          reason: li.querySelector(".reason")?.textContent ?? null,
        }))
      );
      const cmu = names.find((n) => n.text?.startsWith("CMU-1-Small-Region.svs"))!;
      assertEquals(cmu.text, "CMU-1-Small-Region.svs (2220×2967)");
      assert(cmu.wbr >= 4, `break opportunities after - and . only (${cmu.wbr})`);
      const readme = names.find((n) => n.text === "README.md")!;
      assert(readme.unsupported && readme.disabled && /unsupported file format: a text file/.test(readme.reason!));
      const breaks = await page.evaluate(() => {
        const bad: string[] = [];
        for (const span of document.querySelectorAll("#images li > button > span")) {
          const text = span.textContent ?? "";
          const walker = document.createTreeWalker(span, NodeFilter.SHOW_TEXT);
          let prevTop = -1, prevChar = "";
          for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            for (let i = 0; i < (n.textContent ?? "").length; i++) {
              const r = document.createRange();
              r.setStart(n, i);
              r.setEnd(n, i + 1);
              const top = r.getBoundingClientRect().top, ch = n.textContent![i];
              if (prevTop >= 0 && top > prevTop + 2 && !/[_\-./ ]/.test(prevChar) && ch !== "(") {
                bad.push(`${text}: ${prevChar}|${ch}`);
              }
              if (ch.trim()) (prevTop = top, prevChar = ch);
              else prevChar = ch;
            }
          }
        }
        return bad;
      });
      assertEquals(breaks, [], "no name broken inside a word or a number");
      // The op menu offers sobel, and it serves.
      assert((await page.locator("#op option[value=sobel]").count()) === 1, "sobel in the op menu");
      await page.selectOption("#op", "sobel");
      await waitLoaded(page, "dzi", "sobel");

      // The mask overlay after zooming in with the wheel, as a user would: what is on screen is the base
      // multiplied by the mask of the level shown (read back by drawing that mask alone in the same view),
      // not that mask with a coarser level's blocks left under it.
      await page.goto(`${server.url}/?image=CMU-1-Small-Region.svs&op=mask&x=1000&y=1800&z=0.1&opacity=0.6`);
      await waitLoaded(page, "dzi", "mask");
      await page.mouse.move(700, 400);
      for (let i = 0; i < 6; i++) {
        await page.mouse.wheel(0, -300);
        await new Promise((r) => setTimeout(r, 400));
      }
      await page.waitForFunction(
        () => {
          // deno-lint-ignore no-explicit-any
          const v = (globalThis as any).edgetileViewer;
          return v.fullyLoaded && v.view?.z > 0.3;
        },
        null,
        { timeout: 60_000 },
      );
      await new Promise((r) => setTimeout(r, 1000));
      const clip = { x: 240, y: 60, width: 900, height: 600 };
      const shown = await grayShot(page, clip);
      const redraw = (f: string) =>
        page.evaluate((f) => {
          // deno-lint-ignore no-explicit-any
          const osd = (globalThis as any).edgetileViewer.osd, mask = osd.world.getItemAt(1);
          if (f === "mask") (mask.setCompositeOperation(null), mask.setOpacity(1));
          else mask.setOpacity(0);
          osd.forceRedraw();
        }, f);
      await redraw("mask");
      await new Promise((r) => setTimeout(r, 800));
      const mask = await grayShot(page, clip);
      await redraw("base");
      await new Promise((r) => setTimeout(r, 800));
      const base = await grayShot(page, clip);
      let bad = 0, holes = 0;
      for (let i = 0; i < shown.length; i++) {
        if (mask[i] < 128) holes++;
        if (Math.abs(shown[i] - base[i] * (1 - 0.6 * (1 - mask[i] / 255))) > 25) bad++;
      }
      assert(holes > 0.05 * shown.length, `the view holds background and tissue (${holes} mask pixels off)`);
      assert(
        bad / shown.length < 0.02,
        `the overlay is the mask of the level shown (${(100 * bad / shown.length).toFixed(2)} % differ)`,
      );
      await page.close();

      // An unknown image: the error, no op controls, no empty navigator, no status.
      const lost = await browser.newPage({ viewport: { width: 1200, height: 800 } });
      await lost.goto(`${server.url}/?image=nope.tif&op=none`);
      await lost.waitForFunction(() => !document.getElementById("error")!.hidden);
      const ui = await lost.evaluate(() => ({
        opacity: document.getElementById("opacity-label")!.hidden,
        palette: document.getElementById("palette-label")!.hidden,
        // deno-lint-ignore no-explicit-any
        navigator: (globalThis as any).edgetileViewer.osd.navigator?.element?.style.display ?? "none",
        status: document.getElementById("status")!.textContent,
        error: document.getElementById("error")!.textContent,
      }));
      assertEquals([ui.opacity, ui.palette, ui.navigator, ui.status], [true, true, "none", ""], JSON.stringify(ui));
      assert(/nope\.tif/.test(ui.error ?? ""), ui.error ?? "");
      await lost.close();
    } finally {
      await server.close();
    }
  },
);

browserTest("viewer: a rendered image's channel windows show the window in use, not just 'auto'", async (browser) => {
  const server = startServer({ BACKEND: "workers", WORKERS: "2", IMAGES_DIR: DATA, KV_PATH: "off" });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(`${server.url}/?image=generated__tcga-hed-4ch-uint16_ome_pyramid.tif`);
    await page.waitForSelector("#channels .window-value");
    const values = await page.locator("#channels .window-value").allTextContents();
    const info = await (await fetch(`${server.url}/images/generated__tcga-hed-4ch-uint16_ome_pyramid.tif`)).json();
    assertEquals(values.length, info.channelList.length);
    values.forEach((v, i) => {
      const ch = info.channelList[i];
      // As the panel writes a bound: integers as they are, real values to 4 significant digits.
      const num = (x: number) => Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(4)));
      assertEquals(v, `${num(ch.low)} – ${num(ch.high)} (auto)`, `channel ${i}`);
    });
    await page.close();
  } finally {
    await server.close();
  }
});

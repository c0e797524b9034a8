/** Shared by the browser tests: Debian's Chromium through playwright-core, and the viewer's load signal. */
import { type Browser, chromium, type Page } from "playwright-core";
import { assert } from "./assert.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();
const inCi = Deno.env.get("CI") === "true";

/** A test that needs Chromium: skipped without it on a developer machine, failed without it in CI. */
export function browserTest(name: string, fn: (browser: Browser) => Promise<void>) {
  Deno.test({
    name,
    ignore: !hasChromium && !inCi,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      assert(hasChromium, `${CHROMIUM} is missing (apt-get install chromium)`);
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic"],
      });
      try {
        await fn(browser);
      } finally {
        await browser.close();
      }
    },
  });
}

/** Waits until the viewer shows `protocol` and `op` with every tile loaded and none failed. */
export async function waitLoaded(page: Page, protocol: string, op: string) {
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

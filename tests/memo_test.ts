/**
 * The memoising cache (cache/memo.ts) every computed-once value goes through, and the cache bounds of
 * `Config.caches` reaching the caches they bound.
 */
import { assert, assertEquals } from "./assert.ts";
import { SAMPLES } from "./helpers.ts";
import { PromiseCache } from "../cache/memo.ts";
import { DEFAULT_CACHE_SIZES } from "../cache/sizes.ts";
import { StatsService } from "../service/stats.ts";
import { InlineBackend } from "../workers/backend.ts";
import { openSource } from "../sources/open.ts";
import { SourceCache } from "../sources/source_cache.ts";

Deno.test("PromiseCache: one computation for concurrent callers, failures retried, bounded", async () => {
  const cache = new PromiseCache<string, number>(10);
  let runs = 0;
  const slow = () => new Promise<number>((r) => setTimeout(() => r(++runs), 5));
  const [a, b] = await Promise.all([cache.get("k", slow), cache.get("k", slow)]);
  assertEquals([a, b, runs], [1, 1, 1]);
  // A failure is not kept: the next caller computes again.
  let fail = true;
  const flaky = () => (fail ? Promise.reject(new Error("once")) : Promise.resolve(42));
  await cache.get("f", flaky).catch(() => {});
  await Promise.resolve();
  fail = false;
  assertEquals(await cache.get("f", flaky), 42);
  // A failed promise evicted and replaced meanwhile never removes its replacement.
  let rejectOld!: (e: Error) => void;
  const old = cache.get("r", () => new Promise<number>((_, rej) => (rejectOld = rej)));
  cache.lru.delete("r");
  assertEquals(await cache.get("r", () => Promise.resolve(7)), 7);
  rejectOld(new Error("late"));
  await old.catch(() => {});
  assert(cache.has("r"), "the newer entry stays");
  // Bounded by size: 4 + 4 + 4 > 10 evicts the oldest.
  const sized = new PromiseCache<string, string>(10);
  for (const k of ["x", "y", "z"]) await sized.get(k, () => Promise.resolve(k), 4);
  assertEquals(["x", "y", "z"].map((k) => sized.has(k)), [false, true, true]);
  sized.lru.resize(4);
  assertEquals(["y", "z"].map((k) => sized.has(k)), [false, true]);
});

Deno.test("Config.caches bounds the caches: statistics and flat images kept or not by their caps", async () => {
  const source = { path: `${SAMPLES}coffee.png`, version: "t", maxPixels: 1e8 };
  const backend = new InlineBackend();
  try {
    for (const [statsBytes, computations] of [[DEFAULT_CACHE_SIZES.statsBytes, 1], [1, 2]]) {
      const stats = new StatsService(backend, undefined, "wasm", { statsBytes, palettes: 8 });
      await stats.get(source);
      await stats.get(source);
      assertEquals(stats.computations, computations, `statsBytes ${statsBytes}`);
    }
    const image = await openSource({ ...source, version: "flat-caps" });
    const flatImages = image.runtime.caches.flatImages;
    const sizePixelCaches = (sizes: typeof DEFAULT_CACHE_SIZES) => image.runtime.caches.resize(sizes);
    try {
      const before = flatImages.lru.count;
      await image.readRegion(0, 0, 0, 8, 8);
      assertEquals(flatImages.lru.count, before + 1, "the decoded image is kept");
      sizePixelCaches({ ...DEFAULT_CACHE_SIZES, flatImagesBytes: 1024 });
      assertEquals(flatImages.lru.count, 0, "shrunk past it");
      await image.readRegion(0, 0, 0, 8, 8);
      assertEquals(flatImages.lru.count, 0, "too large to keep under the new cap");
    } finally {
      sizePixelCaches(DEFAULT_CACHE_SIZES);
      await image.close();
    }
  } finally {
    await backend.close();
  }
});

Deno.test("a thread that reads no pixels opens each version once for its info and keeps nothing open", async () => {
  const infoOnly = new SourceCache(undefined, 64, false);
  const d = { path: `${SAMPLES}coffee.png`, version: "info-once", maxPixels: 1e8 };
  const [a, b] = await Promise.all([infoOnly.infoOf(d), infoOnly.infoOf(d)]);
  assertEquals([a.width, b.width, infoOnly.opened, infoOnly.openNow], [600, 600, 1, 0]);
  await infoOnly.infoOf({ ...d, version: "info-twice" });
  assertEquals(infoOnly.opened, 2, "a new version is opened again");
  const reading = new SourceCache();
  await reading.infoOf(d);
  await reading.get(d);
  assertEquals([reading.opened, reading.openNow], [1, 1], "a reading thread's info comes from its one open source");
  await reading.close();
});

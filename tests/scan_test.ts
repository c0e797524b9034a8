/**
 * Patch exports as scans: the pool runs tasks of one affinity on one worker, a scan read decodes the stored
 * blocks it touches whole (kept for the neighbours) with the same pixels as a lone read's parts, and an
 * export scans only where two rows of its level's blocks fit the pixel budget.
 */
import { assert, assertEquals } from "./assert.ts";
import { firstDifference, SAMPLES } from "./helpers.ts";
import { openFirstTile, pillow } from "./jpeg_reference.ts";
import { WorkerPool } from "../workers/pool.ts";
import { exportWindow, readsAsScan } from "../export/patches.ts";
import type { TileRequest } from "../pipeline/tile_request.ts";
import type { ResolvedImage } from "../sources/registry.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test(
  "the pool runs tasks of one affinity on one worker (modulo its size); others on the least busy",
  opts,
  async () => {
    const pool = new WorkerPool({ size: 2 });
    try {
      const source = { path: `${SAMPLES}coffee.png`, version: "affinity", maxPixels: 1e8 };
      const tile = (i: number): TileRequest => ({
        image: "coffee.png",
        version: "affinity",
        region: { x: (i % 8) * 64, y: 0, w: 64, h: 64 },
        outWidth: 64,
        outHeight: 64,
        op: { name: "gray", params: {} },
        format: "png",
        quality: 0,
      });
      const run = (affinity?: number) =>
        Promise.all(
          Array.from(
            { length: 12 },
            (_, i) => pool.run(source, { kind: "tile", request: tile(i) }, undefined, affinity),
          ),
        );
      const delta = async (affinity?: number) => {
        const before = pool.sentPerWorker();
        const tiles = await run(affinity);
        assert(tiles.every((t) => t.bytes.length > 0));
        return pool.sentPerWorker().map((n, i) => n - before[i]);
      };
      assertEquals(await delta(1), [0, 12]);
      assertEquals(await delta(4), [12, 0], "4 modulo 2 workers");
      const spread = await delta();
      assertEquals(spread[0] + spread[1], 12);
      assert(spread[0] > 0 && spread[1] > 0, `without an affinity both workers work: ${spread}`);
      // A non-finite or negative affinity is none (not a worker that does not exist).
      for (const bad of [NaN, -1, Infinity]) {
        const d = await delta(bad);
        assert(d[0] + d[1] === 12 && d[0] > 0 && d[1] > 0, `affinity ${bad}: ${d}`);
      }
    } finally {
      await pool.close();
    }
  },
);

Deno.test(
  "a scan read decodes its blocks whole and keeps them: the same pixels as a lone read's parts, and Pillow's",
  opts,
  async () => {
    const { s, level, tx, ty, tw, th } = await openFirstTile("scan-read");
    // A region straddling four stored tiles, mostly in the first: slivers of the three others.
    const [x, y, w, h] = [tx * tw + 40, ty * th + 30, tw, th];
    const decodedBlocks = s.runtime.caches.decodedBlocks;
    const kept = decodedBlocks.lru.count;
    const lone = (await s.readRegion(level, x, y, w, h, "samples")).data as Uint8Array;
    const afterLone = decodedBlocks.lru.count;
    assert(afterLone - kept < 4, `a lone read decodes slivers alone, uncached (${afterLone - kept} kept)`);
    const scanned = (await s.readRegion(level, x, y, w, h, "samples", undefined, { scan: true })).data as Uint8Array;
    assertEquals(decodedBlocks.lru.count, kept + 4, "a scan keeps all four blocks");
    assertEquals(firstDifference(scanned, lone), null, "scan = lone read");
    // And both are Pillow's pixels of the four stored tiles, assembled.
    const jpegs = await Promise.all(
      [[0, 0], [1, 0], [0, 1], [1, 1]].map(([dx, dy]) => s.readStoredJpeg!(level, tx + dx, ty + dy)),
    );
    const quad = await pillow(jpegs.map((j) => j!), "RGB");
    const want = new Uint8Array(w * h * 3);
    for (let row = 0; row < h; row++) {
      for (let col = 0; col < w; col++) {
        const [gx, gy] = [x + col - tx * tw, y + row - ty * th];
        const q = (gy >= th ? 2 : 0) + (gx >= tw ? 1 : 0);
        const at = ((gy % th) * tw + (gx % tw)) * 3;
        want.set(quad[q].subarray(at, at + 3), (row * w + col) * 3);
      }
    }
    assertEquals(firstDifference(scanned, want), null, "scan = Pillow");
    await s.close();
  },
);

Deno.test("an export scans where two rows of its level's blocks fit the pixel budget, and keeps every worker busy", () => {
  // The coffee pyramid: 3600 px wide in 256-px RGB tiles, 15 a row: 2 rows are 5.9 MB; its derived levels are not stored.
  const levels = [
    { width: 3600, height: 2400, tileWidth: 256, tileHeight: 256, stored: true },
    { width: 112, height: 75, tileWidth: 256, tileHeight: 256, stored: false },
  ];
  const image = { info: { channels: 3, pixelType: "uint8", levels } } as unknown as ResolvedImage;
  assert(readsAsScan(image, 0, 96 * 2 ** 20));
  assert(readsAsScan(image, 0, 2 * 15 * 256 * 256 * 3));
  assert(!readsAsScan(image, 0, 2 * 15 * 256 * 256 * 3 - 1), "one byte short of two block rows");
  assert(!readsAsScan(image, 1, 96 * 2 ** 20), "a derived level has no stored blocks");
  assert(!readsAsScan(image, 0), "no budget known");
  const uint16 = { info: { ...image.info, pixelType: "uint16" } } as unknown as ResolvedImage;
  assert(!readsAsScan(uint16, 0, 2 * 15 * 256 * 256 * 3), "16-bit samples take twice the bytes");
  // Every worker gets a group and a half of patches in flight.
  assertEquals([1, 2, 4].map(exportWindow), [12, 24, 48]);
});

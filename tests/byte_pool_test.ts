/** The per-thread byte pool (core/byte_pool.ts): who may give a buffer back, and tiles rendered through it. */
import { assert, assertAtLeast, assertEquals } from "./assert.ts";
import { BytePool } from "../core/byte_pool.ts";
import { DATA, decodePng, firstDifference } from "./helpers.ts";
import { pillow } from "./jpeg_reference.ts";
import { createRuntime } from "../cache/runtime.ts";
import { openSource } from "../sources/open.ts";
import { renderTile } from "../pipeline/render.ts";
import type { TileRequest } from "../pipeline/tile_request.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test("byte pool: a buffer given back is handed out again zeroed; foreign, detached and double gifts are refused", () => {
  const n = 4099; // a size no other code here asks for
  const pool = new BytePool();
  const takeBytes = (k: number) => pool.take(k), giveBytes = (v: ArrayBufferView) => pool.give(v);
  const a = takeBytes(n);
  assertEquals([a.length, a.byteOffset, a.buffer.byteLength], [n, 0, n]);
  a.fill(7);
  assert(giveBytes(a), "a buffer the pool made comes back");
  assert(!giveBytes(a), "the same buffer twice would be handed out twice");
  const b = takeBytes(n);
  assert(b.buffer === a.buffer, "the free buffer is reused");
  assert(b.every((v) => v === 0), "and zeroed: no pixels of an earlier tile");
  assert(!giveBytes(new Uint8Array(n)), "a buffer the pool did not make");
  const c = takeBytes(n);
  structuredClone(c, { transfer: [c.buffer] }); // detaches it, as a worker's transfer does
  assert(!giveBytes(c), "a transferred (detached) buffer");
  // At most four free buffers of one size are kept.
  const many = Array.from({ length: 6 }, () => takeBytes(n));
  assertEquals(many.map((m) => giveBytes(m)), [true, true, true, true, false, false]);
});

Deno.test(
  "threshold tiles rendered through the pool: each is Pillow's luma of its stored tile, thresholded, in any order",
  opts,
  async () => {
    const s = await openSource({
      path: DATA + "generated__coffee-6x6_jpeg_pyramid.tif",
      version: "pool",
      maxPixels: 1e8,
    });
    const tiles = [[1, 1], [2, 1], [1, 1], [3, 2], [2, 1], [1, 1]];
    const lumas = await pillow(
      await Promise.all(tiles.map(([tx, ty]) => s.readStoredJpeg!(0, tx, ty).then((j) => j!))),
      "L",
    );
    const request = (tx: number, ty: number): TileRequest => ({
      image: "coffee",
      version: "pool",
      region: { x: tx * 256, y: ty * 256, w: 256, h: 256 },
      outWidth: 256,
      outHeight: 256,
      op: { name: "threshold", params: { t: 120 } },
      format: "png",
      quality: 0,
    });
    // Regions handed out by the reader stay theirs while others are read: nothing but the pipeline's end gives.
    const held = [];
    for (const [tx, ty] of tiles.slice(0, 4)) {
      held.push((await s.readRegion(0, tx * 256, ty * 256, 256, 256, "luma")).data);
    }
    held.forEach((d, i) => assertEquals(firstDifference(d as Uint8Array, lumas[i]), null, `held region ${i}`));
    for (const tier of ["auto", "wasm"] as const) {
      // The same file opened on a thread runtime of that tier (its codec, its byte pool).
      const t = await openSource({
        path: DATA + "generated__coffee-6x6_jpeg_pyramid.tif",
        version: "pool",
        maxPixels: 1e8,
      }, createRuntime({ codecs: tier }));
      const bytePoolStats = t.runtime.pool.stats;
      try {
        const check = async (i: number, png: Uint8Array, how: string) => {
          const want = lumas[i].map((y) => y > 120 ? 255 : 0);
          assertEquals(
            firstDifference((await decodePng(png, 1)).data, want),
            null,
            `${tier} ${how} ${tiles[i]} (${i})`,
          );
        };
        const before = { ...bytePoolStats };
        for (let i = 0; i < tiles.length; i++) {
          await check(i, (await renderTile(t, request(tiles[i][0], tiles[i][1]))).bytes, "one by one");
        }
        // One by one, each tile's block came from the pool and went back to it: the native tier decodes into
        // it; the WASM tier's decoder makes its own, which the pool refuses.
        const given = bytePoolStats.given - before.given, reused = bytePoolStats.reused - before.reused;
        if (tier === "auto") {
          assertEquals(given, tiles.length);
          assertAtLeast(reused, tiles.length - 1, "blocks decoded into reused buffers");
        } else assertEquals(given, 0);
        // All at once: each tile holds its buffer from its read to its encode while the others take theirs.
        const all = await Promise.all(tiles.map(([tx, ty]) => renderTile(t, request(tx, ty))));
        for (let i = 0; i < tiles.length; i++) await check(i, all[i].bytes, "at once");
      } finally {
        await t.close();
      }
    }
    await s.close();
  },
);

/** Parts of stored JPEG tiles decoded alone (native tier): the same pixels as whole decodes. */
import { assert, assertEquals } from "./assert.ts";
import { DATA, firstDifference } from "./helpers.ts";
import { native, openFirstTile, pillow, storedTiles, TILES } from "./jpeg_reference.ts";
import { createRuntime } from "../cache/runtime.ts";
import { openSource } from "../sources/open.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test("a rectangle decoded alone (native) is exactly those pixels of Pillow's whole decode", opts, async () => {
  const tiles = await storedTiles();
  let seed = 11;
  const rnd = (k: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % k;
  for (const format of ["rgb", "gray"] as const) {
    const list = format === "rgb" ? tiles : tiles.filter((t) => t.ycbcr || /gray/.test(t.what));
    const ref = await pillow(list.map((t) => t.jpeg), format === "rgb" ? "RGB" : "L");
    const ch = format === "rgb" ? 3 : 1;
    for (let i = 0; i < list.length; i++) {
      const { width: W, height: H } = native!.header(list[i].jpeg);
      // Edges and corners (what Deep Zoom tiles and off-grid patches take from a neighbour), and random ones.
      const rects = [[0, 0, W, 3], [0, H - 3, W, H], [W - 2, 0, W, H], [0, 0, 1, H], [W - 5, H - 7, W, H]];
      for (let r = 0; r < 200; r++) {
        const x0 = rnd(W), y0 = rnd(H);
        rects.push([x0, y0, x0 + 1 + rnd(W - x0), y0 + 1 + rnd(H - y0)]);
      }
      for (const [x0, y0, x1, y1] of rects) {
        const region = { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
        const got = native!.decode(list[i].jpeg, { format, region });
        assertEquals([got.width, got.height], [region.w, region.h]);
        const want = new Uint8Array(region.w * region.h * ch);
        for (let y = 0; y < region.h; y++) {
          const from = ((y0 + y) * W + x0) * ch;
          want.set(ref[i].subarray(from, from + region.w * ch), y * region.w * ch);
        }
        assertEquals(got.data, want, `${list[i].what} ${format} ${[x0, y0, x1, y1]}`);
      }
    }
    // A whole decode after a cropped one is whole again.
    assertEquals(native!.decode(list[0].jpeg, { format }).data, ref[0]);
  }
});

Deno.test(
  "regions straddling JPEG tiles read through decoded parts equal the WASM tier's whole tiles",
  opts,
  async () => {
    const read = async (tier: "native" | "wasm", luma: boolean) => {
      const s = await openSource(
        { path: DATA + TILES[0][0], version: `parts-${tier}`, maxPixels: 1e8 },
        createRuntime({ codecs: tier }),
      );
      // Deep Zoom 254+1 footprints and 240-px off-grid patches: a few rows or columns of each neighbour.
      const out = [];
      for (const [x, y, w, h] of [[253, 253, 256, 256], [507, 1, 256, 255], [240, 480, 240, 240], [1, 500, 255, 20]]) {
        out.push((await s.readRegion(0, x, y, w, h, luma ? "luma" : "samples")).data as Uint8Array);
      }
      await s.close();
      return out;
    };
    for (const luma of [false, true]) {
      const whole = await read("wasm", luma), parts = await read("native", luma);
      for (let i = 0; i < whole.length; i++) assertEquals(parts[i], whole[i], `region ${i}${luma ? " (luma)" : ""}`);
    }
  },
);

Deno.test(
  "an aligned one-tile read is the tile's pixels, decoded for that read alone; unaligned reads share cached blocks",
  opts,
  async () => {
    const { s, level, tx, ty, tw, th } = await openFirstTile("aligned-read");
    const [want] = await pillow([(await s.readStoredJpeg!(level, tx, ty))!], "RGB");
    const decodedBlocks = s.runtime.caches.decodedBlocks;
    const cached = decodedBlocks.lru.count;
    // Aligned: Pillow's pixels of the stored tile, and nothing added to the block cache (no garbage block a tile).
    const aligned = (await s.readRegion(level, tx * tw, ty * th, tw, th, "samples")).data as Uint8Array;
    assertEquals(firstDifference(aligned, want), null, "aligned tile = Pillow");
    assertEquals(decodedBlocks.lru.count, cached);
    // Straddling four tiles, read whole (as a scan reads: no parts decoded): the blocks are kept for neighbours…
    const x = tx * tw + tw / 2, y = ty * th + th / 2;
    const straddling = (await s.readRegion(level, x - 8, y - 8, tw, th, "samples", undefined, { scan: true }))
      .data as Uint8Array;
    assert(decodedBlocks.lru.count >= cached + 4, "an unaligned read keeps its blocks");
    // …and an aligned read of a kept block is that block: the same pixels, no new cache entry.
    const kept = decodedBlocks.lru.count;
    const again = (await s.readRegion(level, (tx + 1) * tw, (ty + 1) * th, tw, th, "samples")).data as Uint8Array;
    assertEquals(decodedBlocks.lru.count, kept);
    const [wantNext] = await pillow([(await s.readStoredJpeg!(level, tx + 1, ty + 1))!], "RGB");
    assertEquals(firstDifference(again, wantNext), null, "the kept block = Pillow's pixels of its tile");
    // The straddling region's lower-right part is the top-left of tile (tx + 1, ty + 1).
    for (let row = th / 2 + 8; row < th; row++) {
      const from = (row * tw + tw / 2 + 8) * 3, to = (row - th / 2 - 8) * tw * 3;
      assertEquals(straddling.subarray(from, (row + 1) * tw * 3), again.subarray(to, to + (tw / 2 - 8) * 3));
    }
    await s.close();
  },
);

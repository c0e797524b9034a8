import { assertEquals, assertThrows } from "./assert.ts";
import { DeepZoomGeometry } from "../pyramid/deepzoom.ts";
import { XyzGeometry } from "../pyramid/xyz.ts";
import { bestLevelForDownsample, derivedLevelSizes } from "../pyramid/levels.ts";

// openslide-python tests/test_deepzoom.py, DeepZoomGenerator(boxes.tiff 300×250, 254, 1).
Deno.test("Deep Zoom geometry matches openslide-python's published vectors", () => {
  const dz = new DeepZoomGeometry(300, 250, 254, 1);
  assertEquals(dz.levelCount, 10);
  assertEquals(dz.zLevelSizes, [[1, 1], [2, 1], [3, 2], [5, 4], [10, 8], [19, 16], [38, 32], [75, 63], [150, 125], [
    300,
    250,
  ]]);
  assertEquals(dz.tLevelCounts, [[1, 1], [1, 1], [1, 1], [1, 1], [1, 1], [1, 1], [1, 1], [1, 1], [1, 1], [2, 1]]);
  const tileCount = dz.tLevelCounts.reduce((a, [c, r]) => a + c * r, 0);
  assertEquals(tileCount, 11);
  const t = dz.tile(9, 1, 0);
  assertEquals([t.zWidth, t.zHeight], [47, 250]);
  assertEquals([t.l0Region.x, t.l0Region.y, t.l0Region.w, t.l0Region.h], [253, 0, 47, 250]);
  // Bad levels and addresses.
  assertEquals(dz.hasTile(-1, 0, 0), false);
  assertEquals(dz.hasTile(10, 0, 0), false);
  assertEquals(dz.hasTile(0, -1, 0), false);
  assertEquals(dz.hasTile(0, 1, 0), false);
  assertThrows(() => dz.tile(0, 1, 0));
});

Deno.test("Deep Zoom tiles cover each level exactly, with overlap only towards neighbours", () => {
  // CMU-1-Small-Region's size; every level's tiles, overlap removed, tile the level without gaps.
  for (const [W, H, T, O] of [[2220, 2967, 254, 1], [4443, 3567, 256, 0], [600, 400, 510, 2], [1, 1, 254, 1]]) {
    const dz = new DeepZoomGeometry(W, H, T, O);
    assertEquals(dz.levelCount, Math.ceil(Math.log2(Math.max(W, H))) + 1);
    for (let level = 0; level < dz.levelCount; level++) {
      const [zw, zh] = dz.zLevelSizes[level];
      const [cols, rows] = dz.tLevelCounts[level];
      let widthSum = 0;
      for (let col = 0; col < cols; col++) {
        const t = dz.tile(level, col, 0);
        const left = col > 0 ? O : 0, right = col < cols - 1 ? O : 0;
        widthSum += t.zWidth - left - right;
        const r = t.l0Region, ds = dz.downsample(level);
        // One pixel grid per level: the footprint is exactly zWidth·downsample and starts inside the image;
        // it may pass the edge by less than one Deep Zoom pixel.
        assertEquals([r.w, r.h], [t.zWidth * ds, t.zHeight * ds]);
        if (r.x < 0 || r.x >= W || r.x + r.w - ds >= W || r.y + r.h - ds >= H) {
          throw new Error(`tile footprint off the image at ${level}/${col}`);
        }
      }
      assertEquals(widthSum, zw);
      let heightSum = 0;
      for (let row = 0; row < rows; row++) {
        const t = dz.tile(level, 0, row);
        heightSum += t.zHeight - (row > 0 ? O : 0) - (row < rows - 1 ? O : 0);
      }
      assertEquals(heightSum, zh);
    }
  }
});

Deno.test("XYZ geometry: max zoom, tile counts and footprints", () => {
  const g = new XyzGeometry(2220, 2967); // CMU-1-Small-Region
  assertEquals(g.maxZoom, 4); // ceil(log2(2967/256)) = ceil(3.53)
  assertEquals(g.tileCounts(4), [9, 12]);
  assertEquals(g.tileCounts(0), [1, 1]);
  assertEquals(g.tile(0, 0, 0).l0Region, { x: 0, y: 0, w: 4096, h: 4096 });
  assertEquals(g.tile(4, 8, 11).l0Region, { x: 2048, y: 2816, w: 256, h: 256 });
  assertEquals(g.hasTile(4, 9, 0), false);
  assertEquals(g.hasTile(5, 0, 0), false);
  assertEquals(new XyzGeometry(256, 100).maxZoom, 0);
  assertEquals(new XyzGeometry(257, 100).maxZoom, 1);
});

Deno.test("best level: the coarsest level that still has enough resolution", () => {
  // CMU-1-Small-Region stores only level 0; TCGA slide stores 4443 and 2221.
  const levels = [
    { width: 4443, height: 3567, downsampleX: 1, downsampleY: 1 },
    { width: 2221, height: 1783, downsampleX: 4443 / 2221, downsampleY: 3567 / 1783 },
    ...derivedLevelSizes(4443, 3567, { width: 2221, height: 1783 }),
  ];
  assertEquals(levels.map((l) => l.width), [4443, 2221, 1111, 556, 278, 139]);
  assertEquals(bestLevelForDownsample(levels, 1), 0);
  assertEquals(bestLevelForDownsample(levels, 1.99), 0);
  assertEquals(bestLevelForDownsample(levels, 2.001), 1);
  assertEquals(bestLevelForDownsample(levels, 3.9), 1);
  assertEquals(bestLevelForDownsample(levels, 4), 2);
  assertEquals(bestLevelForDownsample(levels, 1000), 5);
  assertEquals(bestLevelForDownsample(levels, 0.25), 0);
});

Deno.test("thumbnail size: fits the box, keeps the aspect ratio, never enlarges", async () => {
  const { thumbnailSize } = await import("../pyramid/thumbnail.ts");
  assertEquals(thumbnailSize(2220, 2967, 256, 256), [192, 256]); // 2220·256/2967 = 191.55
  assertEquals(thumbnailSize(2220, 2967, 300, null), [300, 401]);
  assertEquals(thumbnailSize(600, 400, null, 100), [150, 100]);
  assertEquals(thumbnailSize(600, 400, 4000, 4000), [600, 400]);
  assertEquals(thumbnailSize(10000, 1, 100, 100), [100, 1]);
});

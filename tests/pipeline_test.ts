/** Pipeline steps on real pixels: resampling, the gray op, PNG encoding, padding, canonical keys. */
import { chooseCodec } from "../codecs/tier.ts";
import pngDecode from "@jsquash/png/decode.js";
import jpegDecode from "@jsquash/jpeg/decode.js";
import { assert, assertAtLeast, assertEquals } from "./assert.ts";
import { DATA, decodePng, psnr } from "./helpers.ts";
import { resample } from "../pipeline/resample.ts";
import { downsample2x } from "../kernels/downsample2x.ts";
import { grayKernel } from "../kernels/gray.ts";
import { encodePng } from "../pipeline/png.ts";
import { encodeOutput } from "../pipeline/encode.ts";
import { padToOutput, renderTile } from "../pipeline/render.ts";
import { planRead } from "../pyramid/read_plan.ts";
import { canonicalTileRequest, type TileRequest } from "../pipeline/tile_request.ts";
import { openSource } from "../sources/open.ts";
import type { Raster, Raster8 } from "../core/raster.ts";
import { parseOpSpec } from "../service/query.ts";
import { HttpError } from "../errors.ts";

/** This file's JPEG codec (the tier `auto` picks). */
const { codec } = chooseCodec("auto");

const opts = { sanitizeResources: false, sanitizeOps: false };

async function coffee(): Promise<Raster8> {
  const p = await decodePng(await Deno.readFile(DATA + "skimage__coffee.png"));
  return { ...p, type: "uint8" };
}

Deno.test("resample: a 2× shrink is the 2× area average; unit scale is a crop", async () => {
  const img = await coffee();
  const viaResample = resample(img, 0, 0, 2, 2, 300, 200);
  assertEquals(viaResample.data, downsample2x(img).data);
  // An integer offset at unit scale copies pixels.
  const crop = resample(img, 10, 20, 1, 1, 100, 50);
  for (const [x, y] of [[0, 0], [99, 49], [37, 11]]) {
    for (let c = 0; c < 3; c++) {
      assertEquals(crop.data[(y * 100 + x) * 3 + c], img.data[((20 + y) * 600 + 10 + x) * 3 + c]);
    }
  }
});

Deno.test("resample: area average by hand on a 4× shrink, and enlarging keeps constants and bounds", async () => {
  const img = await coffee();
  const r = resample(img, 0, 0, 4, 4, 150, 100);
  // Output pixel (7, 5) is the mean of the 4×4 block at (28, 20).
  for (let c = 0; c < 3; c++) {
    let sum = 0;
    for (let y = 20; y < 24; y++) for (let x = 28; x < 32; x++) sum += img.data[(y * 600 + x) * 3 + c];
    assertEquals(r.data[(5 * 150 + 7) * 3 + c], Math.floor(sum / 16 + 0.5));
  }
  const flat: Raster8 = { width: 3, height: 3, channels: 1, type: "uint8", data: new Uint8Array(9).fill(77) };
  assert(resample(flat, 0, 0, 3 / 10, 3 / 7, 10, 7).data.every((v) => v === 77));
  // Enlarging a real crop: values stay within the crop's range, and shrinking back is close.
  const crop = resample(img, 100, 100, 1, 1, 32, 32);
  const big = resample(crop, 0, 0, 0.25, 0.25, 128, 128);
  const back = resample(big, 0, 0, 4, 4, 32, 32);
  assertAtLeast(psnr(back.data, crop.data), 30, "enlarge then shrink");
});

// numpy's area average on an arbitrary grid (the weights of tests/patch_reference.py): each output pixel
// the overlap-weighted mean of the source pixels its interval covers (separable weight matrices), rounded
// half up. Ties within 1e-6 of .5 may round
// either way in floating point and are skipped; every other sample must be equal.
const AREA_REFERENCE = `
import sys, numpy as np
sys.path.insert(0, ${JSON.stringify(new URL(".", import.meta.url).pathname)})
from patch_reference import axis_weights
h, w, c, oh, ow = map(int, sys.argv[1:6]); sx, sy, scx, scy = map(float, sys.argv[6:10])
dt = np.dtype(sys.argv[10])
a = np.frombuffer(sys.stdin.buffer.read(), dtype=dt).reshape(h, w, c).astype(np.float64)
Wy, Wx = axis_weights(sy, scy, oh, h), axis_weights(sx, scx, ow, w)
r = np.einsum("yk,kxc->yxc", Wy, np.einsum("xk,ykc->yxc", Wx, a))
sys.stdout.buffer.write(r.astype(np.float64).tobytes())
`;

Deno.test("resample: fractional area averages equal numpy's on a real photo (8-bit RGB, 16-bit gray)", async () => {
  const img = await coffee();
  const gray16 = new Uint16Array(600 * 400);
  for (let i = 0; i < gray16.length; i++) gray16[i] = img.data[i * 3] * 257 + img.data[i * 3 + 1];
  const cases = [
    { src: img as Raster, dtype: "uint8", max: 255, grid: [0, 0, 600 / 512, 400 / 341, 512, 341] },
    { src: img as Raster, dtype: "uint8", max: 255, grid: [13.25, 7.5, 2.7, 3.1, 190, 110] },
    {
      src: { width: 600, height: 400, channels: 1, type: "uint16", data: gray16 } as Raster,
      dtype: "uint16",
      max: 65535,
      grid: [5.5, 0, 1.9, 1.45, 300, 270],
    },
  ];
  for (const { src, dtype, max, grid } of cases) {
    const [sx, sy, scx, scy, ow, oh] = grid;
    const got = resample(src, sx, sy, scx, scy, ow, oh);
    const child = new Deno.Command("/usr/bin/python3", {
      args: [
        "-c",
        AREA_REFERENCE,
        ...[src.height, src.width, src.channels, oh, ow, sx, sy, scx, scy].map(String),
        dtype,
      ],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(new Uint8Array(src.data.buffer, src.data.byteOffset, src.data.byteLength));
    await w.close();
    const out = await child.output();
    assertEquals(out.code, 0);
    const ref = new Float64Array(out.stdout.buffer, out.stdout.byteOffset, out.stdout.byteLength / 8);
    assertEquals(ref.length, got.data.length);
    let compared = 0;
    for (let i = 0; i < ref.length; i++) {
      if (Math.abs(ref[i] - Math.floor(ref[i]) - 0.5) < 1e-6) continue;
      const want = Math.min(max, Math.floor(ref[i] + 0.5));
      if (got.data[i] !== want) throw new Error(`${dtype} ${grid}: sample ${i} is ${got.data[i]}, numpy ${want}`);
      compared++;
    }
    assertAtLeast(compared, ref.length * 0.99, "samples compared (not ties)");
  }
});

Deno.test("gray: Y = (77R + 150G + 29B + 128) >> 8 on every pixel of a real photo", async () => {
  const img = await coffee();
  const g = grayKernel(img);
  assertEquals(g.channels, 1);
  for (let i = 0; i < 600 * 400; i++) {
    const [r, gg, b] = [img.data[i * 3], img.data[i * 3 + 1], img.data[i * 3 + 2]];
    if (g.data[i] !== Math.floor((77 * r + 150 * gg + 29 * b + 128) / 256)) throw new Error(`pixel ${i}`);
  }
});

Deno.test("PNG encoder: gray, gray+alpha, RGB, RGBA, 1-bit and indexed decode back exactly (@jsquash/png)", async () => {
  const img = await coffee();
  const g = grayKernel(img);
  const cases: [Raster8, Parameters<typeof encodePng>[1], number][] = [
    [g, {}, 0],
    [img, {}, 2],
    [{ ...g, channels: 2, data: interleave(g.data, g.data.map((v) => 255 - v)) }, {}, 4],
    [{ ...img, channels: 4, data: interleave3(img.data, g.data) }, {}, 6],
  ];
  for (const [r, o, colorType] of cases) {
    const png = encodePng(r, o);
    assertEquals(png[25], colorType);
    const back = await pngDecode(png.slice().buffer);
    const rgba = new Uint8Array(back.data.buffer);
    for (let i = 0; i < r.width * r.height; i += 97) {
      const px = r.channels === 1 || r.channels === 2
        ? [r.data[i * r.channels], r.data[i * r.channels], r.data[i * r.channels]]
        : [
          r.data[i * r.channels],
          r.data[i * r.channels + 1],
          r.data[i * r.channels + 2],
        ];
      assertEquals([rgba[i * 4], rgba[i * 4 + 1], rgba[i * 4 + 2]], px, `colour type ${colorType} pixel ${i}`);
    }
  }
  // 1-bit: threshold the gray image; the file is 1-bit gray and decodes to 0/255.
  const bin: Raster8 = { ...g, data: g.data.map((v) => (v > 128 ? 255 : 0)) };
  const png1 = encodePng(bin, { bitDepth: 1 });
  assertEquals([png1[24], png1[25]], [1, 0]);
  const back1 = new Uint8Array((await pngDecode(png1.slice().buffer)).data.buffer);
  for (let i = 0; i < bin.data.length; i++) if (back1[i * 4] !== bin.data[i]) throw new Error(`1-bit pixel ${i}`);
  // Indexed: 4 colours.
  const palette = new Uint8Array([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255]);
  const idx: Raster8 = { ...g, data: g.data.map((v) => v >> 6) };
  const png8 = encodePng(idx, { palette });
  assertEquals(png8[25], 3);
  const back8 = new Uint8Array((await pngDecode(png8.slice().buffer)).data.buffer);
  for (let i = 0; i < idx.data.length; i += 31) {
    assertEquals([...back8.subarray(i * 4, i * 4 + 3)], [...palette.subarray(idx.data[i] * 3, idx.data[i] * 3 + 3)]);
  }
});

function interleave(a: Uint8Array, b: Uint8Array): Uint8Array {
  const o = new Uint8Array(a.length * 2);
  for (let i = 0; i < a.length; i++) [o[2 * i], o[2 * i + 1]] = [a[i], b[i]];
  return o;
}
function interleave3(rgb: Uint8Array, a: Uint8Array): Uint8Array {
  const o = new Uint8Array(a.length * 4);
  for (let i = 0; i < a.length; i++) o.set([rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], a[i]], 4 * i);
  return o;
}

Deno.test("JPEG and WebP encoders: quality changes size, pixels stay close (independent decoder)", async () => {
  const img = await coffee();
  const low = await encodeOutput({ raster: img }, "jpeg", 30, codec);
  const high = await encodeOutput({ raster: img }, "jpeg", 95, codec);
  assert(low.length < high.length, "quality 30 is smaller than 95");
  const dec = await jpegDecode(high.slice().buffer);
  const rgb = new Uint8Array(600 * 400 * 3);
  for (let i = 0; i < 600 * 400; i++) rgb.set(new Uint8Array(dec.data.buffer).subarray(i * 4, i * 4 + 3), i * 3);
  assertAtLeast(psnr(rgb, img.data), 35, "JPEG q95");
  const webp = await encodeOutput({ raster: img }, "webp", 80, codec);
  assertEquals(new TextDecoder().decode(webp.subarray(8, 12)), "WEBP");
});

Deno.test("padding: XYZ edge tiles are transparent in PNG and background in JPEG", () => {
  const inner: Raster8 = { width: 10, height: 5, channels: 3, type: "uint8", data: new Uint8Array(150).fill(40) };
  const req = (format: "png" | "jpeg"): TileRequest => ({
    image: "x",
    version: "v",
    region: { x: 0, y: 0, w: 16, h: 16 },
    outWidth: 16,
    outHeight: 16,
    op: { name: "none", params: {} },
    format,
    quality: 80,
  });
  const info = { width: 10, height: 5, levels: [{ width: 10, height: 5, downsampleX: 1, downsampleY: 1 }] };
  const plan = planRead(info as never, req("png"))!;
  assertEquals([plan.outX, plan.outY, plan.outW, plan.outH], [0, 0, 10, 5]);
  const png = padToOutput({ raster: inner }, plan, req("png")).raster;
  assertEquals(png.channels, 4);
  assertEquals([...png.data.subarray(0, 4)], [40, 40, 40, 255]);
  assertEquals([...png.data.subarray((6 * 16 + 12) * 4, (6 * 16 + 12) * 4 + 4)], [0, 0, 0, 0]);
  const jpg = padToOutput({ raster: inner }, plan, req("jpeg")).raster;
  assertEquals(jpg.channels, 3);
  assertEquals([...jpg.data.subarray((6 * 16 + 12) * 3, (6 * 16 + 12) * 3 + 3)], [255, 255, 255]);
});

Deno.test("renderTile: a full-resolution PNG tile is the source region exactly", opts, async () => {
  const source = await openSource({ path: DATA + "openslide-python__boxes.tiff", version: "t", maxPixels: 1e8 });
  const ref = await decodePng(await Deno.readFile(DATA + "openslide-python__boxes.png"));
  const req: TileRequest = {
    image: "boxes",
    version: "t",
    region: { x: 253, y: 0, w: 47, h: 250 },
    outWidth: 47,
    outHeight: 250,
    op: { name: "none", params: {} },
    format: "png",
    quality: 0,
  };
  const tile = await decodePng((await renderTile(source, req)).bytes);
  for (let y = 0; y < 250; y++) {
    for (let x = 0; x < 47; x++) {
      for (let c = 0; c < 3; c++) {
        if (tile.data[(y * 47 + x) * 3 + c] !== ref.data[(y * 300 + 253 + x) * 3 + c]) throw new Error(`${x},${y}`);
      }
    }
  }
  // Downsampled tiles read the coarsest sufficient level: boxes.tiff stores 150×125 at level 1.
  assertEquals(
    planRead(source.info, { ...req, region: { x: 0, y: 0, w: 300, h: 250 }, outWidth: 150, outHeight: 125 })!.level,
    1,
  );
  assertEquals(
    planRead(source.info, { ...req, region: { x: 0, y: 0, w: 300, h: 250 }, outWidth: 151, outHeight: 126 })!.level,
    0,
  );
});

Deno.test("canonical request: equal pixels give equal keys; quality ignored for PNG; bad ops are 400", () => {
  const base: TileRequest = {
    image: "a/b.svs",
    version: "1-2",
    region: { x: 0, y: 0, w: 512, h: 512 },
    outWidth: 256,
    outHeight: 256,
    op: { name: "none", params: {} },
    format: "png",
    quality: 0,
  };
  assertEquals(canonicalTileRequest(base), "a%2Fb.svs@1-2/0,0,512,512/256x256/none/png");
  assertEquals(
    canonicalTileRequest({ ...base, format: "jpeg", quality: 80 }),
    "a%2Fb.svs@1-2/0,0,512,512/256x256/none/jpeg:80",
  );
  assertEquals(parseOpSpec(new URLSearchParams("op=gray")), { name: "gray", params: {} });
  try {
    parseOpSpec(new URLSearchParams("op=sharpen"));
    throw new Error("accepted");
  } catch (err) {
    assert(err instanceof HttpError && err.status === 400 && err.message.includes("op"));
  }
});

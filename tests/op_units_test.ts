/**
 * The op units through the HTTP routes: every op on every protocol and sample, bad parameters, and the
 * `sobel` op (added through the op seam: its module, its WGSL and one registry line) against an
 * independent numpy reference, whole image and tiles.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, decodePng, firstDifference, get, SAMPLES, withServer } from "./helpers.ts";
import { DeepZoomGeometry } from "../pyramid/deepzoom.ts";
import { pillow } from "./jpeg_reference.ts";
import { openSource } from "../sources/open.ts";
import { thresholdKernel, thresholdWords } from "../kernels/threshold.ts";
import { HAS_THRESHOLD_SIMD } from "../kernels/threshold_simd.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** The Sobel magnitude by numpy: Y = (77R + 150G + 29B + 128) >> 8, edge padding, ⌊√((Gx² + Gy²) / 32)⌋. */
async function numpySobel(file: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  const py = `
import sys, numpy as np
from PIL import Image
im = np.asarray(Image.open(sys.argv[1]).convert("RGB")).astype(np.int64)
Y = (77 * im[:, :, 0] + 150 * im[:, :, 1] + 29 * im[:, :, 2] + 128) >> 8
P = np.pad(Y, 1, mode="edge")
gx = (P[:-2, 2:] + 2 * P[1:-1, 2:] + P[2:, 2:]) - (P[:-2, :-2] + 2 * P[1:-1, :-2] + P[2:, :-2])
gy = (P[2:, :-2] + 2 * P[2:, 1:-1] + P[2:, 2:]) - (P[:-2, :-2] + 2 * P[:-2, 1:-1] + P[:-2, 2:])
m = np.floor(np.sqrt((gx * gx + gy * gy) // 32)).astype(np.uint8)
sys.stdout.buffer.write(np.array(m.shape, dtype="<u4").tobytes() + m.tobytes())
`;
  const out = await new Deno.Command("/usr/bin/python3", { args: ["-c", py, file] }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  const [height, width] = new Uint32Array(out.stdout.slice(0, 8).buffer);
  return { data: out.stdout.slice(8), width, height };
}

Deno.test("sobel: whole images and Deep Zoom tiles equal numpy's Sobel magnitude (crops of it)", opts, async () => {
  await withServer({ IMAGES_DIR: DATA }, async ({ url }) => {
    for (const file of ["skimage__coffee.png", "openslide-python__boxes.png"]) {
      const ref = await numpySobel(DATA + file);
      const { width: W, height: H } = ref;
      const whole = await get(`${url}/thumbnail/${file}.png?width=${W}&height=${H}&op=sobel`);
      assertEquals(whole.status, 200, file);
      assertEquals(whole.headers.get("x-op"), "sobel");
      const px = await decodePng(whole.body, 1);
      assertEquals([px.width, px.height], [W, H]);
      assertEquals(firstDifference(px.data, ref.data), null, `${file}: whole image`);
      // Edges carry information (not a flat image compared with a flat image).
      assert(ref.data.some((v) => v > 100) && ref.data.some((v) => v === 0), `${file}: edges and flat areas`);
      // Tiles at full resolution, interior and edge, overlap included: crops of the whole edge map.
      const geo = new DeepZoomGeometry(W, H, 254, 1);
      const top = geo.levelCount - 1, [cols, rows] = geo.tLevelCounts[top];
      for (const [col, row] of [[0, 0], [1, 1], [cols - 1, rows - 1]].filter(([c, r]) => geo.hasTile(top, c, r))) {
        const t = geo.tile(top, col, row);
        const tile = await decodePng((await get(`${url}/dzi/${file}_files/${top}/${col}_${row}.png?op=sobel`)).body, 1);
        const { x, y, w, h } = t.l0Region;
        assertEquals([tile.width, tile.height], [w, h]);
        const crop = new Uint8Array(w * h);
        for (let r = 0; r < h; r++) crop.set(ref.data.subarray((y + r) * W + x, (y + r) * W + x + w), r * w);
        assertEquals(firstDifference(tile.data, crop), null, `${file} tile ${col}_${row}`);
      }
    }
  });
});

Deno.test("bad op parameters are 400s that name the parameter", opts, async () => {
  await withServer({ IMAGES_DIR: SAMPLES }, async ({ url }) => {
    const base = `${url}/dzi/coffee.png_files/9/0_0.png`;
    for (
      const [q, name] of [
        ["op=threshold&t=300", "t"],
        ["op=threshold&t=-1", "t"],
        ["op=threshold&invert=2", "invert"],
        ["op=mask&t=abc", "t"],
        ["op=quantize&levels=1", "levels"],
        ["op=quantize&palette=0", "palette"],
        ["op=quantize&palette=257", "palette"],
        ["op=quantize", "levels"],
        ["op=quantize&levels=4&palette=4", "palette"],
        ["op=quantize&levels=4&rescale=5,1", "rescale"],
        ["op=sharpen", "op"],
      ]
    ) {
      const r = await get(`${base}?${q}`);
      assertEquals(r.status, 400, q);
      assert(JSON.parse(new TextDecoder().decode(r.body)).error.message.includes(name), `${q} names ${name}`);
    }
    for (const q of ["downsample=3", "size=0", "min=2", "stride=-4"]) {
      assertEquals((await get(`${url}/images/coffee.png/tissue.json?${q}`)).status, 400, q);
    }
  });
});

Deno.test("every op works on every protocol route and on thumbnails, for every readable sample", opts, async () => {
  await withServer({ IMAGES_DIR: DATA }, async ({ url }) => {
    const list = JSON.parse(new TextDecoder().decode((await get(`${url}/images`)).body));
    const ops = [
      "op=gray",
      "op=threshold",
      "op=mask",
      "op=quantize&levels=8",
      "op=quantize&palette=8&rescale=auto",
      "op=sobel",
    ];
    for (const img of list.images.filter((i: { supported: boolean }) => i.supported)) {
      const id = encodeURIComponent(img.id);
      const jobs = ops.flatMap((q) => [
        `${url}/dzi/${id}_files/${Math.ceil(Math.log2(Math.max(img.width, img.height)))}/0_0.png?${q}`,
        `${url}/xyz/${id}/0/0/0.png?${q}`,
        `${url}/thumbnail/${id}.jpg?width=64&${q}`,
      ]);
      for (const u of jobs) {
        const r = await get(u);
        assertEquals(r.status, 200, `${u}: ${new TextDecoder().decode(r.body.slice(0, 200))}`);
      }
    }
  });
});

/** Level 0 of a YCbCr JPEG-tiled TIFF as Pillow's luma-only decode of each stored tile, assembled. */
async function pillowLumaLevel0(file: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  const source = await openSource({ path: DATA + file, version: "t", maxPixels: 1e8 });
  const { width, height, tileWidth: tw, tileHeight: th, luma } = source.info.levels[0];
  assert(luma, `${file} level 0 is YCbCr JPEG`);
  const data = new Uint8Array(width * height), at: [number, number][] = [], jpegs: Uint8Array[] = [];
  for (let ty = 0; ty * th < height; ty++) {
    for (let tx = 0; tx * tw < width; tx++) {
      at.push([tx * tw, ty * th]);
      jpegs.push((await source.readStoredJpeg!(0, tx, ty))!);
    }
  }
  (await pillow(jpegs, "L")).forEach((tile, k) => {
    const [x0, y0] = at[k], w = Math.min(tw, width - x0);
    for (let y = 0; y < th && y0 + y < height; y++) data.set(tile.subarray(y * tw, y * tw + w), (y0 + y) * width + x0);
  });
  await source.close();
  return { data, width, height };
}

Deno.test(
  "threshold: whole images equal Y > t for every t, Y by numpy's formula (RGB) or Pillow's luma (JPEG tiles)",
  opts,
  async () => {
    const rgb = await decodePng(await Deno.readFile(DATA + "skimage__coffee.png"), 3);
    const rgbY = new Uint8Array(rgb.width * rgb.height).map((_, p) =>
      (77 * rgb.data[3 * p] + 150 * rgb.data[3 * p + 1] + 29 * rgb.data[3 * p + 2] + 128) >> 8
    );
    const luma = await pillowLumaLevel0("generated__coffee-6x6_jpeg_pyramid.tif");
    await withServer({ IMAGES_DIR: DATA, KV_PATH: "off" }, async ({ url }) => {
      const cases: [string, Uint8Array, number, number][] = [
        ["skimage__coffee.png", rgbY, rgb.width, rgb.height],
        ["generated__coffee-6x6_jpeg_pyramid.tif", luma.data, luma.width, luma.height],
      ];
      for (const [file, Y, W, H] of cases) {
        for (const t of [0, 1, 63, 127, 128, 200, 254, 255]) {
          for (const invert of [0, 1]) {
            const q = `width=${W}&height=${H}&op=threshold&t=${t}&invert=${invert}`;
            const res = await get(`${url}/thumbnail/${file}.png?${q}`);
            assertEquals(res.status, 200, `${file} ${q}`);
            const px = await decodePng(res.body, 1);
            const want = Y.map((v) => (v > t) !== (invert === 1) ? 255 : 0);
            assertEquals(firstDifference(px.data, want), null, `${file} ${q}`);
          }
        }
      }
    });
  },
);

Deno.test("threshold kernel on a luma plane: SIMD, its tail and the JS loop give Y > t for every t", () => {
  assert(HAS_THRESHOLD_SIMD, "WebAssembly SIMD in Deno");
  // The JS loop that runs where SIMD is missing: the same definition, four pixels a word.
  const words = new Uint8Array(256 * 256).map((_, i) => Math.imul(i, 2246822519) >>> 24);
  const wordsOut = new Uint8Array(words.length);
  for (let t = 0; t < 256; t++) {
    for (const invert of [false, true]) {
      thresholdWords(new Uint32Array(words.buffer), new Uint32Array(wordsOut.buffer), t, invert);
      const want = words.map((v) => (v > t) !== invert ? 255 : 0);
      assertEquals(firstDifference(wordsOut, want), null, `JS words, t=${t}, invert=${invert}`);
    }
  }
  // A 512² plane: more than the module's first 64 KiB page (its memory grows).
  const large = new Uint8Array(512 * 512).map((_, i) => Math.imul(i, 40503) >>> 8);
  const lt = thresholdKernel({ width: 512, height: 512, channels: 1, type: "uint8", data: large }, 128, true);
  assertEquals(firstDifference(lt.data, large.map((v) => v > 128 ? 0 : 255)), null, "512² inverted");
  // Every byte value, hashed over the plane, at odd offsets and lengths ≢ 0 mod 16 (the SIMD tail).
  const plane = new Uint8Array(256 * 256 + 7).map((_, i) => Math.imul(i, 2654435761) >>> 24);
  for (const [w, h, at] of [[256, 256, 0], [255, 255, 1], [17, 3, 3]]) {
    const Y = plane.subarray(at, at + w * h);
    for (let t = 0; t < 256; t += 1) {
      for (const invert of [false, true]) {
        const want = Y.map((v) => (v > t) !== invert ? 255 : 0);
        const out = thresholdKernel({ width: w, height: h, channels: 1, type: "uint8", data: Y }, t, invert);
        assertEquals(firstDifference(out.data, want), null, `${w}×${h} at ${at}, t=${t}, invert=${invert}`);
      }
    }
    const copy = Y.slice();
    const inPlace = thresholdKernel({ width: w, height: h, channels: 1, type: "uint8", data: copy }, 99, false, true);
    assert(inPlace.data.buffer === copy.buffer, "in place");
    assertEquals(firstDifference(inPlace.data, Y.map((v) => v > 99 ? 255 : 0)), null, `${w}×${h} in place`);
  }
});

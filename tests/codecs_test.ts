/**
 * The JPEG codec tiers against an independent decoder: Pillow (Debian's python3-pil, its own libjpeg build
 * and API). Native (libjpeg-turbo through FFI) and WASM tiers decode real tiles to Pillow's RGB; the luma
 * plane of YCbCr tiles (both tiers) is Pillow's grayscale decode (`draft("L")`: libjpeg's own luma-only
 * path); the DCT-domain gray transcode decodes to that same plane; gray and threshold tiles and Otsu's
 * histogram are made from it end to end.
 */
import { assert, assertAtLeast, assertEquals } from "./assert.ts";
import { DATA, decodePng, firstDifference, get, psnr, withServer } from "./helpers.ts";
import { native, pillow, storedTiles } from "./jpeg_reference.ts";
import { chooseCodec } from "../codecs/tier.ts";
import { TurboJpeg, turbojpegLibraryPath } from "../codecs/turbojpeg.ts";
import { wasmDecode, wasmEncode } from "../codecs/wasm_jpeg.ts";
import { openSource } from "../sources/open.ts";
import { loadConfig } from "../config.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** Both tiers' decodes of `tiles` to `format` equal Pillow's ("RGB", or "L" for gray). */
async function assertBothTiersMatchPillow(tiles: { jpeg: Uint8Array; what: string }[], format: "rgb" | "gray") {
  const ref = await pillow(tiles.map((t) => t.jpeg), format === "rgb" ? "RGB" : "L");
  for (let i = 0; i < tiles.length; i++) {
    assertEquals(native!.decode(tiles[i].jpeg, { format }).data, ref[i], `native ${tiles[i].what}`);
    assertEquals((await wasmDecode(tiles[i].jpeg, format)).data, ref[i], `wasm ${tiles[i].what}`);
  }
}

Deno.test("native and WASM tiers decode real JPEGs to exactly Pillow's RGB", opts, async () => {
  assert(native, "the native library loads on this platform (linux-x64 prebuild)");
  await assertBothTiersMatchPillow(await storedTiles(), "rgb");
});

Deno.test(
  "luma of YCbCr and gray JPEGs, on both tiers, is Pillow's luma-only decode sample for sample",
  opts,
  async () => {
    const tiles = (await storedTiles()).filter((t) => t.ycbcr || /gray/.test(t.what));
    assertEquals(tiles.length, 5);
    await assertBothTiersMatchPillow(tiles, "gray");
  },
);

Deno.test("DCT-domain gray transcode: one-component baseline JPEG whose pixels are the luma plane", opts, async () => {
  const tiles = (await storedTiles()).filter((t) => t.ycbcr);
  const transcoded = tiles.map((t) => native!.grayTranscode(t.jpeg));
  const [luma, decoded] = await Promise.all([
    pillow(tiles.map((t) => t.jpeg), "L"),
    pillow(transcoded, "L"),
  ]);
  for (let i = 0; i < tiles.length; i++) {
    assertEquals(decoded[i], luma[i], tiles[i].what);
    const sof = transcoded[i].findIndex((b, k) => b === 0xff && transcoded[i][k + 1] === 0xc0);
    assert(sof > 0, "baseline SOF0");
    assertEquals(transcoded[i][sof + 9], 1, "one component");
    assert(transcoded[i].length < tiles[i].jpeg.length, "smaller than the colour tile");
  }
  // An RGB-photometric tile has no luma component to keep.
  const rgbTile = (await storedTiles()).find((t) => /Aperio/.test(t.what))!;
  let refused = false;
  try {
    native!.grayTranscode(rgbTile.jpeg);
  } catch {
    refused = true;
  }
  assert(refused, "RGB JPEG refused");
});

Deno.test("encoders of both tiers: baseline JPEG that Pillow decodes close to the input", opts, async () => {
  const source = await openSource({ path: DATA + "skimage__coffee.png", version: "t", maxPixels: 1e8 });
  const px = (await source.readRegion(0, 100, 50, 256, 256)).data as Uint8Array;
  const gray = new Uint8Array(256 * 256).map((_, i) =>
    (77 * px[i * 3] + 150 * px[i * 3 + 1] + 29 * px[i * 3 + 2]) >> 8
  );
  const made = [
    native!.encode(px, 256, 256, 3, 90),
    await wasmEncode(px, 256, 256, 3, 90),
    native!.encode(gray, 256, 256, 1, 90),
    await wasmEncode(gray, 256, 256, 1, 90),
  ];
  // Whole buffers: a worker transfers tile bytes only when they are (workers/tasks.ts), else copies them.
  const transcoded = native!.grayTranscode((await storedTiles())[0].jpeg);
  for (const bytes of [...made, transcoded]) {
    assertEquals([bytes.byteOffset, bytes.byteLength], [0, bytes.buffer.byteLength]);
  }
  const rgb = await pillow(made.slice(0, 2), "RGB"), l = await pillow(made.slice(2), "L");
  for (const r of rgb) assertAtLeast(psnr(r, px), 33, "RGB q90");
  for (const r of l) assertAtLeast(psnr(r, gray), 40, "gray q90");
});

Deno.test("native output copied by memcpy and by the YUV-plane decode: the same bytes", opts, async () => {
  const yuvCopy = TurboJpeg.open(turbojpegLibraryPath().path!, { memcpy: false });
  try {
    assertEquals([native!.copiesWith, yuvCopy.copiesWith], ["memcpy", "yuv"], "glibc's memcpy is found here");
    let seed = 7;
    const noise = (n: number) => new Uint8Array(n).map(() => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
    const sizes: number[] = [], made: Uint8Array[] = [], dims: number[][] = [[7, 5], [256, 256], [300, 260]];
    for (const [w, h] of dims) {
      const px = noise(w * h * 3);
      const a = native!.encode(px, w, h, 3, 100), b = yuvCopy.encode(px, w, h, 3, 100);
      assertEquals(a, b, `${w}×${h}`);
      // Whole JPEGs, independently of either copy: SOI first, EOI last, and Pillow decodes every pixel.
      assertEquals([a[0], a[1], a[a.length - 2], a[a.length - 1]], [0xff, 0xd8, 0xff, 0xd9], `${w}×${h} markers`);
      sizes.push(a.length);
      made.push(a);
    }
    const decoded = await pillow(made, "RGB");
    decoded.forEach((px, i) => assertEquals(px.length, dims[i][0] * dims[i][1] * 3, `Pillow decodes ${dims[i]}`));
    // Noise at q100 passes libjpeg's largest dimension (65500 bytes): the YUV copy's multi-row path ran too.
    assert(Math.max(...sizes) > 65500, `sizes ${sizes}`);
  } finally {
    yuvCopy.close();
  }
});

Deno.test("corrupt, truncated and oversized JPEGs are errors, never a crash", opts, async () => {
  const good = (await storedTiles())[0].jpeg;
  for (
    const bad of [new Uint8Array(0), new Uint8Array([0xff, 0xd8, 0xff]), crypto.getRandomValues(new Uint8Array(999))]
  ) {
    let failed = false;
    try {
      native!.decode(bad, { format: "rgb" });
    } catch {
      failed = true;
    }
    assert(failed, `junk of ${bad.length} bytes refused`);
  }
  // Truncated mid-scan: libjpeg warns and fills the rest (as the WASM tier does): the size is still right.
  const cut = native!.decode(good.subarray(0, good.length >> 1), { format: "rgb" });
  assertEquals([cut.width, cut.height], [256, 256]);
  let refused = "";
  try {
    native!.decode(good, { format: "rgb", maxPixels: 255 * 256 });
  } catch (err) {
    refused = (err as Error).message;
  }
  assert(/exceeds/.test(refused), "a JPEG larger than its limit is refused before decoding");
});

Deno.test("CODECS: native loads here, wasm on request, a bad value is a start-up error", () => {
  assertEquals(chooseCodec("native").status.tier, "native");
  assertEquals(chooseCodec("native").codec.tier, "native");
  assertEquals(chooseCodec("wasm").status.tier, "wasm");
  assertEquals(chooseCodec("wasm").codec.tier, "wasm");
  assertEquals(chooseCodec("auto").status.tier, "native");
  let refused = false;
  try {
    loadConfig({ CODECS: "fast" });
  } catch {
    refused = true;
  }
  assert(refused);
});

/** The luma plane of a YCbCr JPEG pyramid level from Pillow: its stored tiles decoded "L" and stitched. */
async function pillowLumaLevel(file: string, level: number): Promise<{ w: number; h: number; y: Uint8Array }> {
  const source = await openSource({ path: DATA + file, version: "t", maxPixels: 1e8 });
  const L = source.info.levels[level], tw = L.tileWidth, th = L.tileHeight;
  const cols = Math.ceil(L.width / tw), rows = Math.ceil(L.height / th);
  const jpegs = [];
  for (let ty = 0; ty < rows; ty++) {
    for (let tx = 0; tx < cols; tx++) jpegs.push((await source.readStoredJpeg!(level, tx, ty))!);
  }
  await source.close();
  const planes = await pillow(jpegs, "L");
  const y = new Uint8Array(L.width * L.height);
  planes.forEach((p, i) => {
    const x0 = (i % cols) * tw, y0 = Math.floor(i / cols) * th;
    for (let r = 0; r < th && y0 + r < L.height; r++) {
      y.set(p.subarray(r * tw, r * tw + Math.min(tw, L.width - x0)), (y0 + r) * L.width + x0);
    }
  });
  return { w: L.width, h: L.height, y };
}

/** Otsu's threshold of a 256-bin histogram (between-class variance, first maximum, classes ≤ t and > t). */
function otsu(hist: number[]): number {
  const total = hist.reduce((a, b) => a + b, 0), sum = hist.reduce((a, h, i) => a + h * i, 0);
  let best = -1, t = 0, w0 = 0, s0 = 0;
  for (let i = 0; i < 256; i++) {
    w0 += hist[i];
    s0 += hist[i] * i;
    const w1 = total - w0;
    if (w0 === 0 || w1 === 0) continue;
    const between = w0 * w1 * (s0 / w0 - (sum - s0) / w1) ** 2;
    if (between > best) [best, t] = [between, i];
  }
  return t;
}

for (const codecs of ["native", "wasm"]) {
  Deno.test(
    `CODECS=${codecs}: gray and threshold tiles and Otsu of a YCbCr JPEG pyramid use its luma plane`,
    opts,
    async () => {
      const file = "generated__coffee-6x6_jpeg_pyramid.tif";
      const level0 = await pillowLumaLevel(file, 0);
      await withServer({ IMAGES_DIR: DATA, CODECS: codecs }, async (s) => {
        const health = await (await fetch(`${s.url}/health`)).json();
        assertEquals(health.codecs.tier, codecs);
        // A 600×400 region across six stored tiles, at full resolution, lossless: Pillow's luma exactly.
        const png = await get(`${s.url}/iiif/3/${file}/200,100,600,400/600,/0/gray.png`);
        assertEquals(png.status, 200);
        const ours = (await decodePng(png.body, 1)).data;
        const want = new Uint8Array(600 * 400);
        for (let r = 0; r < 400; r++) {
          want.set(level0.y.subarray((100 + r) * level0.w + 200, (100 + r) * level0.w + 800), r * 600);
        }
        assertEquals(ours, want, "gray tile = luma plane");
        // Otsu on the stats level (stored level 1, 1800×1200) is computed from its luma plane.
        const level1 = await pillowLumaLevel(file, 1);
        const hist = new Array(256).fill(0);
        for (const v of level1.y) {
          hist[v]++;
        }
        const stats = await (await fetch(`${s.url}/images/${file}/stats`)).json();
        assertEquals(stats.histogram.gray, hist, "Y histogram of the stats level");
        assertEquals(stats.otsu.gray, otsu(hist), "Otsu of that histogram");
        // Threshold tiles read the same Y: 255 where Y > t.
        const bin = await get(`${s.url}/iiif/3/${file}/200,100,600,400/600,/0/bitonal.png`);
        const mask = (await decodePng(bin.body, 1)).data;
        const t = stats.otsu.gray;
        assertEquals(mask, want.map((v) => (v > t ? 255 : 0)), "bitonal = Y > Otsu");
        // Tiles of one stored block inside that region: the WASM tier kept the region's blocks (shared, read-only),
        // the native tier decoded parts (so each tile's block is decoded for it alone, and thresholded in place).
        // Either way bitonal is Y > t, and the same tile's gray read afterwards is still the luma.
        for (const [x, y] of [[256, 256], [512, 256]]) {
          const luma = new Uint8Array(256 * 256);
          for (let r = 0; r < 256; r++) {
            luma.set(level0.y.subarray((y + r) * level0.w + x, (y + r) * level0.w + x + 256), r * 256);
          }
          const tile = (q: string) => get(`${s.url}/iiif/3/${file}/${x},${y},256,256/256,/0/${q}.png`);
          const bits = (await decodePng((await tile("bitonal")).body, 1)).data;
          assertEquals(firstDifference(bits, luma.map((v) => (v > t ? 255 : 0))), null, `bitonal tile ${x},${y}`);
          const gray = (await decodePng((await tile("gray")).body, 1)).data;
          assertEquals(firstDifference(gray, luma), null, `gray tile ${x},${y} after it`);
        }
        // A gray JPEG that is exactly one stored tile: the DCT-domain transcode on the native tier.
        const one = await get(`${s.url}/iiif/3/${file}/256,256,256,256/256,/0/gray.jpg`);
        assertEquals(one.headers.get("x-pass-through"), codecs === "native" ? "gray-transcode" : null);
        const [decoded] = await pillow([one.body], "L");
        const tile = new Uint8Array(256 * 256);
        for (let r = 0; r < 256; r++) {
          tile.set(level0.y.subarray((256 + r) * level0.w + 256, (256 + r) * level0.w + 512), r * 256);
        }
        if (codecs === "native") assertEquals(decoded, tile, "transcode = luma of the stored tile");
        else assertAtLeast(psnr(decoded, tile), 40, "re-encoded luma at the default quality");
      });
    },
  );
}

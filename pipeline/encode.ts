/**
 * Encoding step: 8-bit raster → JPEG, PNG (pipeline/png.ts) or WebP (@jsquash/webp). JPEG has no alpha:
 * transparent pixels are composited over the background colour before this step.
 * JPEG: libjpeg-turbo built to WASM (@cornerstonejs/codec-libjpeg-turbo-8bit, baseline, 4:2:0 or one gray
 * component), ~4× faster than mozjpeg's fastest settings (bench/codecs.ts). Its WASM build corrupts its memory on
 * tiny images (1×1, 8×8, 16×1 measured; 16×16 and up fine), so it takes only tiles of ≥ 64×64 pixels at
 * quality ≤ 90; everything else, and everything after any failure of it in this thread, goes to mozjpeg
 * (@jsquash/jpeg, baseline, standard tables).
 */
import jpegEncode from "@jsquash/jpeg/encode.js";
import webpEncode from "@jsquash/webp/encode.js";
import { createRequire } from "node:module";
import type { Raster8 } from "../sources/raster.ts";
import type { TileFormat } from "./tile_request.ts";
import { encodePng } from "./png.ts";
import type { OpOutput } from "../kernels/op.ts";

/** Background for JPEG output (white: slide glass). */
export const JPEG_BACKGROUND = 255;

/** Encodes an op's output in `format` at `quality` (1..100, JPEG/WebP). */
export async function encodeOutput(
  out: OpOutput,
  format: Exclude<TileFormat, "npy">,
  quality: number,
): Promise<Uint8Array> {
  const r = out.raster;
  if (format === "png") return encodePng(r, { bitDepth: out.pngBitDepth, palette: out.palette });
  if (format === "jpeg") return await encodeJpeg(out, quality);
  const rgba = toRgba(out);
  const img = {
    data: new Uint8ClampedArray(rgba.buffer),
    width: r.width,
    height: r.height,
    colorSpace: "srgb",
  } as ImageData;
  return new Uint8Array(await webpEncode(img, { quality } as never));
}

/** RGBA for the WASM encoders; JPEG-bound alpha is flattened later by the encoder's input (we pre-composite). */
function toRgba(out: OpOutput): Uint8Array {
  const { width, height, channels: ch, data } = out.raster;
  const n = width * height;
  const rgba = new Uint8Array(n * 4);
  const pal = out.palette;
  for (let i = 0; i < n; i++) {
    const o = i * 4;
    if (pal) {
      const p = data[i] * 3;
      rgba[o] = pal[p];
      rgba[o + 1] = pal[p + 1];
      rgba[o + 2] = pal[p + 2];
      rgba[o + 3] = 255;
    } else if (ch >= 3) {
      rgba[o] = data[i * ch];
      rgba[o + 1] = data[i * ch + 1];
      rgba[o + 2] = data[i * ch + 2];
      rgba[o + 3] = ch === 4 ? data[i * ch + 3] : 255;
    } else {
      rgba[o] = rgba[o + 1] = rgba[o + 2] = data[i * ch];
      rgba[o + 3] = ch === 2 ? data[i * ch + 1] : 255;
    }
  }
  return rgba;
}

/** Composites alpha over `bg` and drops it (for JPEG). Rasters without alpha are returned as they are. */
export function flattenAlpha(r: Raster8, bg = JPEG_BACKGROUND): Raster8 {
  if (r.channels !== 2 && r.channels !== 4) return r;
  const ch = r.channels, outCh = ch - 1, n = r.width * r.height;
  const out = new Uint8Array(n * outCh);
  for (let i = 0; i < n; i++) {
    const a = r.data[i * ch + outCh];
    for (let c = 0; c < outCh; c++) {
      out[i * outCh + c] = ((r.data[i * ch + c] * a + bg * (255 - a)) + 127) / 255 | 0;
    }
  }
  return { width: r.width, height: r.height, channels: outCh, type: "uint8", data: out };
}

interface TurboEncoder {
  getDecodedBuffer(
    info: { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned: boolean },
  ): Uint8Array;
  setQuality(quality: number): void;
  setProgressive(progressive: number): void;
  setSubSampling(mode: number): void;
  encode(): void;
  getEncodedBuffer(): Uint8Array;
}
let turbo: Promise<TurboEncoder> | undefined;

/**
 * One libjpeg-turbo encoder per thread, made once: encoding is synchronous between filling its input and
 * copying its output, so calls never interleave.
 */
function loadTurbo(): Promise<TurboEncoder> {
  if (!turbo) {
    const require = createRequire(import.meta.url);
    const factory = require("@cornerstonejs/codec-libjpeg-turbo-8bit/wasmjs");
    turbo = factory({ print: () => {}, printErr: () => {} }).then((m: { JPEGEncoder: new () => TurboEncoder }) =>
      new m.JPEGEncoder()
    );
  }
  return turbo!;
}

/** Set when libjpeg-turbo failed in this thread: from then on mozjpeg encodes everything. */
let turboBroken = false;

/** A baseline JPEG of an op output: gray for 1–2 channels, else RGB (alpha dropped). */
async function encodeJpeg(out: OpOutput, quality: number): Promise<Uint8Array> {
  const { width, height } = out.raster;
  if (!turboBroken && quality <= 90 && width * height >= 4096) {
    try {
      return await encodeJpegTurbo(out, quality);
    } catch (err) {
      turboBroken = true;
      console.error(`libjpeg-turbo failed (${(err as Error).message}); this thread now encodes JPEG with mozjpeg`);
    }
  }
  const rgba = toRgba(out);
  const img = { data: new Uint8ClampedArray(rgba.buffer), width, height, colorSpace: "srgb" } as ImageData;
  const gray = out.raster.channels <= 2 && !out.palette;
  const bytes = await jpegEncode(img, {
    quality,
    baseline: true,
    progressive: false,
    optimize_coding: true,
    quant_table: 0,
    trellis_loops: 1,
    color_space: gray ? 1 : 3,
    auto_subsample: true,
  } as never);
  return new Uint8Array(bytes);
}

/** libjpeg-turbo (4:2:0 for colour). */
async function encodeJpegTurbo(out: OpOutput, quality: number): Promise<Uint8Array> {
  const { width, height, channels: ch, data } = out.raster;
  const gray = ch <= 2 && !out.palette;
  const n = width * height;
  const enc = await loadTurbo();
  const input = enc.getDecodedBuffer({
    width,
    height,
    bitsPerSample: 8,
    componentCount: gray ? 1 : 3,
    isSigned: false,
  });
  if (out.palette) {
    for (let i = 0; i < n; i++) input.set(out.palette.subarray(data[i] * 3, data[i] * 3 + 3), i * 3);
  } else if (gray && ch === 1) {
    input.set(data.subarray(0, n));
  } else if (gray) {
    for (let i = 0; i < n; i++) input[i] = data[i * ch];
  } else if (ch === 3) {
    input.set(data);
  } else {
    for (let i = 0; i < n; i++) {
      input[i * 3] = data[i * ch];
      input[i * 3 + 1] = data[i * ch + 1];
      input[i * 3 + 2] = data[i * ch + 2];
    }
  }
  enc.setQuality(quality);
  // Its default is progressive (with optimized Huffman tables): 3× slower to write (256² RGB 3.3 vs
  // 1.1 ms, gray 2.4 vs 0.6 ms) and slower for viewers to decode, for ~12 % smaller files.
  enc.setProgressive(0);
  enc.setSubSampling(gray ? 3 : 2); // TJSAMP_GRAY (one component) or TJSAMP_420
  enc.encode();
  // The encoded buffer is a Uint8ClampedArray view into WASM memory: copy it out as a plain Uint8Array.
  const view = enc.getEncodedBuffer();
  return new Uint8Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
}

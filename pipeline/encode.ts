/**
 * Encoding step: 8-bit raster → JPEG (mozjpeg via @jsquash/jpeg, baseline, standard tables: 2× faster than
 * its progressive/optimised defaults, bench/codecs.ts), PNG (pipeline/png.ts) or WebP (@jsquash/webp).
 * JPEG has no alpha: transparent pixels are composited over the background colour.
 */
import jpegEncode from "@jsquash/jpeg/encode.js";
import webpEncode from "@jsquash/webp/encode.js";
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
  const rgba = toRgba(out);
  const img = {
    data: new Uint8ClampedArray(rgba.buffer),
    width: r.width,
    height: r.height,
    colorSpace: "srgb",
  } as ImageData;
  if (format === "jpeg") {
    const gray = r.channels <= 2 && !out.palette;
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

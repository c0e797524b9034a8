/**
 * Encoding step: 8-bit raster → JPEG (this thread's codec tier: codecs/tier.ts), PNG (pipeline/png.ts) or
 * WebP (@jsquash/webp). JPEG has no alpha: transparent pixels are composited over the background colour
 * before this step.
 */
import webpEncode from "@jsquash/webp/encode.js";
import type { JpegCodec } from "../codecs/tier.ts";
import type { Raster8 } from "../core/raster.ts";
import type { TileFormat } from "./tile_request.ts";
import { encodePng } from "./png.ts";
import type { OpOutput } from "../kernels/op.ts";

/** Background for JPEG output (white: slide glass). */
export const JPEG_BACKGROUND = 255;

/** Encodes an op's output in `format` at `quality` (1..100, JPEG/WebP); JPEG with the thread's `codec`. */
export async function encodeOutput(
  out: OpOutput,
  format: Exclude<TileFormat, "npy">,
  quality: number,
  codec: JpegCodec,
): Promise<Uint8Array> {
  const r = out.raster;
  if (format === "png") return encodePng(r, { bitDepth: out.pngBitDepth, palette: out.palette });
  if (format === "jpeg") return await encodeJpeg(out, quality, codec);
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

/**
 * The background of `channels` samples (1: gray, 3: RGB) from an `RRGGBB` colour (default white); a gray
 * one is the colour's Y, by DESIGN's gray formula.
 */
export function backgroundSamples(channels: number, rgb?: string): number[] {
  const [r, g, b] = rgb
    ? [0, 2, 4].map((i) => parseInt(rgb.slice(i, i + 2), 16))
    : [JPEG_BACKGROUND, JPEG_BACKGROUND, JPEG_BACKGROUND];
  return channels === 1 ? [(77 * r + 150 * g + 29 * b + 128) >> 8] : [r, g, b];
}

/** Composites alpha over `bg` (`RRGGBB`, default white) and drops it (for JPEG). Rasters without alpha are returned as they are. */
export function flattenAlpha(r: Raster8, bg?: string): Raster8 {
  if (r.channels !== 2 && r.channels !== 4) return r;
  const ch = r.channels, outCh = ch - 1, n = r.width * r.height;
  const back = backgroundSamples(outCh, bg);
  const out = new Uint8Array(n * outCh);
  for (let i = 0; i < n; i++) {
    const a = r.data[i * ch + outCh];
    for (let c = 0; c < outCh; c++) {
      out[i * outCh + c] = ((r.data[i * ch + c] * a + back[c] * (255 - a)) + 127) / 255 | 0;
    }
  }
  return { width: r.width, height: r.height, channels: outCh, type: "uint8", data: out };
}

/** A baseline JPEG of an op output on this thread's codec tier: gray for 1–2 channels, else RGB (alpha dropped). */
async function encodeJpeg(out: OpOutput, quality: number, codec: JpegCodec): Promise<Uint8Array> {
  const { width, height, channels: ch, data } = out.raster;
  const gray = ch <= 2 && !out.palette;
  const n = width * height;
  let input: Uint8Array;
  if (out.palette) {
    input = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) input.set(out.palette.subarray(data[i] * 3, data[i] * 3 + 3), i * 3);
  } else if ((gray && ch === 1) || ch === 3) {
    input = data;
  } else if (gray) {
    input = new Uint8Array(n);
    for (let i = 0; i < n; i++) input[i] = data[i * ch];
  } else {
    input = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) {
      input[i * 3] = data[i * ch];
      input[i * 3 + 1] = data[i * ch + 1];
      input[i * 3 + 2] = data[i * ch + 2];
    }
  }
  return await codec.encode(input, width, height, gray ? 1 : 3, quality);
}

/**
 * The WASM JPEG codecs: the tier that runs everywhere (edge runtimes, `--deny-ffi`, platforms without a
 * native prebuild).
 * - Decode: mozjpeg's decoder (@jsquash/jpeg, libjpeg-turbo's decoder without SIMD), RGBA out. Luma of a
 *   YCbCr JPEG: an Adobe APP14 marker with transform 0 makes the decoder skip the colour conversion, so
 *   its first channel is the Y component exactly as decoded (the same samples as libjpeg-turbo's TJPF_GRAY
 *   decode: tests/codecs_test.ts).
 * - Encode: libjpeg-turbo built to WASM (@cornerstonejs/codec-libjpeg-turbo-8bit; baseline, 4:2:0 or one
 *   gray component). Its WASM build corrupts its memory on tiny images (1×1, 8×8, 16×1 measured), so it
 *   takes only images of ≥ 64×64 pixels at quality ≤ 90; everything else, and everything after any failure
 *   of it in this thread, goes to mozjpeg's encoder (@jsquash/jpeg, baseline, standard tables).
 */
import jpegDecode from "@jsquash/jpeg/decode.js";
import jpegEncode from "@jsquash/jpeg/encode.js";
import { createRequire } from "node:module";
import type { DecodedJpeg } from "./jpeg_types.ts";
import { log } from "../telemetry/log.ts";

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Strips RGBA down to `channels` (1, 3 or 4) interleaved samples. */
export function rgbaToChannels(rgba: Uint8Array, pixels: number, channels: number): Uint8Array {
  if (channels === 4) return rgba.subarray(0, pixels * 4);
  const out = new Uint8Array(pixels * channels);
  if (channels === 3) {
    let i = 0;
    if (LITTLE_ENDIAN && rgba.byteOffset % 4 === 0) {
      // Four RGBA words → three RGB words: 3× faster than byte by byte (50 vs 165 µs a 256² tile).
      const src = new Uint32Array(rgba.buffer, rgba.byteOffset, pixels);
      const dst = new Uint32Array(out.buffer, 0, Math.floor((pixels * 3) / 4));
      for (let j = 0; i + 4 <= pixels; i += 4) {
        const p0 = src[i] & 0xffffff, p1 = src[i + 1] & 0xffffff, p2 = src[i + 2] & 0xffffff, p3 = src[i + 3];
        dst[j++] = p0 | (p1 << 24);
        dst[j++] = (p1 >>> 8) | (p2 << 16);
        dst[j++] = (p2 >>> 16) | (p3 << 8);
      }
    }
    for (; i < pixels; i++) {
      out[i * 3] = rgba[i * 4];
      out[i * 3 + 1] = rgba[i * 4 + 1];
      out[i * 3 + 2] = rgba[i * 4 + 2];
    }
  } else if (channels === 1) {
    for (let i = 0; i < pixels; i++) out[i] = rgba[i * 4];
  } else {
    for (let i = 0; i < pixels; i++) for (let c = 0; c < channels; c++) out[i * channels + c] = rgba[i * 4 + c];
  }
  return out;
}

/** Adobe APP14 with transform 0: the decoder takes the components as they are (no YCbCr → RGB). */
const ADOBE_APP14_NO_TRANSFORM: readonly number[] = Object.freeze([
  0xff,
  0xee,
  0x00,
  0x0e,
  0x41, // "Adobe"
  0x64,
  0x6f,
  0x62,
  0x65,
  0x00,
  0x64, // version 100
  0x00,
  0x00,
  0x00,
  0x00,
  0x00, // transform 0
]);

/**
 * `jpeg` told to skip its colour transform (a copy): libjpeg takes a 3-component JPEG as YCbCr when it has a
 * JFIF marker, else as its Adobe APP14 marker's transform says. So a JFIF marker is renamed ("JFIX", then
 * ignored), an Adobe marker before the frame header gets transform 0, and without one an Adobe marker
 * with transform 0 is inserted right after SOI.
 */
export function withNoTransformMarker(jpeg: Uint8Array): Uint8Array {
  const out = jpeg.slice();
  let adobe = false;
  for (let at = 2; at + 4 <= out.length && out[at] === 0xff;) {
    const marker = out[at + 1], len = (out[at + 2] << 8) | out[at + 3];
    if (marker === 0xda || (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xcc)) break;
    const id = String.fromCharCode(...out.subarray(at + 4, at + 9));
    if (marker === 0xe0 && len >= 7 && id === "JFIF\0") out[at + 7] = 0x58; // "JFIF" → "JFIX"
    if (marker === 0xee && len >= 14 && id === "Adobe") {
      out[at + 15] = 0; // the transform byte: after length, "Adobe", version, flags0, flags1
      adobe = true;
    }
    at += 2 + len;
  }
  if (adobe) return out;
  const inserted = new Uint8Array(out.length + ADOBE_APP14_NO_TRANSFORM.length);
  inserted.set(out.subarray(0, 2));
  inserted.set(ADOBE_APP14_NO_TRANSFORM, 2);
  inserted.set(out.subarray(2), 2 + ADOBE_APP14_NO_TRANSFORM.length);
  return inserted;
}

/** Decodes with the WASM decoder: RGB, or `gray` (the first component as decoded: Y of a YCbCr JPEG). */
export async function wasmDecode(jpeg: Uint8Array, format: "rgb" | "gray"): Promise<DecodedJpeg> {
  // The decoder takes an ArrayBuffer of its own: the marker rewrite is already a copy.
  const input = format === "gray" ? withNoTransformMarker(jpeg) : jpeg.slice();
  const img = await jpegDecode(input.buffer as ArrayBuffer);
  const rgba = new Uint8Array(img.data.buffer, img.data.byteOffset, img.width * img.height * 4);
  const channels = format === "gray" ? 1 : 3;
  return {
    width: img.width,
    height: img.height,
    channels,
    data: rgbaToChannels(rgba, img.width * img.height, channels),
  };
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
/**
 * One thread's WASM JPEG encoder (its runtime's): libjpeg-turbo, made at its first use (encoding is
 * synchronous: calls never interleave), or mozjpeg for small or high-quality images and after libjpeg-turbo
 * failed once in this thread.
 */
export class WasmEncoder {
  #turbo: Promise<TurboEncoder> | undefined;
  #broken = false;

  #load(): Promise<TurboEncoder> {
    if (!this.#turbo) {
      const require = createRequire(import.meta.url);
      const factory = require("@cornerstonejs/codec-libjpeg-turbo-8bit/wasmjs");
      this.#turbo = factory({ print: () => {}, printErr: () => {} }).then((
        m: { JPEGEncoder: new () => TurboEncoder },
      ) => new m.JPEGEncoder());
    }
    return this.#turbo!;
  }

  /** A baseline JPEG of 1-channel (gray) or 3-channel (RGB, 4:2:0) 8-bit samples. */
  async encode(data: Uint8Array, width: number, height: number, channels: 1 | 3, quality: number): Promise<Uint8Array> {
    if (!this.#broken && quality <= 90 && width * height >= 4096) {
      try {
        const enc = await this.#load();
        const input = enc.getDecodedBuffer({
          width,
          height,
          bitsPerSample: 8,
          componentCount: channels,
          isSigned: false,
        });
        input.set(data.subarray(0, width * height * channels));
        enc.setQuality(quality);
        // Its default is progressive (with optimized Huffman tables): 3× slower to write (256² RGB 3.3 vs
        // 1.1 ms, gray 2.4 vs 0.6 ms) and slower for viewers to decode, for ~12 % smaller files.
        enc.setProgressive(0);
        enc.setSubSampling(channels === 1 ? 3 : 2); // TJSAMP_GRAY (one component) or TJSAMP_420
        enc.encode();
        // A Uint8ClampedArray view into WASM memory: copy it out as a plain Uint8Array.
        const view = enc.getEncodedBuffer();
        return new Uint8Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
      } catch (err) {
        this.#broken = true;
        log().error(`libjpeg-turbo WASM failed (${(err as Error).message}); this thread now encodes with mozjpeg`);
      }
    }
    const n = width * height;
    const rgba = new Uint8Array(n * 4);
    for (let i = 0; i < n; i++) {
      const s = i * channels;
      rgba[i * 4] = data[s];
      rgba[i * 4 + 1] = data[channels === 1 ? s : s + 1];
      rgba[i * 4 + 2] = data[channels === 1 ? s : s + 2];
      rgba[i * 4 + 3] = 255;
    }
    const img = { data: new Uint8ClampedArray(rgba.buffer), width, height, colorSpace: "srgb" } as ImageData;
    const bytes = await jpegEncode(img, {
      quality,
      baseline: true,
      progressive: false,
      optimize_coding: true,
      quant_table: 0,
      trellis_loops: 1,
      color_space: channels === 1 ? 1 : 3,
      auto_subsample: true,
    } as never);
    return new Uint8Array(bytes);
  }
}

/** A baseline JPEG by an encoder made for this one call (tests and tools; a thread keeps its `WasmEncoder`). */
export function wasmEncode(data: Uint8Array, width: number, height: number, channels: 1 | 3, quality: number) {
  return new WasmEncoder().encode(data, width, height, channels, quality);
}

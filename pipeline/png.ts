/**
 * PNG encoder for the layouts the ops need: 8-bit gray, gray+alpha, RGB, RGBA, 1-bit gray and indexed
 * (PNG-8). Deflate comes from `node:zlib` (native). Written here because @jsquash/png only writes RGBA and
 * fast-png was 2–4× slower on RGB tiles (bench/codecs.ts).
 */
import { crc32, deflateSync } from "node:zlib";
import type { Raster8 } from "../core/raster.ts";

/** Options: `bitDepth` 1 packs a 0/255 gray raster; `palette` (RGB triples) writes an indexed PNG. */
export interface PngOptions {
  bitDepth?: 1 | 8;
  palette?: Uint8Array;
  /** zlib level; 3 is the measured sweet spot for tiles (bench/codecs.ts). */
  level?: number;
}

const SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The PNG file for `r`. */
export function encodePng(r: Raster8, opts: PngOptions = {}): Uint8Array {
  const { width: w, height: h, channels: ch } = r;
  const indexed = !!opts.palette;
  const bitDepth = opts.bitDepth === 1 && ch === 1 && !indexed ? 1 : 8;
  const colorType = indexed ? 3 : ({ 1: 0, 2: 4, 3: 2, 4: 6 } as Record<number, number>)[ch];
  if (colorType === undefined) throw new RangeError(`cannot write ${ch} channels as PNG`);
  const stride = bitDepth === 1 ? Math.ceil(w / 8) : w * ch;
  const bpp = bitDepth === 1 ? 1 : ch;
  const raw = new Uint8Array((stride + 1) * h);
  const d = r.data;
  for (let y = 0; y < h; y++) {
    const o = y * (stride + 1);
    if (bitDepth === 1) {
      raw[o] = 0; // filter None: packed bits compress well as they are
      const row = y * w;
      for (let x = 0; x < w; x++) if (d[row + x] >= 128) raw[o + 1 + (x >> 3)] |= 0x80 >> (x & 7);
    } else {
      // Filter Sub: a good single choice for photographic tiles.
      raw[o] = 1;
      const s = y * stride;
      for (let i = 0; i < bpp && i < stride; i++) raw[o + 1 + i] = d[s + i];
      for (let i = bpp; i < stride; i++) raw[o + 1 + i] = d[s + i] - d[s + i - bpp];
    }
  }
  const idat = deflateSync(raw, { level: opts.level ?? 3 });
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, w);
  dv.setUint32(4, h);
  ihdr[8] = bitDepth;
  ihdr[9] = colorType;
  const chunks = [chunk("IHDR", ihdr)];
  if (indexed) chunks.push(chunk("PLTE", opts.palette!));
  chunks.push(
    chunk("IDAT", new Uint8Array(idat.buffer, idat.byteOffset, idat.byteLength)),
    chunk("IEND", new Uint8Array(0)),
  );
  const total = SIGNATURE.length + chunks.reduce((a, c) => a + c.length, 0);
  const out = new Uint8Array(total);
  out.set(SIGNATURE, 0);
  let at = SIGNATURE.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)) >>> 0);
  return out;
}

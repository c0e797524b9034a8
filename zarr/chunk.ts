/**
 * A Zarr chunk's bytes: the computed samples (HWC, any sample type) placed in the chunk (the rest the
 * array's fill value, 0), laid out C × H × W in C order, little-endian as the `.zarray` dtype says, and
 * compressed with the store's compressor. Label chunks (the tissue mask) hold 0/1, not the op's 0/255.
 */
import * as zlib from "node:zlib";
import { arrayTypeFor, type Raster, type RasterData } from "../core/raster.ts";
import { ZARR_COMPRESSOR } from "./metadata.ts";

/** Where the computed pixels land in the chunk (pipeline/render.ts's `Placement`). */
export interface ChunkPlacement {
  outX: number;
  outY: number;
}

// Typed arrays are in the platform's byte order; the dtypes say little-endian.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The compressed chunk of `chunkW` × `chunkH` pixels holding `raster` at `at` (`labels`: nonzero → 1), with
 * the store's compressor (another only in tests: the zlib fallback of runtimes without zstd).
 */
export function encodeZarrChunk(
  raster: Raster | null,
  at: ChunkPlacement,
  chunkW: number,
  chunkH: number,
  channels: number,
  labels: boolean,
  compressor: { id: "zstd" | "zlib"; level: number } = ZARR_COMPRESSOR,
): Uint8Array {
  if (!LITTLE_ENDIAN) throw new Error("Zarr chunks are written on little-endian platforms only");
  const out = new (arrayTypeFor(labels ? "uint8" : raster?.type ?? "uint8"))(channels * chunkW * chunkH);
  if (raster) place(out, raster, at, chunkW, chunkH, channels, labels);
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  if (compressor.id === "zlib") return zlib.deflateSync(bytes, { level: compressor.level });
  const zstd = (zlib as unknown as { zstdCompressSync: (b: Uint8Array, o: object) => Uint8Array }).zstdCompressSync;
  // ZSTD_c_compressionLevel is parameter 100. The pledged size puts the content size in the frame header,
  // which numcodecs' zstd (0.11, Debian's) needs to decode at all.
  return zstd(bytes, { pledgedSrcSize: bytes.length, params: { 100: compressor.level } });
}

/** One output row's start in channel `c`'s plane. */
const rowStart = (c: number, y: number, at: ChunkPlacement, chunkW: number, chunkH: number) =>
  c * chunkW * chunkH + (at.outY + y) * chunkW + at.outX;

/**
 * HWC samples into the C × H × W chunk. Each layout has its own loop, so each stays monomorphic: a plane's
 * rows copied whole (one channel), 8-bit interleaved, labels (nonzero → 1), any other sample type.
 */
function place(
  out: RasterData,
  raster: Raster,
  at: ChunkPlacement,
  chunkW: number,
  chunkH: number,
  channels: number,
  labels: boolean,
): void {
  const { width: w, height: h, channels: ch, data } = raster;
  const n = Math.min(ch, channels);
  if (labels) {
    labelsInto(out as Uint8Array, data, w, h, ch, (c, y) => rowStart(c, y, at, chunkW, chunkH));
  } else if (ch === 1) {
    for (let y = 0; y < h; y++) out.set(data.subarray(y * w, (y + 1) * w) as never, rowStart(0, y, at, chunkW, chunkH));
  } else if (data instanceof Uint8Array) {
    for (let c = 0; c < n; c++) {
      for (let y = 0; y < h; y++) {
        interleavedU8(out as Uint8Array, data, rowStart(c, y, at, chunkW, chunkH), y * w * ch + c, w, ch);
      }
    }
  } else {
    for (let c = 0; c < n; c++) {
      for (let y = 0; y < h; y++) {
        let o = rowStart(c, y, at, chunkW, chunkH), i = y * w * ch + c;
        for (let x = 0; x < w; x++, i += ch) out[o++] = data[i];
      }
    }
  }
}

/** One row of one channel of 8-bit interleaved samples. */
function interleavedU8(out: Uint8Array, data: Uint8Array, o: number, i: number, w: number, ch: number): void {
  for (let x = 0; x < w; x++, i += ch) out[o++] = data[i];
}

/** The first channel as 0/1 labels. */
function labelsInto(
  out: Uint8Array,
  data: RasterData,
  w: number,
  h: number,
  ch: number,
  start: (c: number, y: number) => number,
): void {
  for (let y = 0; y < h; y++) {
    let o = start(0, y), i = y * w * ch;
    for (let x = 0; x < w; x++, i += ch) out[o++] = data[i] ? 1 : 0;
  }
}

/**
 * A Zarr chunk's bytes: the computed samples (HWC, any sample type) placed in the chunk (the rest the
 * array's fill value, 0), laid out C × H × W in C order, little-endian as the `.zarray` dtype says, and
 * compressed with the store's compressor. Label chunks (the tissue mask) hold 0/1, not the op's 0/255.
 */
import * as zlib from "node:zlib";
import { arrayTypeFor, type Raster } from "../core/raster.ts";
import { ZARR_COMPRESSOR } from "./metadata.ts";

/** Where the computed pixels land in the chunk (pipeline/render.ts's `Placement`). */
export interface ChunkPlacement {
  outX: number;
  outY: number;
}

// Typed arrays are in the platform's byte order; the dtypes say little-endian.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The compressed chunk of `chunkW` × `chunkH` pixels holding `raster` at `at` (`labels`: nonzero → 1). */
export function encodeZarrChunk(
  raster: Raster | null,
  at: ChunkPlacement,
  chunkW: number,
  chunkH: number,
  channels: number,
  labels: boolean,
): Uint8Array {
  if (!LITTLE_ENDIAN) throw new Error("Zarr chunks are written on little-endian platforms only");
  const type = labels || !raster ? (raster?.type ?? "uint8") : raster.type;
  const out = new (arrayTypeFor(labels ? "uint8" : type))(channels * chunkW * chunkH);
  if (raster) {
    const { width: w, height: h, channels: ch, data } = raster;
    const plane = chunkW * chunkH;
    for (let c = 0; c < Math.min(ch, channels); c++) {
      for (let y = 0; y < h; y++) {
        let o = c * plane + (at.outY + y) * chunkW + at.outX, i = y * w * ch + c;
        if (labels) { for (let x = 0; x < w; x++, i += ch) out[o++] = data[i] ? 1 : 0; }
        else for (let x = 0; x < w; x++, i += ch) out[o++] = data[i];
      }
    }
  }
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  if (ZARR_COMPRESSOR.id === "zlib") return zlib.deflateSync(bytes, { level: ZARR_COMPRESSOR.level });
  const zstd = (zlib as unknown as { zstdCompressSync: (b: Uint8Array, o: object) => Uint8Array }).zstdCompressSync;
  // ZSTD_c_compressionLevel is parameter 100. The pledged size puts the content size in the frame header,
  // which numcodecs' zstd (0.11, Debian's) needs to decode at all.
  return zstd(bytes, { pledgedSrcSize: bytes.length, params: { 100: ZARR_COMPRESSOR.level } });
}

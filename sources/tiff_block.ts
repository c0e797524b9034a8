/**
 * One TIFF block (tile or strip) as stored: decoded to samples, or passed through as a standalone JPEG.
 * The TIFF reader (sources/tiff.ts) assembles regions from these.
 */
import { leaseBytes } from "../core/lease.ts";
import type { Runtime } from "../cache/runtime.ts";
import { arrayTypeFor } from "../core/raster.ts";
import { corruptSource, HttpError } from "../errors.ts";
import type { ByteSource } from "./bytes.ts";
import { decoderFor, standaloneJpeg } from "./decoders.ts";
import { isWasmDecoded, swapBytes } from "./tiff_bytes.ts";
import { blockGrid, decoderParams, type IfdEntry, loadBlockIndex } from "./tiff_ifd.ts";

/** 422 when a block's bytes lie past the end of the file (a truncated file). */
async function checkBlockInFile(e: IfdEntry, index: number, tx: number, ty: number, fileSize: number) {
  await loadBlockIndex(e);
  const fd = e.image.getFileDirectory() as unknown as {
    loadValueIndexed(tag: string, i: number): Promise<number | bigint>;
  };
  const [offTag, cntTag] = e.tiled ? ["TileOffsets", "TileByteCounts"] : ["StripOffsets", "StripByteCounts"];
  const offset = Number(await fd.loadValueIndexed(offTag, index));
  const count = Number(await fd.loadValueIndexed(cntTag, index));
  if (!(offset + count <= fileSize)) {
    throw corruptSource(
      `truncated TIFF: tile ${tx},${ty} ends at byte ${offset + count}, the file at ${fileSize}`,
    );
  }
}

/**
 * Block (`tx`, `ty`) of `e` decoded: `blockWidth × blockHeight × spp` samples (interleaved; planar samples
 * interleaved here, a short last strip zero-padded, native byte order), or its luma plane when `luma`. With
 * `pooled`, JPEG blocks (native tier) are decoded into a leased buffer (core/lease.ts); a block for the
 * cache never is. 422 for a block past the end of the file or one that does not decode.
 */
export async function decodeTiffBlock(
  e: IfdEntry,
  tx: number,
  ty: number,
  luma: boolean,
  pooled: boolean,
  fileSize: number,
  runtime: Runtime,
): Promise<ArrayBufferLike> {
  const shared = luma
    ? await (e.lumaDecoder ??= decoderFor({ ...decoderParams(e), luma: true, codec: runtime.codec }))
    : await (e.decoder ??= decoderFor({ ...decoderParams(e), codec: runtime.codec }));
  // A block read alone is decoded into a pool buffer (JPEG, native tier); one for the cache never is.
  const decoder = pooled
    ? { decode: (b: ArrayBuffer) => shared.decode(b, (n) => leaseBytes(runtime.pool, n)) }
    : shared;
  const bytesPer = arrayTypeFor(e.type).BYTES_PER_ELEMENT;
  const blockH = e.tiled ? e.blockHeight : Math.min(e.blockHeight, e.height - ty * e.blockHeight);
  const need = e.blockWidth * e.blockHeight * (luma ? 1 : e.spp) * bytesPer;
  const samples = e.planar === 2 ? e.spp : 1;
  const parts: ArrayBufferLike[] = [];
  const { perRow, perCol } = blockGrid(e);
  for (let s = 0; s < samples; s++) {
    await checkBlockInFile(e, s * perRow * perCol + ty * perRow + tx, tx, ty, fileSize);
    let data: ArrayBufferLike;
    try {
      ({ data } = await e.image.getTileOrStrip(tx, ty, s, decoder as never));
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw corruptSource(`tile ${tx},${ty} does not decode: ${(err as Error).message}`);
    }
    const partNeed = e.blockWidth * blockH * (need / (e.blockWidth * e.blockHeight)) / samples;
    if (data.byteLength < partNeed) {
      throw corruptSource(`tile ${tx},${ty} is truncated (${data.byteLength} of ${partNeed} bytes)`);
    }
    parts.push(data);
  }
  let out: Uint8Array;
  if (samples === 1 && parts[0].byteLength === need) {
    // The decoder's own buffer is the block: no copy.
    out = new Uint8Array(parts[0], 0, need);
  } else if (samples === 1 && parts[0].byteLength > need) {
    // A longer buffer (an uncompressed block whose byte count exceeds it): keep only the block, so the
    // cache holds what it is charged for.
    out = new Uint8Array(parts[0].slice(0, need));
  } else if (samples === 1) {
    // A short last strip: zero-pad to the whole block.
    out = new Uint8Array(need);
    out.set(new Uint8Array(parts[0]));
  } else {
    // Planar (separate) samples: interleave.
    const Ctor = arrayTypeFor(e.type);
    const inter = new Ctor(e.blockWidth * e.blockHeight * e.spp);
    const planes = parts.map((b) => new Ctor(b as ArrayBuffer));
    const n = e.blockWidth * blockH;
    for (let s = 0; s < samples; s++) for (let i = 0; i < n; i++) inter[i * samples + s] = planes[s][i];
    out = new Uint8Array(inter.buffer);
  }
  // Decoders return samples in file byte order; the typed arrays read native (little-endian) order.
  // deno-lint-ignore no-explicit-any
  if (bytesPer > 1 && !(e.image as any).littleEndian && !isWasmDecoded(e.compression)) swapBytes(out, bytesPer);
  return out.buffer;
}

/**
 * The most bytes a stored JPEG block of `e` is passed through with: twice its samples and 64 KiB of tables
 * and markers (an 8-bit baseline JPEG stays well under its raw size plus its headers).
 */
function maxStoredJpeg(e: Pick<IfdEntry, "blockWidth" | "blockHeight" | "spp">): number {
  return 2 * e.blockWidth * e.blockHeight * e.spp + 65536;
}

/** Block (tx, ty) of `e` as a standalone JPEG, if its blocks are 8-bit JPEG tiles of 1 or 3 samples. */
export async function storedTiffJpeg(
  e: IfdEntry,
  tx: number,
  ty: number,
  fileSize: number,
  bytes: ByteSource,
): Promise<Uint8Array | null> {
  if (e.compression !== 7 || !e.tiled || e.planar !== 1 || (e.spp !== 3 && e.spp !== 1) || e.type !== "uint8") {
    return null;
  }
  if (e.photometric !== 2 && e.photometric !== 6 && e.photometric !== 1) return null;
  const { perRow, perCol } = blockGrid(e);
  if (tx < 0 || ty < 0 || tx >= perRow || ty >= perCol) return null;
  const index = ty * perRow + tx;
  await loadBlockIndex(e);
  const fd = e.image.getFileDirectory() as unknown as {
    loadValueIndexed(tag: string, i: number): Promise<number | bigint>;
  };
  const offset = Number(await fd.loadValueIndexed("TileOffsets", index));
  const count = Number(await fd.loadValueIndexed("TileByteCounts", index));
  // A count no JPEG of the block's size needs (a corrupt or hostile file): not passed through as bytes.
  if (!(count > 0 && offset + count <= fileSize && count <= maxStoredJpeg(e))) return null;
  const tile = await bytes.read(offset, count);
  if (tile.length !== count) return null;
  return standaloneJpeg(tile, e.jpegTables, e.photometric === 2 && e.spp === 3);
}

/**
 * Parts of stored JPEG blocks decoded alone. A region that straddles stored tiles (a Deep Zoom 254+1 tile,
 * an off-grid patch) often needs a few rows or columns of a neighbouring tile; when that tile is not in
 * the block cache, decoding only the part (libjpeg's cropped decoding: no IDCT outside it, nothing below
 * it) costs a fraction of the whole tile. The part is exactly the whole decode's pixels there
 * (codecs/turbojpeg.ts widens the crop by an iMCU), and it is not cached: a block decoded whole still is.
 */
import type { JpegCodec } from "../codecs/tier.ts";
import type { Runtime } from "../cache/runtime.ts";
import type { IfdEntry } from "./tiff_ifd.ts";

/** A decoded part of a block: `width` × `height` samples whose first pixel is block pixel (`x`, `y`). */
export interface BlockPart {
  x: number;
  y: number;
  width: number;
  height: number;
  data: Uint8Array;
}

/** The margin the decoder adds on each side (one iMCU, at most 32 px), in the estimate below. */
const MARGIN = 16;

/**
 * Whether decoding only [x0, x1) × [y0, y1) of a `bw` × `bh` block is worth it: its estimated cost at most
 * 80 % of a whole decode. A JPEG's time splits into entropy decoding (≈ 45 %), which runs from the top down
 * to the part's last row, and the IDCT and colour work (≈ 55 %), which runs over the part alone (measured
 * on 256² YCbCr tiles: rows 0–2 cost 6 % of the whole, the last 3 rows 53 %, a 16-px column 64 %). The
 * bound was chosen on bench:peers' Deep Zoom row (distinct tiles, next to no block-cache hits): 0.5 gave
 * 735 tiles/s, 0.6–0.7 ≈ 870, 0.8 ≈ 950–1,060. A block in the cache is never decoded again in part.
 */
export function partWorthDecoding(bw: number, bh: number, x0: number, y0: number, x1: number, y1: number): boolean {
  if (x0 === 0 && y0 === 0 && x1 === bw && y1 === bh) return false;
  const rows = Math.min(bh, y1 + MARGIN) / bh;
  const area = (Math.min(bw, x1 + MARGIN) - Math.max(0, x0 - MARGIN)) *
    (Math.min(bh, y1 + MARGIN) - Math.max(0, y0 - MARGIN)) / (bw * bh);
  return 0.45 * rows + 0.55 * area <= 0.8;
}

/**
 * Decodes [x0, x1) × [y0, y1) of a stored JPEG block of `bw` × `bh` pixels, to gray or RGB; null when this
 * codec tier cannot crop or the JPEG is not exactly the block's size (the caller decodes the block whole,
 * which also reports any error in the data).
 */
export async function decodeBlockPart(
  codec: JpegCodec,
  jpeg: Uint8Array,
  format: "gray" | "rgb",
  bw: number,
  bh: number,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
): Promise<BlockPart | null> {
  if (!codec.crops) return null;
  try {
    // The decoder's own widened rectangle, not a copy of the part cut out of it.
    const region = { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
    const got = await codec.decode(jpeg, { format, maxPixels: bw * bh, region, keepMargin: true });
    return { x: got.x ?? x0, y: got.y ?? y0, width: got.width, height: got.height, data: got.data };
  } catch {
    return null;
  }
}

/**
 * Block-local [x0, x1) × [y0, y1) of block `key` of `e`, decoded alone when `e` holds JPEG blocks, the codec
 * tier crops, the part is worth it and the block is not in the cache; else null (read the block whole).
 */
export async function readBlockPart(
  runtime: Runtime,
  e: IfdEntry,
  key: string,
  luma: boolean,
  [x0, y0, x1, y1]: [number, number, number, number],
  storedJpeg: () => Promise<Uint8Array | null>,
): Promise<BlockPart | null> {
  if (e.compression !== 7 || !runtime.codec.crops) return null;
  if (!partWorthDecoding(e.blockWidth, e.blockHeight, x0, y0, x1, y1) || runtime.caches.decodedBlocks.has(key)) {
    return null;
  }
  const jpeg = await storedJpeg();
  if (!jpeg) return null;
  return await decodeBlockPart(
    runtime.codec,
    jpeg,
    luma || e.spp === 1 ? "gray" : "rgb",
    e.blockWidth,
    e.blockHeight,
    x0,
    y0,
    x1,
    y1,
  );
}

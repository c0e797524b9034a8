/** What every block decoder is and gets (sources/decoders.ts picks one by compression), and the checks they share. */
import { corruptSource } from "../errors.ts";
import type { JpegCodec } from "../codecs/tier.ts";

/** Decodes one stored tile or strip into interleaved samples (predictor already undone). */
export interface TileDecoder {
  /** The block's samples; `alloc` (JPEG blocks, native tier) makes the buffer they are decoded into. */
  decode(buffer: ArrayBuffer, alloc?: (n: number) => Uint8Array): Promise<ArrayBuffer>;
}

/** What a decoder needs to know about the IFD it decodes. */
export interface DecoderParams {
  /** The thread's JPEG codec (JPEG blocks). */
  codec: JpegCodec;
  compression: number;
  tileWidth: number;
  tileHeight: number;
  samplesPerPixel: number;
  bitsPerSample: number[];
  planarConfiguration: number;
  predictor: number;
  photometric: number;
  jpegTables?: Uint8Array;
  /** JPEG only: decode the luma plane (one channel) instead of RGB. */
  luma?: boolean;
}

/** 422 unless a tile's own header (`width`×`height`, null: unreadable) fits the IFD's tile size. */
export function checkTileHeader(kind: string, size: { width: number; height: number } | null, p: DecoderParams) {
  if (!size) throw corruptSource(`${kind} tile without a readable header`);
  if (size.width > p.tileWidth || size.height > p.tileHeight) {
    throw corruptSource(
      `${kind} tile claims ${size.width}×${size.height} pixels in a TIFF of ${p.tileWidth}×${p.tileHeight} tiles`,
    );
  }
}

/** Copies a decoded image (any size) into a block of exactly `w`×`h` pixels (edge tiles may differ). */
export function fitBlock(src: Uint8Array, sw: number, sh: number, w: number, h: number, ch: number): Uint8Array {
  if (sw === w && sh === h) return src;
  const out = new Uint8Array(w * h * ch);
  const rowBytes = Math.min(sw, w) * ch;
  for (let y = 0; y < Math.min(sh, h); y++) out.set(src.subarray(y * sw * ch, y * sw * ch + rowBytes), y * w * ch);
  return out;
}

/** What both JPEG codec tiers (native TurboJPEG, WASM) take and give: decode options, results, failures. */

/** What a JPEG's header says. */
export interface JpegHeader {
  width: number;
  height: number;
  /** TJCS value: see `JPEG_COLORSPACE`. */
  colorspace: number;
  /** Bits per sample (8 for baseline; 12 and lossless JPEGs are refused by `decode`). */
  precision: number;
  /** True for lossless (predictive) JPEG. */
  lossless: boolean;
}

/** Options of a decode. */
export interface DecodeOptions {
  /** Output samples: `gray` (1 channel; luma only for YCbCr JPEGs) or `rgb` (3 channels). */
  format: "gray" | "rgb";
  /** DCT-domain downscale: 1 (none), 2, 4 or 8; the output is ceil(size / scale). */
  scale?: 1 | 2 | 4 | 8;
  /** Refuse (before decoding) a JPEG whose full size exceeds this many pixels. */
  maxPixels?: number;
  /**
   * Decode only this rectangle (unscaled; the output is exactly its size). libjpeg decodes the rows above
   * it only as far as the entropy decoder must, none below it, and only the iMCU columns it spans.
   */
  region?: { x: number; y: number; w: number; h: number };
  /**
   * With `region`: return the rectangle libjpeg decoded (the region widened by an iMCU on each side,
   * inside the image) instead of copying the region out of it; `x` and `y` of the result say where it is.
   */
  keepMargin?: boolean;
  /** Makes the array of exactly `n` bytes a whole decode writes (core/byte_pool.ts); not for `region`. */
  alloc?: (n: number) => Uint8Array;
}

/** A decoded JPEG: interleaved 8-bit samples. */
export interface DecodedJpeg {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
  /** Where the pixels start in the image (a region decode with `keepMargin`); 0 otherwise. */
  x?: number;
  y?: number;
}

/** A TurboJPEG failure (corrupt data, an unsupported JPEG, a size over the limit). */
export class TurboJpegError extends Error {
  override name = "TurboJpegError";
  /** True for a valid JPEG of a kind not decoded here (12-bit, lossless), as opposed to corrupt data. */
  constructor(message: string, readonly unsupported = false) {
    super(message);
  }
}

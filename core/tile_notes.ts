/** What a computed tile says besides its bytes: the types the pipeline, the cache and the routes share. */

/** Quantization figures of an int8 tensor. */
export interface QuantInfo {
  scale: number[];
  zeroPoint: number[];
  sqnrDb: number;
}

/**
 * What a computed tile says besides its bytes, kept with it in the cache: the routes answer it as headers
 * (`X-Quant-*`, `X-Pass-Through`, `X-Render`, `X-Backend`), a patch export writes it to its manifest.
 */
export interface TileNotes {
  /** An int8 tensor's quantization. */
  quant?: QuantInfo;
  /** How a stored tile was passed through (`stored-jpeg`, `gray-transcode`). */
  passThrough?: string;
  /** The render as it ran (auto windows resolved), canonical. */
  render?: string;
  /** The backend that computed it, where it chooses between several (WebGPU or the workers). */
  backend?: string;
}

/** The caches' bounds: each per-thread pixel cache's and the statistics'; `Config.caches` sets them. */

/**
 * Bounds of the memoising caches. The three pixel caches are per thread and also draw on the one process
 * budget (`pixelCacheBytes`), which is what bounds them in practice; these caps keep one thread from
 * taking all of it. Statistics and palettes live on the router thread only.
 */
export interface CacheSizes {
  /** Flat images (PNG, JPEG, WebP) decoded whole, per thread. */
  flatImagesBytes: number;
  /** Decoded TIFF tiles and strips, per thread. */
  decodedBlocksBytes: number;
  /** Derived pyramid levels made whole, per thread. */
  derivedLevelsBytes: number;
  /** Image statistics (tissue maps and their PNGs). */
  statsBytes: number;
  /** Median-cut palettes, by count. */
  palettes: number;
}

/** The default bounds. */
export const DEFAULT_CACHE_SIZES: CacheSizes = {
  flatImagesBytes: 512 * 2 ** 20,
  decodedBlocksBytes: 192 * 2 ** 20,
  derivedLevelsBytes: 256 * 2 ** 20,
  statsBytes: 128 * 2 ** 20,
  palettes: 1024,
};

/**
 * This thread's pixel caches: flat images decoded whole, decoded TIFF blocks, derived levels made whole.
 * Each is a memoising cache bounded by its `CacheSizes` cap and by the process budget (cache/budget.ts);
 * the main thread sizes them from `Config.caches` and each worker from its init message.
 */
import type { CacheSizes } from "./sizes.ts";
import { DEFAULT_CACHE_SIZES } from "./sizes.ts";
import type { Raster } from "../core/raster.ts";
import { processBudgetOf } from "./budget.ts";
import { PromiseCache } from "./memo.ts";

/** Flat images decoded whole (at a scale), by file version. */
export const flatImages = new PromiseCache<string, Raster>(
  DEFAULT_CACHE_SIZES.flatImagesBytes,
  () => processBudgetOf("flat"),
);

/** Decoded TIFF blocks (tiles or strips), by file version, IFD and position. */
export const decodedBlocks = new PromiseCache<string, ArrayBufferLike>(
  DEFAULT_CACHE_SIZES.decodedBlocksBytes,
  () => processBudgetOf("blocks"),
);

/** Derived levels made whole, by file version and level. */
export const derivedLevels = new PromiseCache<string, Raster>(
  DEFAULT_CACHE_SIZES.derivedLevelsBytes,
  () => processBudgetOf("derived"),
);

/** Applies the configured bounds to this thread's pixel caches. */
export function sizePixelCaches(sizes: CacheSizes): void {
  flatImages.lru.resize(sizes.flatImagesBytes);
  decodedBlocks.lru.resize(sizes.decodedBlocksBytes);
  derivedLevels.lru.resize(sizes.derivedLevelsBytes);
}

/**
 * A thread's pixel caches: flat images decoded whole, decoded TIFF blocks (and DICOM frames, NDPI bands),
 * derived levels made whole. Each is a memoising cache bounded by its `CacheSizes` cap and by the process
 * budget (cache/budget.ts). One set per thread, in its runtime (cache/runtime.ts).
 */
import { type CacheSizes, DEFAULT_CACHE_SIZES } from "./sizes.ts";
import type { Raster } from "../core/raster.ts";
import { budgetSlot, type ThreadBudget } from "./budget.ts";
import { PromiseCache } from "./memo.ts";

/** One thread's pixel caches. */
export class PixelCaches {
  /** Flat images decoded whole (at a scale), by file version. */
  readonly flatImages: PromiseCache<string, Raster>;
  /** Decoded blocks (tiles, strips, frames, bands), by file version, level and position. */
  readonly decodedBlocks: PromiseCache<string, ArrayBufferLike>;
  /** Derived levels made whole, by file version and level. */
  readonly derivedLevels: PromiseCache<string, Raster>;

  constructor(sizes: CacheSizes = DEFAULT_CACHE_SIZES, budget: ThreadBudget | null = null) {
    this.flatImages = new PromiseCache(sizes.flatImagesBytes, () => budgetSlot(budget, "flat"));
    this.decodedBlocks = new PromiseCache(sizes.decodedBlocksBytes, () => budgetSlot(budget, "blocks"));
    this.derivedLevels = new PromiseCache(sizes.derivedLevelsBytes, () => budgetSlot(budget, "derived"));
  }

  /** Applies new bounds (entries past them are evicted). */
  resize(sizes: CacheSizes): void {
    this.flatImages.lru.resize(sizes.flatImagesBytes);
    this.decodedBlocks.lru.resize(sizes.decodedBlocksBytes);
    this.derivedLevels.lru.resize(sizes.derivedLevelsBytes);
  }
}

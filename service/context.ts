/** What every route needs: configuration, the image registry and the compute backend. */
import type { CodecStatus } from "../codecs/tier.ts";
import type { Config } from "../config.ts";
import type { ImageRegistry } from "../sources/registry.ts";
import type { TileBackend } from "../workers/backend.ts";
import type { StoredTiles } from "./stored_tiles.ts";
import type { StatsService } from "./stats.ts";
import type { TileCache } from "../cache/tile_cache.ts";
import type { Metrics } from "../telemetry/metrics.ts";
import type { SharedBudget } from "../cache/budget.ts";
import type { LargeWork } from "../workers/large_work.ts";
import type { WindowShares } from "../core/window_shares.ts";

/** Dependencies handed to each route module. */
export interface AppContext {
  config: Config;
  registry: ImageRegistry;
  backend: TileBackend;
  /** Beside a worker pool: whole stored tiles passed through as they are, read on this thread. */
  storedTiles?: StoredTiles;
  stats: StatsService;
  cache: TileCache;
  metrics: Metrics;
  /** The JPEG codec tier in use (part of every cache key). */
  codecs: CodecStatus;
  /** The process's pixel-cache budget, shared by every thread. */
  pixelBudget: SharedBudget;
  /** The worker pool's large-work budget (absent without a pool): large answers hold it while sent. */
  largeWork?: LargeWork;
  /** The patch exports running in this process share one window of patches in flight. */
  exportWindows: WindowShares;
}

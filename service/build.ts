/**
 * Builds what serves tiles, without HTTP: the compute backend the configuration names, and the
 * `AppContext` the routes, the patch export and the command line share.
 */
import { Metrics } from "../telemetry/metrics.ts";
import { TileCache } from "../cache/tile_cache.ts";
import type { Config } from "../config.ts";
import { ImageRegistry } from "../sources/registry.ts";
import { InlineBackend, type TileBackend } from "../workers/backend.ts";
import { StoredTiles } from "./stored_tiles.ts";
import { WorkerPool, workersAvailable } from "../workers/pool.ts";
import { WebGpuBackend, webGpuExposed } from "../gpu/backend.ts";
import { SharedBudget } from "../cache/budget.ts";
import { StatsService } from "./stats.ts";
import { chooseCodec } from "../codecs/tier.ts";
import { createRuntime, type Runtime } from "../cache/runtime.ts";
import { SourceCache } from "../sources/source_cache.ts";
import { configureLog } from "../telemetry/log.ts";
import { watchProcess } from "../telemetry/process_metrics.ts";
import type { AppContext } from "./context.ts";
import { WindowShares } from "../core/window_shares.ts";

/**
 * The backend named by the configuration. CPU work runs on workers where `Worker` exists, else inline (as
 * on edge runtimes). `webgpu` and `auto` (where the runtime exposes WebGPU) add the GPU for ops: `auto`
 * measures it against the CPU backend at start-up and keeps the faster. `hasWorker` and `hasGpu` are the
 * runtime's answers, injectable for tests. `runtime` is this thread's (the inline backend's, and the codec
 * tier and budget the workers are told).
 */
export function createBackend(
  config: Config,
  hasWorker = workersAvailable(),
  hasGpu = webGpuExposed(),
  runtime: Runtime = createRuntime({ codecs: config.codecs, caches: config.caches }),
  sources: SourceCache = new SourceCache(runtime),
): TileBackend {
  if (config.backend === "workers" && !hasWorker) {
    throw new Error("EDGETILE_BACKEND=workers, but this runtime has no Worker");
  }
  if (config.backend === "webgpu" && !hasGpu) {
    throw new Error("EDGETILE_BACKEND=webgpu, but this runtime has no WebGPU");
  }
  const cpu = config.backend !== "inline" && hasWorker
    ? new WorkerPool({
      size: config.workers,
      jobTimeoutMs: Math.floor(config.timeoutMs / 2),
      maxQueuePerWorker: config.queuePerWorker,
      codecs: runtime.codecStatus.tier,
      budget: runtime.budget?.budget,
      caches: config.caches,
    })
    : new InlineBackend(sources);
  const gpu = config.backend === "webgpu" || (config.backend === "auto" && hasGpu);
  return gpu
    ? new WebGpuBackend(cpu, config.backend as "auto" | "webgpu", { measureSoftware: config.gpuSoftware === "measure" })
    : cpu;
}

/**
 * Everything below the routes, built for `config`: log settings, the image registry, the codec tier, the
 * pixel-cache budget, the backend, metrics, the tile cache and the statistics; and how to release them.
 */
export function createAppContext(config: Config): { context: AppContext; close(): Promise<void> } {
  configureLog(config.logLevel, config.logFormat);
  // This thread's runtime. The codec tier is decided here, once, before the workers start: they are told
  // this choice. One pixel-cache budget for the process: this thread is 0, the workers join it as they start.
  const budget = SharedBudget.create(config.pixelCacheBytes);
  const runtime = createRuntime({
    codecs: chooseCodec(config.codecs),
    budget: { budget, thread: 0 },
    caches: config.caches,
  });
  const codecs = runtime.codecStatus;
  // Sources open once per thread that reads them: the inline backend reads them on this thread (the registry
  // shares its open sources); beside workers, this thread opens each version once for its info.
  const inline = config.backend === "inline" || !workersAvailable();
  const sources = new SourceCache(runtime, 64, inline);
  const registry = new ImageRegistry(config.imagesDir, config.maxPixels, sources, {
    policy: {
      allowedOrigins: config.allowedOrigins,
      timeoutMs: config.remoteTimeoutMs,
      maxBytes: config.remoteMaxBytes,
    },
    prefixes: config.sourcePrefixes,
    revalidateSeconds: config.remoteRevalidateSeconds,
    dicomweb: config.dicomweb,
    s3: config.s3,
    azure: config.azure,
  });
  const backend = createBackend(config, undefined, undefined, runtime, sources);
  const metrics = new Metrics();
  if (backend instanceof WebGpuBackend) metrics.watchGpu(() => backend.report());
  const cache = new TileCache({
    kvPath: config.kvPath === "off" ? null : config.kvPath,
    ...(config.cacheUrl ? { cacheUrl: config.cacheUrl, cachePrefix: config.cachePrefix } : {}),
    memoryBytes: config.memoryCacheBytes,
    ttlSeconds: config.cacheTtl,
    metrics,
  });
  metrics.codecTier.set({ tier: codecs.tier }, 1);
  const stats = new StatsService(backend, cache, codecs.tier, config.caches);
  metrics.watchMemory(budget);
  const cpu = backend instanceof WebGpuBackend ? backend.cpu : backend;
  const context: AppContext = {
    config,
    registry,
    backend,
    cache,
    metrics,
    stats,
    codecs,
    pixelBudget: budget,
    exportWindows: new WindowShares(),
    ...(cpu instanceof WorkerPool ? { largeWork: cpu.large, storedTiles: new StoredTiles(runtime, cpu.name) } : {}),
  };
  const stored = context.storedTiles;
  if (stored) metrics.watchStoredTiles(() => stored);
  const stopProcessMetrics = watchProcess(metrics.registry, {
    workerRestarts: () => cpu instanceof WorkerPool ? cpu.restarts : 0,
    workerAbandonKills: () => cpu instanceof WorkerPool ? cpu.abandonKills : 0,
    workerMemory: () => cpu instanceof WorkerPool ? cpu.workerMemory() : [],
    largeWork: () =>
      cpu instanceof WorkerPool
        ? { inFlightBytes: cpu.large.inFlight, shed: cpu.large.shed, recycles: cpu.recycles }
        : { inFlightBytes: 0, shed: 0, recycles: 0 },
  });
  return {
    context,
    close: async () => {
      stopProcessMetrics();
      await backend.close();
      await context.storedTiles?.close();
      await registry.close();
      await cache.close();
    },
  };
}

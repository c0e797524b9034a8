/**
 * Prometheus metrics (prom-client, one registry per service): cache hits and misses, KV errors, pipeline
 * runs, queue depth, backend, memory, connections, GPU. HTTP metrics: telemetry/http.ts; process and
 * build: telemetry/process_metrics.ts.
 */
import { log } from "./log.ts";
import { Counter, Gauge, Registry } from "prom-client";

/** The service's metrics. */
export class Metrics {
  readonly registry = new Registry();
  readonly cacheHits = new Counter({
    name: "edgetile_cache_hits_total",
    help: "Tile cache hits, by layer (memory, kv)",
    labelNames: ["layer"],
    registers: [this.registry],
  });
  readonly cacheMisses = new Counter({
    name: "edgetile_cache_misses_total",
    help: "Tile cache misses",
    registers: [this.registry],
  });
  readonly cacheBypass = new Counter({
    name: "edgetile_cache_bypass_total",
    help: "Requests that bypassed (cache=false) or refreshed (cache=refresh) the cache",
    labelNames: ["mode"],
    registers: [this.registry],
  });
  readonly cacheBytesServed = new Counter({
    name: "edgetile_cache_hit_bytes_total",
    help: "Bytes served from the cache",
    registers: [this.registry],
  });
  readonly cacheStores = new Counter({
    name: "edgetile_cache_stores_total",
    help: "Tiles written to Deno KV, by result (stored, too_large)",
    labelNames: ["result"],
    registers: [this.registry],
  });
  readonly cacheCorrupt = new Counter({
    name: "edgetile_cache_corrupt_total",
    help: "Cache entries found corrupt (treated as misses and overwritten)",
    registers: [this.registry],
  });
  readonly kvErrors = new Counter({
    name: "edgetile_kv_errors_total",
    help: "Deno KV failures, by operation (open, get, set)",
    labelNames: ["op"],
    registers: [this.registry],
  });
  readonly codecTier = new Gauge({
    name: "edgetile_codec_tier",
    help: "The JPEG codec tier in use (1 for the tier that runs: native or wasm)",
    labelNames: ["tier"],
    registers: [this.registry],
  });
  readonly pipelineRuns = new Counter({
    name: "edgetile_pipeline_runs_total",
    help: "Tiles computed by the pipeline (cache misses, bypasses, refreshes)",
    registers: [this.registry],
  });
  readonly patches = new Counter({
    name: "edgetile_patches_total",
    help: "Patches sent by patch exports (tar and ndjson)",
    registers: [this.registry],
  });
  readonly exportFailures = new Counter({
    name: "edgetile_export_failures_total",
    help: "Patch exports ended as failed transfers after their first byte (no closing tar blocks), by error code",
    labelNames: ["code"],
    registers: [this.registry],
  });
  readonly internalErrors = new Counter({
    name: "edgetile_internal_errors_total",
    help: "Requests answered 500 internal: an unexpected error (a bug), logged with its stack",
    registers: [this.registry],
  });
  readonly memoryBytes = new Gauge({
    name: "edgetile_memory_cache_bytes",
    help: "Bytes held by the in-memory tile cache",
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: "edgetile_backend_queue_depth",
    help: "Jobs waiting or running on the compute backend",
    registers: [this.registry],
  });
  readonly backend = new Gauge({
    name: "edgetile_backend_info",
    help: "The compute backend in use (value 1)",
    labelNames: ["backend"],
    registers: [this.registry],
  });

  /** Exposes the process's memory: resident set, and the shared pixel-cache budget's use and bound. */
  watchMemory(budget: { readonly usedBytes: number; readonly limitBytes: number }): void {
    const gauge = (name: string, help: string, value: () => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(value());
        },
      });
    gauge("edgetile_process_rss_bytes", "Resident memory of the process, all threads", () => Deno.memoryUsage().rss);
    gauge(
      "edgetile_pixel_cache_bytes",
      "Decoded pixels cached, all threads (EDGETILE_PIXEL_CACHE_MB)",
      () => budget.usedBytes,
    );
    gauge("edgetile_pixel_cache_limit_bytes", "The pixel-cache budget", () => budget.limitBytes);
  }

  /** Exposes the connection guard's counters (open connections, and those closed by each deadline). */
  watchConnections(stats: ConnectionCounters): void {
    const r = this.registry;
    new Gauge({
      name: "edgetile_connections_open",
      help: "Client connections open (connection guard)",
      registers: [r],
      collect() {
        this.set(stats.open);
      },
    });
    observedCounter(r, "edgetile_connections_total", "Client connections accepted", () => stats.accepted);
    new Counter({
      name: "edgetile_connections_closed_total",
      help: "Client connections closed by a deadline: head (slowloris), write (a client not reading), idle",
      labelNames: ["reason"],
      registers: [r],
      collect() {
        this.reset();
        this.inc({ reason: "head" }, stats.closedHeader);
        this.inc({ reason: "write" }, stats.closedWrite);
        this.inc({ reason: "idle" }, stats.closedIdle);
      },
    });
  }

  /** Exposes the router's stored-tile reads (service/stored_tiles.ts): tiles read, and slow-disk pauses. */
  watchStoredTiles(read: () => { read: number; pauses: number }): void {
    const r = this.registry;
    observedCounter(
      r,
      "edgetile_stored_tile_reads_total",
      "Stored JPEG tiles passed through, read on the router",
      () => read().read,
    );
    observedCounter(
      r,
      "edgetile_stored_tile_pauses_total",
      "Times slow reads sent stored tiles to the workers for a while",
      () => read().pauses,
    );
  }

  /** Exposes the WebGPU backend's counters (jobs, submissions, fallbacks, failures, device recreations). */
  watchGpu(read: GpuCountersSource): void {
    const r = this.registry;
    observedCounter(r, "edgetile_gpu_jobs_total", "Op kernels run on the GPU", () => read().jobs);
    observedCounter(r, "edgetile_gpu_submissions_total", "GPU command submissions (batches)", () => read().submissions);
    observedCounter(
      r,
      "edgetile_gpu_fallbacks_total",
      "GPU jobs rerun on the CPU after a GPU failure",
      () => read().fallbacks,
    );
    observedCounter(r, "edgetile_gpu_failures_total", "GPU failures (errors, device losses)", () => read().failures);
    observedCounter(
      r,
      "edgetile_gpu_device_recreations_total",
      "GPU devices recreated after a failure",
      () => read().deviceRecreations,
    );
  }
}

/** What the connection guard counts (security/conn_guard.ts's `ConnGuardStats`). */
export interface ConnectionCounters {
  accepted: number;
  open: number;
  closedHeader: number;
  closedWrite: number;
  closedIdle: number;
}

/** GPU counters the WebGPU backend reports (read at scrape time). */
export interface GpuCountersSource {
  (): { jobs: number; submissions: number; fallbacks: number; failures: number; deviceRecreations: number };
}

/** A counter whose value is read from `value()` when scraped. */
export function observedCounter(registry: Registry, name: string, help: string, value: () => number): Counter {
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(value());
    },
  });
}

/** A logger that says a given thing at most once per `intervalMs`. */
export function throttledLog(intervalMs = 60_000): (key: string, message: string) => void {
  const last = new Map<string, number>();
  return (key, message) => {
    const now = Date.now();
    if ((last.get(key) ?? -Infinity) + intervalMs > now) return;
    last.set(key, now);
    log().warn(message);
  };
}

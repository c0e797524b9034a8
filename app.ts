/**
 * The HTTP application: Hono with one route module per protocol, CORS, and JSON errors. Building it is
 * separate from serving it, so tests and `deno serve` use the same app.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { Metrics } from "./telemetry/metrics.ts";
import { constantTimeEqual, verifyUrl } from "./security/signing.ts";
import { TileCache } from "./cache/tile_cache.ts";
import type { Config } from "./config.ts";
import { HttpError, notFound, toHttpError } from "./errors.ts";
import { ImageRegistry } from "./sources/registry.ts";
import { InlineBackend, type TileBackend } from "./workers/backend.ts";
import { WorkerPool, workersAvailable } from "./workers/pool.ts";
import { WebGpuBackend, webGpuExposed } from "./gpu/backend.ts";
import { joinProcessBudget, SharedBudget } from "./cache/budget.ts";
import { setWorkController } from "./pipeline/abort.ts";
import type { AppContext } from "./routes/context.ts";
import { dziRoutes } from "./routes/dzi.ts";
import { xyzRoutes } from "./routes/xyz.ts";
import { thumbnailRoutes } from "./routes/thumbnail.ts";
import { imageRoutes } from "./routes/images.ts";
import { healthRoutes } from "./routes/health.ts";
import { statsRoutes } from "./routes/stats.ts";
import { iiifRoutes } from "./routes/iiif.ts";
import { patchRoutes } from "./routes/patches.ts";
import { viewerRoutes } from "./routes/viewer.ts";
import { StatsService } from "./stats/service.ts";
import { codecStatus, initCodecs } from "./codecs/tier.ts";
import { configureLog, errorText, log } from "./telemetry/log.ts";
import { httpMetrics, httpTelemetry } from "./telemetry/http.ts";
import { watchProcess } from "./telemetry/process_metrics.ts";

/** A built service: its fetch handler and a way to release workers and files. */
export interface Service {
  app: Hono;
  context: AppContext;
  close(): Promise<void>;
}

/**
 * The backend named by the configuration. CPU work runs on workers where `Worker` exists, else inline (as
 * on Deno Deploy). `webgpu` and `auto` (where the runtime exposes WebGPU) add the GPU for ops: `auto`
 * measures it against the CPU backend at start-up and keeps the faster. `hasWorker` and `hasGpu` are the
 * runtime's answers, injectable for tests.
 */
export function createBackend(
  config: Config,
  hasWorker = workersAvailable(),
  hasGpu = webGpuExposed(),
  budget?: SharedBudget,
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
      codecs: codecStatus().tier,
      budget,
    })
    : new InlineBackend();
  const gpu = config.backend === "webgpu" || (config.backend === "auto" && hasGpu);
  return gpu
    ? new WebGpuBackend(cpu, config.backend as "auto" | "webgpu", { measureSoftware: config.gpuSoftware === "measure" })
    : cpu;
}

/** Builds the service for `config`. */
export function createService(config: Config): Service {
  configureLog(config.logLevel, config.logFormat);
  const registry = new ImageRegistry(config.imagesDir, config.maxPixels, undefined, {
    policy: {
      allowedOrigins: config.allowedOrigins,
      timeoutMs: config.remoteTimeoutMs,
      maxBytes: config.remoteMaxBytes,
    },
    prefixes: config.sourcePrefixes,
    revalidateSeconds: config.remoteRevalidateSeconds,
  });
  // The codec tier is decided here, once, before the workers start: they are told this choice.
  const codecs = initCodecs(config.codecs);
  // One pixel-cache budget for the process: this thread is 0, the workers join it as they start.
  const budget = SharedBudget.create(config.pixelCacheBytes);
  joinProcessBudget(budget, 0);
  const backend = createBackend(config, undefined, undefined, budget);
  const metrics = new Metrics();
  if (backend instanceof WebGpuBackend) metrics.watchGpu(() => backend.report());
  const cache = new TileCache({
    kvPath: config.kvPath === "off" ? null : config.kvPath,
    memoryBytes: config.memoryCacheBytes,
    ttlSeconds: config.cacheTtl,
    metrics,
  });
  metrics.codecTier.set({ tier: codecs.tier }, 1);
  const stats = new StatsService(backend, cache, codecs.tier);
  metrics.watchMemory(budget);
  const context: AppContext = { config, registry, backend, cache, metrics, stats, codecs, pixelBudget: budget };
  const cpu = backend instanceof WebGpuBackend ? backend.cpu : backend;
  const stopProcessMetrics = watchProcess(metrics.registry, {
    workerRestarts: () => cpu instanceof WorkerPool ? cpu.restarts : 0,
  });
  const app = new Hono();
  app.use("*", httpTelemetry({ metrics: httpMetrics(metrics.registry), codecs: codecs.tier }));
  app.use("*", limits(config.timeoutMs));
  app.use("*", access(config));
  app.use(
    "*",
    cors({
      origin: "*",
      exposeHeaders: [
        "X-Op",
        "X-Backend",
        "X-Cache",
        "Server-Timing",
        "ETag",
        "Link",
        "X-Quant-Scale",
        "X-Quant-Zero-Point",
        "X-Quant-SQNR",
      ],
    }),
  );
  app.get("/metrics", async (c) => {
    metrics.queueDepth.set(backend.pending);
    metrics.backend.reset();
    metrics.backend.set({ backend: backend.name }, 1);
    return c.text(await metrics.registry.metrics(), 200, { "Content-Type": metrics.registry.contentType });
  });
  app.route("/", healthRoutes(context));
  app.route("/", statsRoutes(context));
  app.route("/", patchRoutes(context));
  app.route("/", imageRoutes(context));
  app.route("/", dziRoutes(context));
  app.route("/", xyzRoutes(context));
  app.route("/", thumbnailRoutes(context));
  app.route("/", iiifRoutes(context));
  app.route("/", viewerRoutes());
  app.notFound(() => errorResponse(notFound("no such route")));
  app.onError((err) => {
    const e = toHttpError(err);
    if (!(err instanceof HttpError)) log().error("unexpected error", { error: errorText(err) });
    return errorResponse(e);
  });
  return {
    app,
    context,
    close: async () => {
      stopProcessMetrics();
      await backend.close();
      await registry.close();
      await cache.close();
    },
  };
}

/** Longest request URL accepted (414 past it). */
export const MAX_URL_LENGTH = 4096;

/** Request limits: URL length (414) and time (504, the work itself is abandoned, not awaited). */
function limits(timeoutMs: number): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.url.length > MAX_URL_LENGTH) {
      return errorResponse(new HttpError(414, "uri_too_long", `the URL is longer than ${MAX_URL_LENGTH} characters`));
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
    // The work of this request stops being wanted when its time is up (or its client leaves: abort.ts).
    const work = new AbortController();
    setWorkController(c.req.raw, work);
    try {
      const done = await Promise.race([next().then(() => "done" as const), timedOut]);
      if (done === "timeout") {
        work.abort();
        c.res = errorResponse(new HttpError(504, "timeout", `the request took longer than ${timeoutMs} ms`));
      }
    } finally {
      clearTimeout(timer);
    }
  };
}

/** Routes open without a signature: the viewer, its files, liveness, readiness and metrics. */
const UNSIGNED = /^\/(?:$|viewer\/|vendor\/|favicon\.ico$|health$|ready$|metrics$)/;

/**
 * Access rules: with SIGNING_KEY set, image URLs need a valid signature (security/signing.ts); admin-only
 * options (`cache=false|refresh`) need the admin token or a signature that covers them.
 */
function access(config: Config): MiddlewareHandler {
  return async (c, next) => {
    const url = new URL(c.req.url);
    let signed = false;
    if (config.signingKeys.length && !UNSIGNED.test(url.pathname)) {
      const why = await verifyUrl(url, config.signingKeys);
      if (why) return errorResponse(new HttpError(403, "forbidden", why));
      signed = true;
    }
    const cache = url.searchParams.get("cache");
    if (cache === "false" || cache === "refresh") {
      const auth = c.req.header("Authorization") ?? "";
      const admin = config.adminToken !== "" && constantTimeEqual(auth, `Bearer ${config.adminToken}`);
      if (!admin && !signed) {
        return errorResponse(new HttpError(403, "forbidden", `cache=${cache} needs the admin token or a signed URL`));
      }
    }
    await next();
  };
}

/** The JSON error response for `e`. */
export function errorResponse(e: HttpError): Response {
  const headers: Record<string, string> = { "Content-Type": "application/json; charset=utf-8" };
  if (e.status === 503 || e.status === 429) headers["Retry-After"] = "1";
  return new Response(JSON.stringify(e.toJSON()), { status: e.status, headers });
}

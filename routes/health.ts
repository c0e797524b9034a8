/**
 * `GET /health`: liveness, the version (deno.json's), the backend in use and its load, and the WebGPU backend's start-up choice with
 * its measurements. `GET /ready`: 200 when the service can serve as it should, 503 with the reasons while
 * it cannot (WebGPU warm-up in progress, BACKEND=webgpu without a usable GPU, workers restarting after a
 * crash or hang in the last 10 s); `degraded` lists what works but less well (the KV cache unavailable,
 * failing in the last minute, or its file deleted while open). `GET /metrics`: Prometheus text.
 */
import type { Context } from "hono";
import type { AppContext } from "../service/context.ts";
import { WorkerPool } from "../workers/pool.ts";
import { WebGpuBackend } from "../gpu/backend.ts";
import { VERSION } from "../telemetry/process_metrics.ts";
import { redactPaths } from "../security/redact.ts";

/** The backend's parts /health and /ready report on: the WebGPU backend, if any, and the worker pool. */
function backendParts(ctx: AppContext) {
  const gpu = ctx.backend instanceof WebGpuBackend ? ctx.backend : null;
  const cpu = gpu ? gpu.cpu : ctx.backend;
  return { gpu, pool: cpu instanceof WorkerPool ? cpu : null };
}

/** The process's RSS, read at most once a second: `Deno.memoryUsage()` walks V8's heaps (a profile: most of a /health). */
const rss = { bytes: 0, at: -Infinity };
function rssBytes(): number {
  const now = performance.now();
  if (now - rss.at > 1000) [rss.bytes, rss.at] = [Deno.memoryUsage().rss, now];
  return rss.bytes;
}

/** The codec status without filesystem paths, per status object (it is made once per process). */
const redactedCodecs = new WeakMap<object, unknown>();

/** `/health`. Open to anyone: no filesystem path in the answer (the native library's, the KV file's). */
export function health(ctx: AppContext, c: Context): Response {
  return c.json(healthBody(ctx));
}

/** The body of `/health` (also answered by the fast path, service/fast_hits.ts). */
export function healthBody(ctx: AppContext): Record<string, unknown> {
  const { gpu, pool } = backendParts(ctx);
  let codecs = redactedCodecs.get(ctx.codecs);
  if (!codecs) redactedCodecs.set(ctx.codecs, codecs = redactPaths(ctx.codecs));
  return {
    status: "ok",
    version: VERSION,
    backend: ctx.backend.name,
    workers: pool ? pool.size : 0,
    pending: ctx.backend.pending,
    codecs,
    memory: {
      rssBytes: rssBytes(),
      pixelCacheBytes: ctx.pixelBudget.usedBytes,
      pixelCacheLimitBytes: ctx.pixelBudget.limitBytes,
    },
    ...(gpu ? { gpu: redactPaths(gpu.report()) } : {}),
  };
}

/** `/ready`. */
export async function ready(ctx: AppContext, c: Context): Promise<Response> {
  const { gpu, pool } = backendParts(ctx);
  const notReady: string[] = [], degraded: string[] = [];
  if (gpu) {
    const r = gpu.report();
    if (r.state === "starting") notReady.push(`WebGPU warm-up: ${r.pipelinesCompiled}/${r.pipelinesTotal} pipelines`);
    if (r.state === "measuring") notReady.push("WebGPU warm-up: measuring webgpu against the workers");
    if (r.state === "unavailable" && r.requested === "webgpu") notReady.push(`EDGETILE_BACKEND=webgpu: ${r.reason}`);
  }
  if (pool && pool.lastRestart > Date.now() - 10_000) notReady.push("a worker was replaced in the last 10 s");
  if ((await ctx.cache.store) === null && ctx.config.kvPath !== "off") {
    degraded.push("KV cache unavailable: tiles are served uncached");
  } else degraded.push(...ctx.cache.kvProblems());
  const body = {
    status: notReady.length ? "not_ready" : degraded.length ? "degraded" : "ready",
    notReady,
    degraded,
    backend: ctx.backend.name,
    cache: await ctx.cache.engineStatus(),
    workerRestarts: pool?.restarts ?? 0,
    ...(gpu ? { gpu: gpu.report() } : {}),
  };
  return c.json(redactPaths(body), notReady.length ? 503 : 200, notReady.length ? { "Retry-After": "5" } : {});
}

/** `/metrics`: Prometheus text. */
export async function metricsText(ctx: AppContext, c: Context): Promise<Response> {
  const { metrics, backend } = ctx;
  metrics.queueDepth.set(backend.pending);
  metrics.backend.reset();
  metrics.backend.set({ backend: backend.name }, 1);
  return c.text(await metrics.registry.metrics(), 200, { "Content-Type": metrics.registry.contentType });
}

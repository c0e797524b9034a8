/**
 * `GET /health`: liveness, the backend in use and its load. `GET /ready`: 200 when the service can serve
 * as it should, 503 with the reasons while it cannot (workers restarting after a crash or hang in the
 * last 10 s); `degraded` lists what works but less well (the KV cache unavailable).
 */
import { Hono } from "hono";
import type { AppContext } from "./context.ts";
import { WorkerPool } from "../workers/pool.ts";

/** Health route. */
export function healthRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  app.get("/health", (c) =>
    c.json({
      status: "ok",
      backend: ctx.backend.name,
      workers: ctx.backend.name === "workers" ? ctx.config.workers : 0,
      pending: ctx.backend.pending,
    }));
  app.get("/ready", async (c) => {
    const notReady: string[] = [], degraded: string[] = [];
    const pool = ctx.backend instanceof WorkerPool ? ctx.backend : null;
    if (pool && pool.lastRestart > Date.now() - 10_000) notReady.push("a worker was replaced in the last 10 s");
    if ((await ctx.cache.store) === null && ctx.config.kvPath !== "off") {
      degraded.push("KV cache unavailable: tiles are served uncached");
    }
    const body = {
      status: notReady.length ? "not_ready" : degraded.length ? "degraded" : "ready",
      notReady,
      degraded,
      backend: ctx.backend.name,
      workerRestarts: pool?.restarts ?? 0,
    };
    return c.json(body, notReady.length ? 503 : 200, notReady.length ? { "Retry-After": "5" } : {});
  });
  return app;
}

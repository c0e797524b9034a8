/** `GET /health`: liveness, the backend in use and its load. */
import { Hono } from "hono";
import type { AppContext } from "./context.ts";

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
  return app;
}

/**
 * The HTTP application: Hono with the middleware every request passes (telemetry, the Host guard, CORS,
 * limits, access rules), then the one route table (routes/table.ts), and JSON errors. Building it is
 * separate from serving it, so tests and `deno serve` use the same app.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { constantTimeEqual, verifyUrl } from "./security/signing.ts";
import { corsHeaders, corsPairs } from "./security/cors.ts";
import { hostGuard } from "./security/host.ts";
import type { Config } from "./config.ts";
import { HttpError, notFound, toHttpError } from "./errors.ts";
import { setWorkController } from "./pipeline/abort.ts";
import type { AppContext } from "./service/context.ts";
import { dispatch } from "./routes/table.ts";
import { errorText, log } from "./telemetry/log.ts";
import { createAppContext } from "./service/build.ts";
import { httpMetrics, httpTelemetry } from "./telemetry/http.ts";
import { FastHits } from "./service/fast_hits.ts";
import { healthBody } from "./routes/health.ts";
import type { Front } from "./security/conn_guard.ts";
import { frontRequest } from "./security/front_http.ts";

/** `completed` of a request the front serves in-process (nothing waits on it; the guard ends the connection). */
const DONE = Promise.resolve();

/** A built service: its fetch handler and a way to release workers and files. */
export interface Service {
  app: Hono;
  /** The handler to serve: the fast path of a repeated tile (service/fast_hits.ts), else the app. */
  fetch(req: Request, info?: unknown): Promise<Response>;
  fast: FastHits;
  /**
   * The connection guard's front (server.ts): repeated tiles and `/health` from `fast`; any other plain
   * `GET` answered by the app in-process, with no relay to the HTTP server (security/front_http.ts).
   */
  front: Front;
  context: AppContext;
  close(): Promise<void>;
}

/** Builds the service for `config`. */
export function createService(config: Config): Service {
  const { context, close } = createAppContext(config);
  const { metrics, codecs } = context;
  const app = new Hono();
  const telemetry = { metrics: httpMetrics(metrics.registry), codecs: codecs.tier, trustProxy: config.trustProxy };
  app.use("*", httpTelemetry(telemetry));
  // Before anything reads the URL that Deno built from the Host header.
  app.use("*", hostGuard((req) => app.fetch(req), errorResponse));
  // Outside the limits and access rules, so their 403, 414 and 504 answers carry CORS headers too (a viewer's
  // script can read why), and a preflight is answered before them.
  app.use("*", corsHeaders(EXPOSED));
  app.use("*", limits(config.timeoutMs));
  app.use("*", access(config));
  // Every URL in one table (routes/table.ts), dispatched once.
  app.get("*", dispatch(context));
  app.notFound(() => errorResponse(notFound("no such route")));
  // One error policy: HttpErrors are answered as they are (readers raise 422 corrupt_source themselves);
  // anything else is a bug, logged with its stack here (or by the worker it happened in), answered as a
  // JSON 500 `internal` without the stack, and counted.
  const answerError = (err: unknown) => {
    const e = toHttpError(err);
    if (!(err instanceof HttpError)) log().error("unexpected error", { error: errorText(err) });
    if (e.code === "internal") metrics.internalErrors.inc();
    return errorResponse(e);
  };
  app.onError(answerError);
  const fast = new FastHits(context, telemetry, () => healthBody(context), corsPairs(EXPOSED));
  const full = async (req: Request, info?: unknown) => {
    const res = await app.fetch(req, info);
    fast.remember(req, res);
    return res;
  };
  const fetch = async (req: Request, info?: unknown) => fast.answer(req, info) ?? await full(req, info);
  const front: Front = {
    wants: (target) => fast.wants(target),
    answer: (req) => fast.answerFront(req),
    // What `answer` left (it found no remembered tile): the app, given the Request the HTTP server would make.
    serve: (r, signal) => {
      const req = frontRequest(r.target, r.headers, signal);
      // The same error policy as the app's (an answer that failed outside it is a JSON 500, not a reset).
      return req && full(req, { remoteAddr: r.client, completed: DONE }).catch(answerError);
    },
  };
  return { app, fetch, fast, front, context, close };
}

/** The response headers a viewer's script may read (CORS). */
const EXPOSED = [
  "X-Op",
  "X-Backend",
  "X-Cache",
  "Server-Timing",
  "ETag",
  "Link",
  "X-Quant-Scale",
  "X-Quant-Zero-Point",
  "X-Quant-SQNR",
  "X-Render",
  "X-Patch-Count",
  "X-Shard-Count",
  "Deprecation",
  "Warning",
];

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

/**
 * Per-request telemetry, the outermost middleware: the access log line (method, path, status, bytes, ms,
 * cache, backend, codec tier), the `edgetile_http_*` metrics by method, route and status, and a real
 * `Content-Length` on every buffered response (so `HEAD` answers it too: Hono runs GET and drops the body).
 * A streamed response (marked with `streamed()`) is counted as its bytes go out and logged when it ends
 * or its client leaves.
 */
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { log } from "./log.ts";

/** Internal header marking a streamed body; removed before the response leaves. */
const STREAM_MARK = "x-edgetile-streamed";

/** Response headers for a streamed body (no length known in advance), to pass to `new Response`. */
export function streamed(headers: Record<string, string>): Record<string, string> {
  return { ...headers, [STREAM_MARK]: "1" };
}

/** The HTTP metrics, registered on `registry`. */
export function httpMetrics(registry: Registry) {
  const labelNames = ["method", "route", "status"] as const;
  return {
    requests: new Counter({
      name: "edgetile_http_requests_total",
      help: "HTTP requests answered, by method, route pattern and status",
      labelNames,
      registers: [registry],
    }),
    duration: new Histogram({
      name: "edgetile_http_request_duration_seconds",
      help: "Time to the response head, by method, route pattern and status (streamed bodies: to their end)",
      labelNames,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    bytes: new Counter({
      name: "edgetile_http_response_bytes_total",
      help: "Response body bytes sent, by route pattern",
      labelNames: ["route"],
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: "edgetile_http_requests_in_flight",
      help: "Requests being answered (streamed bodies until their end)",
      registers: [registry],
    }),
  };
}

/** What the middleware needs besides the request. */
export interface HttpTelemetryOptions {
  metrics: ReturnType<typeof httpMetrics>;
  /** The JPEG codec tier of the process, logged with each request. */
  codecs: string;
  /** `TRUST_PROXY`: the client is the one the proxy names (`Forwarded: for=`, `X-Forwarded-For`). */
  trustProxy?: boolean;
}

/** Where a request's headers are read from: a `Headers`, or the connection guard's front's list. */
export type HeaderLookup = Pick<Headers, "get">;

/** The first client a proxy names: `Forwarded`'s first `for=`, else `X-Forwarded-For`'s first address. */
export function forwardedFor(headers: HeaderLookup): string | undefined {
  const fwd = /(?:^|[;,\s])for=("(?:[^"\\]|\\.)*"|[^;,\s]+)/i.exec(headers.get("forwarded") ?? "")?.[1];
  const raw = fwd?.replace(/^"|"$/g, "") ?? headers.get("x-forwarded-for")?.split(",")[0].trim();
  if (!raw) return undefined;
  // [v6]:port and v4:port name the address; "unknown" and obfuscated ids (_x) are kept as they are.
  return /^\[([^\]]+)\]/.exec(raw)?.[1] ?? raw.replace(/^(\d+\.\d+\.\d+\.\d+):\d+$/, "$1");
}

/** The client of a request: the proxy's word under `trustProxy`, else the connection's peer (`info`). */
export function clientOf(headers: HeaderLookup, info: unknown, trustProxy: boolean): string {
  const fromProxy = trustProxy ? forwardedFor(headers) : undefined;
  const peer = (info as { remoteAddr?: { hostname?: string } } | undefined)?.remoteAddr?.hostname;
  return fromProxy ?? peer ?? "";
}

/** One answered request, as the metrics and the access log take it (client and agent read only if logged). */
export interface Answered {
  method: string;
  url: string;
  route: string;
  status: number;
  bytes: number;
  ms: number;
  cache: string;
  backend: string;
  outcome?: string;
  client: () => string;
  ua: () => string;
}

/**
 * Counts `a` in the `edgetile_http_*` metrics and writes its access log line (where info lines are on);
 * `inFlight`: the request was counted in flight (the middleware's), so it leaves now.
 */
export function record(opts: HttpTelemetryOptions, a: Answered, inFlight: boolean): void {
  const { metrics } = opts;
  if (inFlight) metrics.inFlight.dec();
  const series = seriesOf(metrics, a.method, a.route, a.status);
  series.requests.inc();
  series.duration.observe(a.ms / 1000);
  series.bytes.inc(a.bytes);
  if (!log().enabled("info")) return; // no line to write: build none
  const at = a.url.indexOf("/", a.url.indexOf("//") + 2);
  log().access({
    method: a.method,
    path: at < 0 ? "/" : a.url.slice(at),
    status: a.status,
    bytes: a.bytes,
    ms: Math.round(a.ms * 10) / 10,
    cache: a.cache,
    backend: a.backend,
    codecs: opts.codecs,
    route: a.route,
    outcome: a.outcome,
    client: a.client(),
    ua: a.ua(),
  });
}

/** Each metric's child for one (method, route, status): bound once, then updated without label hashing. */
interface Series {
  requests: { inc(n?: number): void };
  duration: { observe(v: number): void };
  bytes: { inc(n?: number): void };
}
const bound = new WeakMap<object, Map<string, Series>>();

/** The bound children of `metrics` for one (method, route, status) (few: routes are patterns). */
function seriesOf(metrics: ReturnType<typeof httpMetrics>, method: string, route: string, status: number): Series {
  let all = bound.get(metrics);
  if (!all) bound.set(metrics, all = new Map());
  const key = `${method} ${route} ${status}`;
  let s = all.get(key);
  if (!s) {
    const labels = { method, route, status: String(status) };
    all.set(
      key,
      s = {
        requests: metrics.requests.labels(labels),
        duration: metrics.duration.labels(labels),
        bytes: metrics.bytes.labels({ route }),
      },
    );
  }
  return s;
}

/** The route label `labelRoute` gave `req`, if any. */
export function routeLabelOf(req: Request): string | undefined {
  return routeLabels.get(req);
}

/** The route label of each request a route table answered (routes/table.ts names its patterns). */
const routeLabels = new WeakMap<Request, string>();

/** Names the route pattern that answers `req` (`/dzi/*`): its label in the access log and the metrics. */
export function labelRoute(req: Request, label: string): void {
  routeLabels.set(req, label);
}

/** The route pattern that answered (`/dzi/*`), bounded in number, for labels. */
function routeOf(c: Parameters<MiddlewareHandler>[0], status: number): string {
  const route = routeLabels.get(c.req.raw) ?? routePath(c);
  return status === 404 && (route === "*" || route === "/*" || route === "") ? "unmatched" : route || "unmatched";
}

/** The telemetry middleware. */
export function httpTelemetry(opts: HttpTelemetryOptions): MiddlewareHandler {
  return async (c, next) => {
    const t0 = performance.now();
    opts.metrics.inFlight.inc();
    let settled = false;
    const finish = (status: number, route: string, bytes: number, outcome?: string) => {
      if (settled) return;
      settled = true;
      record(opts, {
        method: c.req.method,
        url: c.req.url,
        route,
        status,
        bytes,
        ms: performance.now() - t0,
        cache: c.res.headers.get("x-cache") ?? "",
        backend: c.res.headers.get("x-backend") ?? "",
        outcome,
        client: () => clientOf(c.req.raw.headers, c.env, !!opts.trustProxy),
        ua: () => c.req.header("user-agent") ?? "",
      }, true);
    };
    try {
      await next();
    } catch (err) {
      finish(500, routeOf(c, 500), 0, "error");
      throw err;
    }
    const res = c.res;
    const route = routeOf(c, res.status);
    if (res.headers.has(STREAM_MARK)) {
      res.headers.delete(STREAM_MARK);
      // HEAD: Hono drops the body unread, so the stream (an export already computing its first patch) would
      // hang on for ever, and the request never end. Cancel it: the work stops, the request is done.
      if (c.req.method === "HEAD") await res.body?.cancel();
      if (!res.body || c.req.method === "HEAD") return finish(res.status, route, 0);
      c.res = undefined as unknown as Response; // replace, not merge (Hono's setter merges headers)
      c.res = new Response(countBytes(res.body, (bytes, outcome) => finish(res.status, route, bytes, outcome)), res);
      return;
    }
    // A length the route set (tiles): trusted, nothing to copy.
    const length = res.headers.get("content-length");
    if (length !== null) return finish(res.status, route, c.req.method === "HEAD" ? 0 : Number(length));
    // Buffered: its exact length, as a header (HEAD keeps it; Deno would send 0).
    const bytes = res.body ? new Uint8Array(await res.arrayBuffer()) : null;
    const headers = new Headers(res.headers);
    if (bytes) headers.set("Content-Length", String(bytes.byteLength));
    c.res = undefined as unknown as Response;
    c.res = new Response(bytes, { status: res.status, statusText: res.statusText, headers });
    finish(res.status, route, c.req.method === "HEAD" ? 0 : bytes?.byteLength ?? 0);
  };
}

/** `body` passed through, its bytes counted; `done` once, at its end, error or cancel. */
function countBytes(
  body: ReadableStream<Uint8Array>,
  done: (bytes: number, outcome?: string) => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let bytes = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const r = await reader.read();
        if (r.done) {
          controller.close();
          done(bytes);
        } else {
          bytes += r.value.byteLength;
          controller.enqueue(r.value);
        }
      } catch (err) {
        done(bytes, "error");
        controller.error(err);
      }
    },
    cancel(reason) {
      done(bytes, "client-gone");
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * The fast path of a repeated tile request: the URL of a tile answered `200` through the full path (a local
 * file, default cache mode, no signing) is remembered with its tile's key, its file version and its final
 * headers; the next `GET` of that exact URL is answered from the memory cache without the middleware chain
 * and the route — after the same version check every request gets (`registry.versionNow`: a changed file
 * falls through to the full path, never a stale tile) — and counted and logged as any request. Conditional
 * requests, `HEAD`, `Authorization`, a malformed `Host` and anything not remembered take the full path.
 * A plain `GET /health` is answered here as well (the same body and headers as its route's).
 */
import type { AppContext } from "./context.ts";
import { LruCache } from "../core/lru.ts";
import { clientOf, type HttpTelemetryOptions, record, routeLabelOf } from "../telemetry/http.ts";
import { validHost } from "../security/host.ts";

/** What a tile route notes of a request whose answer may be served again by the fast path. */
export interface FastTile {
  /** The tile's cache key hash. */
  hash: string;
  /** The image id (a plain local file) and the version it was answered for. */
  id: string;
  version: string;
}

interface FastEntry extends FastTile {
  route: string;
  backend: string;
  headers: [string, string][];
}

/** Largest tile the fast path answers (larger answers hold the large-work budget while sent). */
const MAX_BYTES = 4 << 20;

const noted = new WeakMap<Request, FastTile>();

/** Notes that `req`'s tile answer may be served again by the fast path (tile routes call it). */
export function noteFastTile(req: Request, tile: FastTile): void {
  noted.set(req, tile);
}

/** Remembered tile URLs and their fast answers. */
export class FastHits {
  #entries = new LruCache<string, FastEntry>(8192);
  /** Requests answered by the fast path. */
  served = 0;

  /**
   * `health`: the `/health` body; `cors`: the CORS headers every answer carries. A plain `GET /health` (no
   * query, a valid Host) is answered here too: load balancers poll it.
   */
  constructor(
    private ctx: AppContext,
    private telemetry: HttpTelemetryOptions,
    private health: () => unknown,
    private cors: [string, string][],
  ) {}

  /** `GET /health` answered without the middleware chain, or null. */
  #health(req: Request, info?: unknown): Response | null {
    const url = req.url, at = url.indexOf("/", url.indexOf("//") + 2);
    if (at < 0 || url.length - at !== 7 || !url.endsWith("/health")) return null;
    const host = req.headers.get("host");
    if (host !== null && !validHost(host)) return null;
    const t0 = performance.now();
    const body = new TextEncoder().encode(JSON.stringify(this.health()));
    const res = new Response(body, {
      headers: [["content-type", "application/json"], ["content-length", String(body.length)], ...this.cors],
    });
    this.served++;
    this.#record(req, info, "/health", body.length, t0, "", "");
    return res;
  }

  #record(req: Request, info: unknown, route: string, bytes: number, t0: number, cache: string, backend: string) {
    const h = req.headers;
    record(this.telemetry, {
      method: "GET",
      url: req.url,
      route,
      status: 200,
      bytes,
      ms: performance.now() - t0,
      cache,
      backend,
      client: () => clientOf(h, info, !!this.telemetry.trustProxy),
      ua: () => h.get("user-agent") ?? "",
    }, false);
  }

  /** The fast answer to `req`, or null when it takes the full path. */
  answer(req: Request, info?: unknown): Response | null {
    if (req.method !== "GET") return null;
    const e = this.#entries.get(req.url);
    if (!e) return this.#health(req, info);
    const h = req.headers, host = h.get("host");
    if (h.has("if-none-match") || h.has("authorization") || (host !== null && !validHost(host))) return null;
    const t0 = performance.now();
    const tile = this.ctx.registry.versionNow(e.id) === e.version ? this.ctx.cache.memoryHit(e.hash) : null;
    if (!tile) {
      this.#entries.delete(req.url); // changed or evicted: the full path decides, and may remember it again
      return null;
    }
    this.served++;
    const res = new Response(tile.bytes as Uint8Array<ArrayBuffer>, { headers: e.headers });
    this.#record(req, info, e.route, tile.bytes.byteLength, t0, "hit", e.backend);
    return res;
  }

  /** Remembers `req`'s answer `res` when its route noted it and it is a whole `200` tile. */
  remember(req: Request, res: Response): void {
    const tile = noted.get(req);
    if (!tile || res.status !== 200 || req.method !== "GET" || this.ctx.config.signingKeys.length) return;
    if (Number(res.headers.get("content-length") ?? MAX_BYTES) >= MAX_BYTES) return;
    const headers: [string, string][] = [];
    for (const [k, v] of res.headers) if (k !== "server-timing" && k !== "x-cache") headers.push([k, v]);
    headers.push(["x-cache", "hit"], ["server-timing", "cache;dur=0.00"]);
    this.#entries.set(req.url, {
      ...tile,
      route: routeLabelOf(req) ?? "unmatched",
      backend: res.headers.get("x-backend") ?? "",
      headers,
    });
  }
}

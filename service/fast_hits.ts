/**
 * The fast path of a repeated tile request: the URL of a tile answered `200` through the full path (a local
 * file, default cache mode, no signing) is remembered with its tile's key, its file version and its final
 * headers; the next `GET` of that exact URL is answered from the memory cache without the middleware chain
 * and the route — after the same version check every request gets (`registry.versionNow`: a changed file
 * falls through to the full path, never a stale tile) — and counted and logged as any request. Conditional
 * requests, `HEAD`, `Authorization`, a malformed `Host` and anything not remembered take the full path.
 * A plain `GET /health` is answered here as well (the same body and headers as its route's).
 *
 * Behind the connection guard the same answers are given at its front (`answerFront`): the whole HTTP/1.1
 * response as the HTTP server would write it (same status line, headers in the same order, then
 * `content-length` and `date`), from a head the guard read, so a repeated tile costs one read and one write
 * of the client's connection and no HTTP server work.
 */
import type { AppContext } from "./context.ts";
import type { CachedTile } from "../cache/tile_cache.ts";
import type { FrontRequest } from "../security/conn_guard.ts";
import { LruCache } from "../core/lru.ts";
import { clientOf, type HeaderLookup, type HttpTelemetryOptions, record, routeLabelOf } from "../telemetry/http.ts";
import { validHost } from "../security/host.ts";
import { withHeaders } from "../core/response_headers.ts";
import { dateLine, statusLine } from "../security/front_http.ts";

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
  /** The HTTP/1.1 status line and headers to `content-length` (for a body of `length`), made once. */
  head?: { bytes: Uint8Array; length: number };
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
  /** 4,096 URLs (~0.5 KiB each with the header pairs shared): past the tiles the memory cache holds anyway. */
  #entries = new LruCache<string, FastEntry>(4096);
  /**
   * Request targets (path and query) of remembered URLs: the guard's front asks before it parses a head.
   * Only added to (a target whose entry was evicted is a "maybe", checked by `answerFront`); emptied past
   * 16,384, then filled again by `remember` and by the server-side fast path's hits.
   */
  #targets = new Set<string>();

  /** Whether a request for `target` may be answered at the front (`/health`, or a remembered URL's target). */
  wants(target: string): boolean {
    return target === "/health" || this.#targets.has(target);
  }

  #noteTarget(url: string) {
    if (this.#targets.size >= 16_384) this.#targets.clear();
    this.#targets.add(url.slice(url.indexOf("/", url.indexOf("//") + 2)));
  }

  /** Requests answered by the fast path (in the HTTP server or at the guard's front). */
  served = 0;
  /** Of those, the ones answered at the guard's front (`answerFront`). */
  servedFront = 0;

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

  #record(
    url: string,
    h: HeaderLookup,
    info: unknown,
    route: string,
    bytes: number,
    t0: number,
    cache: string,
    backend: string,
  ) {
    record(this.telemetry, {
      method: "GET",
      url,
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

  /**
   * Whether a request with these headers may be answered here: no validator (`If-None-Match`: the full
   * path's 304), no `Authorization`, no `Expect`, and a valid Host if any (a repeated one joins to an invalid).
   */
  #plain(h: HeaderLookup): boolean {
    if (h.get("if-none-match") !== null || h.get("authorization") !== null || h.get("expect") !== null) return false;
    const host = h.get("host");
    if (host === null || host === this.#validHost) return true;
    if (!validHost(host)) return false;
    this.#validHost = host;
    return true;
  }

  /** The remembered tile of `url`, when its file is unchanged and the tile still in memory (counted served). */
  #tile(url: string): { e: FastEntry; tile: CachedTile } | null {
    const e = this.#entries.get(url);
    if (!e) return null;
    const tile = this.ctx.registry.versionNow(e.id) === e.version ? this.ctx.cache.memoryHit(e.hash) : null;
    if (!tile) {
      this.#entries.delete(url); // changed or evicted: the full path decides, and may remember it again
      return null;
    }
    this.served++;
    this.#noteTarget(url); // known again after the targets were emptied
    return { e, tile };
  }

  /** The fast answer to `req`, or null when it takes the full path. */
  answer(req: Request, info?: unknown): Response | null {
    if (req.method !== "GET" || !this.#plain(req.headers)) return null;
    const t0 = performance.now(), url = req.url;
    const hit = this.#tile(url);
    if (hit) {
      const res = withHeaders(new Response(hit.tile.bytes as Uint8Array<ArrayBuffer>), hit.e.headers);
      this.#record(url, req.headers, info, hit.e.route, hit.tile.bytes.byteLength, t0, "hit", hit.e.backend);
      return res;
    }
    const at = url.indexOf("/", url.indexOf("//") + 2);
    if (at < 0 || url.length - at !== 7 || !url.endsWith("/health")) return null;
    const body = this.#healthBytes();
    this.served++;
    this.#record(url, req.headers, info, "/health", body.length, t0, "", "");
    return new Response(body as Uint8Array<ArrayBuffer>, { headers: this.#healthHeaders(body.length) });
  }

  /**
   * The fast answer to a request the connection guard read (its target, headers and client), as the parts
   * of a whole HTTP/1.1 response, or null when it takes the HTTP server. The same rules as `answer`, and a
   * Host it needs (the URL is remembered with it).
   */
  answerFront(req: FrontRequest): Uint8Array[] | null {
    const h = new FrontHeaders(req.headers), host = h.get("host");
    if (host === null || !this.#plain(h)) return null;
    const t0 = performance.now(), url = `http://${host}${req.target}`, info = { remoteAddr: req.client };
    const hit = this.#tile(url);
    if (hit) {
      const { e, tile } = hit;
      this.servedFront++;
      if (e.head?.length !== tile.bytes.byteLength) {
        const head = headText(e.headers.filter(([k]) => k !== "content-length"));
        e.head = {
          bytes: this.#enc.encode(`${head}content-length: ${tile.bytes.byteLength}\r\n`),
          length: tile.bytes.byteLength,
        };
      }
      this.#record(url, h, info, e.route, tile.bytes.byteLength, t0, "hit", e.backend);
      return this.#response(e.head.bytes, tile.bytes);
    }
    if (req.target !== "/health") return null;
    const body = this.#healthBytes();
    this.served++;
    this.servedFront++;
    this.#record(url, h, info, "/health", body.length, t0, "", "");
    return this.#response(this.#lastHealth!.head, body);
  }

  /** `/health`'s headers as its route answers them. */
  #healthHeaders(length: number): [string, string][] {
    return [["content-type", "application/json"], ["content-length", String(length)], ...this.cors];
  }

  #enc = new TextEncoder();
  /** The last Host found valid (most requests repeat it). */
  #validHost = "";
  /** The last `/health` JSON, its bytes, and the head for their length (reused while the JSON is the same). */
  #lastHealth: { json: string; body: Uint8Array; head: Uint8Array } | undefined;

  /** The `/health` body now: encoded again only when its JSON changed (it does with load and memory). */
  #healthBytes(): Uint8Array {
    const json = JSON.stringify(this.health());
    if (this.#lastHealth?.json === json) return this.#lastHealth.body;
    const body = this.#enc.encode(json);
    const head = this.#lastHealth?.body.length === body.length ? this.#lastHealth.head : this.#enc.encode(
      `${
        headText(this.#healthHeaders(body.length).filter(([k]) => k !== "content-length"))
      }content-length: ${body.length}\r\n`,
    );
    this.#lastHealth = { json, body, head };
    return body;
  }
  /** `head` (to `content-length`), then `date` (as the HTTP server writes it) and `body`: the parts to write. */
  #response(head: Uint8Array, body: Uint8Array): Uint8Array[] {
    return [head, dateLine(), body];
  }

  /** Remembers `req`'s answer `res` when its route noted it and it is a whole `200` tile. */
  remember(req: Request, res: Response): void {
    const tile = noted.get(req);
    if (!tile || res.status !== 200 || req.method !== "GET" || this.ctx.config.signingKeys.length) return;
    // Only a tile the memory layer kept can be answered from it (none when it is off: no work per tile).
    if (!this.ctx.cache.inMemory(tile.hash)) return;
    if (Number(res.headers.get("content-length") ?? MAX_BYTES) >= MAX_BYTES) return;
    const headers: [string, string][] = [];
    // forEach: the same list as iterating, without the iterator's cost (~13 µs a tile).
    res.headers.forEach((v, k) => void (k !== "server-timing" && k !== "x-cache" && headers.push(sharedPair(k, v))));
    headers.push(sharedPair("x-cache", "hit"), sharedPair("server-timing", "cache;dur=0.00"));
    this.#noteTarget(req.url);
    this.#entries.set(req.url, {
      ...tile,
      route: routeLabelOf(req) ?? "unmatched",
      backend: res.headers.get("x-backend") ?? "",
      headers,
    });
  }
}

/** Header pairs most remembered answers repeat (CORS, content type, cache control, op, backend), kept once. */
const pairs = new Map<string, [string, string]>();

/** The one copy of the pair `k: v` (ETag, Link and length are each tile's own; past 1,024 pairs, new ones). */
function sharedPair(k: string, v: string): [string, string] {
  if (k === "etag" || k === "link" || k === "content-length") return [k, v];
  const key = `${k}\n${v}`;
  let p = pairs.get(key);
  if (!p) {
    p = [k, v];
    if (pairs.size < 1024) pairs.set(key, p);
  }
  return p;
}

/** A `200` status line and `headers` as HTTP/1.1 text (before `content-length`). */
function headText(headers: [string, string][]): string {
  let text = statusLine(200);
  for (const [k, v] of headers) text += `${k}: ${v}\r\n`;
  return text;
}

/** Header lookup over the guard's alternating name/value list (names case-insensitive, repeats joined). */
class FrontHeaders implements HeaderLookup {
  constructor(private list: string[]) {}
  get(name: string): string | null {
    let v: string | null = null;
    for (let i = 0; i < this.list.length; i += 2) {
      if (this.list[i].length === name.length && this.list[i].toLowerCase() === name) {
        v = v === null ? this.list[i + 1] : `${v}, ${this.list[i + 1]}`;
      }
    }
    return v;
  }
}

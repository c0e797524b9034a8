/**
 * The tile cache: a bytes-bounded memory LRU in front of Deno KV, with single-flight computation per key.
 * A hit never waits for a miss; stores happen after the response (not awaited). KV is optional at run
 * time: when it cannot be opened or an operation fails, tiles are still served, the failure is counted
 * and logged at most once a minute. A corrupt entry is a miss, and the recomputed tile overwrites it.
 */
import { LruCache } from "../core/lru.ts";
import { KvBlobStore, openKvAt } from "./kv_store.ts";
export type { CachedTile, CacheMode, CacheResult, Computed } from "./cached_tile.ts";
import type { BlobKey, BlobRead, BlobStore, StoredBlob } from "./blob_store.ts";
import { RedisBlobStore } from "./redis_store.ts";
import type { TileKey } from "./key.ts";
import { type Metrics, throttledLog } from "../telemetry/metrics.ts";
import { type CachedTile, type CacheMode, type CacheResult, type Computed, storedTile } from "./cached_tile.ts";
import { fleetTurn } from "./fleet_flight.ts";

/** How long an instance waits for a tile another instance of the fleet is computing before computing it. */
const FLEET_WAIT_MS = 10_000;

/** Options of the cache. */
export interface TileCacheOptions {
  /** KV path (`./data/cache.kv`, `:memory:`, a URL), or null for memory only (unused with `cacheUrl`). */
  kvPath: string | null;
  /** A Redis or Valkey URL: the cache a fleet shares, in place of KV. */
  cacheUrl?: string;
  /** The prefix of every Redis key. */
  cachePrefix?: string;
  memoryBytes: number;
  ttlSeconds: number;
  metrics: Metrics;
}

/** Memory LRU + the configured engine (Deno KV or Redis) + single-flight. */
export class TileCache {
  #memory: LruCache<string, { tile: CachedTile; expiresAt: number }>;
  #inflight = new Map<string, Promise<Computed & { fromKv: boolean }>>();
  /** Requesters waiting on each computation in flight, and the signal that drops it when none is left. */
  #waiters = new Map<string, { count: number; wanted: AbortController }>();
  #kv: Promise<BlobStore | null>;
  #log = throttledLog();
  #writes = new Set<Promise<void>>();
  /** Tiles computed by the pipeline through this cache (misses, bypasses, refreshes). */
  computations = 0;

  constructor(private opts: TileCacheOptions) {
    this.#memory = new LruCache(opts.memoryBytes);
    this.#kv = opts.cacheUrl
      ? Promise.resolve(this.#redisNow = new RedisBlobStore(opts.cacheUrl, opts.cachePrefix))
      : opts.kvPath === null
      ? Promise.resolve(null)
      : openKvAt(opts.kvPath).then(
        (kv) => new KvBlobStore(kv),
        (err) => {
          this.#kvFailed("open", err);
          return null;
        },
      );
  }

  /** The Redis engine, once made (for /ready's reachability), else null. */
  #redisNow: RedisBlobStore | null = null;

  /** Which engine backs the memory LRU (`kv`, `redis`, or `memory` alone) and whether it answers now. */
  async engineStatus(): Promise<{ engine: string; reachable: boolean }> {
    const store = await this.#kv;
    if (!store) return { engine: "memory", reachable: true };
    return { engine: store.engine, reachable: this.#redisNow ? this.#redisNow.connected : true };
  }

  /** The cache engine once opened (null when there is none). */
  get store(): Promise<BlobStore | null> {
    return this.#kv;
  }

  /** Why KV could not be opened, or null when it opened (or is still opening, or is off). */
  get kvOpenError(): string | null {
    return this.#lastKvFailure?.op === "open" ? this.#lastKvFailure.message : null;
  }

  /** The last KV failure (what, why, when). */
  #lastKvFailure: { op: string; message: string; at: number } | null = null;

  /**
   * What is wrong with the KV cache now, for /ready's `degraded`: a failure in the last minute, or a KV file
   * deleted while open (SQLite keeps writing to the unlinked file: every tile stored from then on is lost).
   */
  kvProblems(now = Date.now()): string[] {
    const problems: string[] = [];
    if (this.opts.cacheUrl) {
      const redis = this.#redisNow;
      if (redis && !redis.connected) problems.push("the Redis cache is unreachable: tiles are served uncached");
    }
    const f = this.#lastKvFailure;
    if (f && now - f.at < 60_000) {
      problems.push(`KV ${f.op} failed ${Math.round((now - f.at) / 1000)} s ago: ${f.message}`);
    }
    const path = this.opts.kvPath;
    if (path && path !== ":memory:" && path !== "default" && !/^https?:\/\//.test(path)) {
      try {
        Deno.statSync(path);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) {
          problems.push(`the KV file ${path} was deleted while open: tiles stored now are lost at restart`);
        }
      }
    }
    return problems;
  }

  #kvFailed(op: string, err: unknown) {
    this.#lastKvFailure = { op, message: (err as Error)?.message ?? String(err), at: Date.now() };
    this.opts.metrics.kvErrors.inc({ op });
    // An open failure is reported once by its owner (main.ts stops the start; /ready says degraded).
    if (op !== "open") {
      const engine = this.opts.cacheUrl ? "Redis" : "Deno KV";
      this.#log(`kv-${op}`, `${engine} ${op} failed (tiles are served uncached): ${(err as Error)?.message ?? err}`);
    }
  }

  /** Reads a blob from KV; null on absence, expiry or failure; "corrupt" counted. */
  async readBlob(key: BlobKey): Promise<StoredBlob | null> {
    const store = await this.#kv;
    if (!store) return null;
    let got: BlobRead;
    try {
      got = await store.get(key);
    } catch (err) {
      this.#kvFailed("get", err);
      return null;
    }
    if (got === "corrupt") {
      this.opts.metrics.cacheCorrupt.inc();
      return null;
    }
    return got;
  }

  /** Writes a blob to KV (errors counted, never thrown). */
  async writeBlob(key: BlobKey, blob: StoredBlob): Promise<void> {
    const store = await this.#kv;
    if (!store) return;
    try {
      const result = await store.set(key, blob, this.opts.ttlSeconds);
      this.opts.metrics.cacheStores.inc({ result });
    } catch (err) {
      this.#kvFailed("set", err);
    }
  }

  /** Whether the memory layer holds a tile under `hash` (not counted: the fast path asks before remembering). */
  inMemory(hash: string): boolean {
    return this.#memory.peek(hash) !== undefined;
  }

  /** The fresh tile in memory under `hash` (a hit, counted as one), else null: the fast path's one look. */
  memoryHit(hash: string): CachedTile | null {
    const mem = this.#memory.get(hash);
    if (!mem || mem.expiresAt <= Date.now()) return null;
    this.opts.metrics.cacheHits.inc({ layer: "memory" });
    this.opts.metrics.cacheBytesServed.inc(mem.tile.bytes.length);
    return mem.tile;
  }

  /** The tile for `key`: from memory, from KV, or computed once however many ask at the same time. */
  async get(
    key: TileKey,
    compute: (signal: AbortSignal) => Promise<Computed>,
    mode: CacheMode = "normal",
    signalOf?: () => AbortSignal,
  ): Promise<CacheResult> {
    const t0 = performance.now();
    const m = this.opts.metrics;
    if (mode === "bypass" || mode === "refresh") {
      m.cacheBypass.inc({ mode });
      const done = await this.#compute(() => compute(signalOf?.() ?? new AbortController().signal));
      if (mode === "refresh") this.#store(key, done.tile);
      return { tile: done.tile, status: mode, timings: done.timings };
    }
    const mem = this.memoryHit(key.hash);
    if (mem) return { tile: mem, status: "hit", timings: { cache: performance.now() - t0 } };
    if (mode === "lookup" && !this.#inflight.has(key.hash)) {
      m.cacheMisses.inc();
      const done = await this.#compute(() => compute(signalOf?.() ?? new AbortController().signal));
      return { tile: done.tile, status: "miss", timings: done.timings };
    }
    let flight = this.#inflight.get(key.hash);
    if (!flight) {
      // The computation is wanted while any of its requesters waits: it is dropped when they all left.
      const wanted = new AbortController();
      const waiting = { count: 0, wanted };
      this.#waiters.set(key.hash, waiting);
      flight = (async () => {
        const read = async () => storedTile(await this.readBlob(["tile", key.hash]));
        const tile = await read();
        // Not stored: computed here, or by the instance of the fleet that is computing it already. An engine
        // that failed in the last 2 s (down, stalled) is not asked for a lock, nor is its write waited for.
        const healthy = () => (this.#lastKvFailure?.at ?? 0) < Date.now() - 2000;
        const turn = tile
          ? { found: tile }
          : healthy()
          ? await fleetTurn(await this.#kv, ["tile", key.hash], read, FLEET_WAIT_MS)
          : { release: () => Promise.resolve() };
        if ("found" in turn) {
          this.#remember(key, turn.found);
          return { tile: turn.found, timings: {}, fromKv: true };
        }
        try {
          const done = await this.#compute(() => compute(wanted.signal));
          const stored = this.#store(key, done.tile);
          if (healthy()) await stored; // the fleet's waiters read it once the lock is released
          return { ...done, fromKv: false };
        } finally {
          await turn.release();
        }
      })();
      this.#inflight.set(key.hash, flight);
      const end = () => {
        this.#inflight.delete(key.hash);
        this.#waiters.delete(key.hash);
      };
      flight.then(end, end);
    }
    const waiting = this.#waiters.get(key.hash);
    const signal = waiting ? signalOf?.() : undefined; // looked at only when the tile is computed
    let leave: (() => void) | undefined;
    if (waiting) {
      waiting.count++;
      if (signal) {
        leave = () => {
          if (--waiting.count === 0) waiting.wanted.abort();
        };
        if (signal.aborted) leave();
        else signal.addEventListener("abort", leave, { once: true });
      }
    }
    let done;
    try {
      done = await flight;
    } finally {
      if (leave) signal?.removeEventListener("abort", leave);
    }
    if (done.fromKv) {
      m.cacheHits.inc({ layer: "kv" });
      m.cacheBytesServed.inc(done.tile.bytes.length);
    } else {
      m.cacheMisses.inc();
    }
    const cache = performance.now() - t0 - Object.values(done.timings).reduce((a, b) => a + b, 0);
    return {
      tile: done.tile,
      status: done.fromKv ? "hit" : "miss",
      timings: { cache: Math.max(0, cache), ...done.timings },
    };
  }

  async #compute(compute: () => Promise<Computed>): Promise<Computed> {
    this.computations++;
    this.opts.metrics.pipelineRuns.inc();
    return await compute();
  }

  #remember(key: TileKey, tile: CachedTile) {
    this.#memory.set(key.hash, { tile, expiresAt: Date.now() + this.opts.ttlSeconds * 1000 }, tile.bytes.length + 256);
    this.opts.metrics.memoryBytes.set(this.#memory.totalSize);
  }

  /**
   * Keeps the tile in memory now and writes it to the engine: awaited where the fleet shares it (the other
   * instances wait on that write), else in the background.
   */
  async #store(key: TileKey, tile: CachedTile) {
    this.#remember(key, tile);
    const meta = { contentType: tile.contentType, xOp: tile.xOp, notes: JSON.stringify(tile.notes) };
    if (this.#redisNow) await this.writeBlob(["tile", key.hash], { bytes: tile.bytes, meta });
    else this.writeLater(["tile", key.hash], { bytes: tile.bytes, meta });
  }

  /** Writes a blob to KV in the background (close() waits for it). */
  writeLater(key: BlobKey, blob: StoredBlob): void {
    const p = this.writeBlob(key, blob);
    this.#writes.add(p);
    p.finally(() => this.#writes.delete(p));
  }

  /** Waits for background writes and closes KV. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#writes]);
    await (await this.#kv)?.close();
  }
}

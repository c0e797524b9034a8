/**
 * The tile cache on Redis or Valkey (`EDGETILE_CACHE_URL=redis://[user:pass@]host:port/db`, `rediss://` for
 * TLS): every instance of a fleet reads and writes the same entries. One key per entry under a configurable
 * prefix, with the entry's TTL; a value is one string of any size a tile can have (the metadata's length,
 * the metadata as JSON, then the bytes), so a read is one atomic GET. The client is node-redis's core
 * (`@redis/client`, one small dependency): it reconnects by itself; commands are not queued while it is
 * down and are abandoned after `COMMAND_TIMEOUT_MS`, so a tile is then computed and served as without a cache
 * (tile_cache.ts counts and logs the failure), never delayed into a 5xx.
 */
import { createClient, RESP_TYPES } from "@redis/client";
import { Buffer } from "node:buffer";
import type { BlobKey, BlobRead, StoredBlob } from "./blob_store.ts";
import type { LockingStore } from "./fleet_flight.ts";
import { log } from "../telemetry/log.ts";

/** Told when the connection comes up or goes down (once per change): by default, one log line each. */
export type RedisStateListener = (up: boolean, where: string, why?: string) => void;

const logState: RedisStateListener = (up, where, why) =>
  up
    ? log().info(`the Redis cache at ${where} is reachable: tiles are cached and shared again`)
    : log().warn(`the Redis cache at ${where} is unreachable (${why ?? "connection lost"}): tiles are served uncached`);

/** How long one command may take before the tile is served without the cache. */
const COMMAND_TIMEOUT_MS = 500;

const enc = new TextEncoder(), dec = new TextDecoder();

/** Blobs in one Redis database under `prefix`. */
export class RedisBlobStore implements LockingStore {
  readonly engine = "redis";
  #client;

  constructor(url: string, readonly prefix = "edgetile:", onState: RedisStateListener = logState) {
    const where = new URL(url).host; // never the credentials
    let up: boolean | null = null;
    const change = (now: boolean, why?: string) => {
      if (this.#closed || now === up) return;
      up = now;
      onState(now, where, why);
    };
    const client = createClient({
      url,
      disableOfflineQueue: true,
      socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(1000, 50 * (retries + 1)) },
    });
    // Errors surface on the commands (counted there); the connection's state is told once per change.
    client.on("error", (err: Error) => change(false, err.message || err.name));
    client.on("ready", () => change(true));
    client.on("end", () => change(false, "closed"));
    client.connect().catch(() => {}); // it goes on trying (reconnectStrategy)
    this.#client = client;
  }

  /** Whether the connection is up now. */
  get connected(): boolean {
    return this.#client.isReady;
  }

  #key(key: BlobKey): string {
    return this.prefix + key.join(":");
  }

  /** The client for one command: values as bytes, abandoned after the timeout. */
  #deadline() {
    const typeMapping = { [RESP_TYPES.BLOB_STRING]: Buffer };
    return this.#client.withCommandOptions({ typeMapping, abortSignal: AbortSignal.timeout(COMMAND_TIMEOUT_MS) });
  }

  /**
   * `command`'s answer, or a rejection at `COMMAND_TIMEOUT_MS`: the client's abort signal only drops a
   * command not yet sent, and one sent to a Redis that stalls (paused, swapping, a long script) would hold
   * the tile until Redis answered. Its late answer is ignored.
   */
  #within<T>(command: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${COMMAND_TIMEOUT_MS} ms`)), COMMAND_TIMEOUT_MS);
    });
    command.catch(() => {}); // a late failure is nobody's
    return Promise.race([command, late]).finally(() => clearTimeout(timer));
  }

  async get(key: BlobKey): Promise<BlobRead> {
    const value = await this.#within(this.#deadline().get(this.#key(key))) as Buffer | null;
    if (value === null) return null;
    const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    if (bytes.length < 4) return "corrupt";
    const metaLength = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
    if (4 + metaLength > bytes.length) return "corrupt";
    let meta: unknown;
    try {
      meta = JSON.parse(dec.decode(bytes.subarray(4, 4 + metaLength)));
    } catch {
      return "corrupt";
    }
    if (typeof meta !== "object" || meta === null) return "corrupt";
    return { bytes: bytes.slice(4 + metaLength), meta: meta as Record<string, string> };
  }

  async set(key: BlobKey, blob: StoredBlob, ttlSeconds: number): Promise<"stored" | "too_large"> {
    const meta = enc.encode(JSON.stringify(blob.meta));
    const value = new Uint8Array(4 + meta.length + blob.bytes.length);
    new DataView(value.buffer).setUint32(0, meta.length);
    value.set(meta, 4);
    value.set(blob.bytes, 4 + meta.length);
    const ms = Math.max(1, Math.round(ttlSeconds * 1000));
    await this.#within(
      this.#deadline().set(this.#key(key), Buffer.from(value.buffer), { expiration: { type: "PX", value: ms } }),
    );
    return "stored";
  }

  async lock(key: BlobKey, ms: number): Promise<string | null> {
    const token = crypto.randomUUID();
    const ok = await this.#within(
      this.#deadline().set(this.#lockKey(key), token, {
        NX: true,
        expiration: { type: "PX", value: ms },
      }),
    );
    return ok === null ? null : token;
  }

  async unlock(key: BlobKey, token: string): Promise<void> {
    // Only the holder's own lock: one that expired and was taken by another stays.
    const script = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";
    await this.#within(this.#deadline().eval(script, { keys: [this.#lockKey(key)], arguments: [token] }));
  }

  async locked(key: BlobKey): Promise<boolean> {
    return (await this.#within(this.#deadline().exists(this.#lockKey(key)))) > 0;
  }

  #lockKey(key: BlobKey): string {
    return `${this.prefix}lock:${key.join(":")}`;
  }

  #closed = false;

  async close(): Promise<void> {
    this.#closed = true; // its own end is no change of state to tell
    await this.#client.destroy();
  }
}

/** `EDGETILE_CACHE_URL`: empty, or a redis:// or rediss:// URL (a start-up error otherwise). */
export function checkCacheUrl(raw: string): string {
  if (raw === "") return "";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(
      `EDGETILE_CACHE_URL must be a redis:// or rediss:// URL, got "${raw.replace(/\/\/[^@]*@/, "//…@")}"`,
    );
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new Error(`EDGETILE_CACHE_URL must be a redis:// or rediss:// URL, got ${url.protocol}`);
  }
  return raw;
}

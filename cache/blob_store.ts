/**
 * The cache engine interface: blobs (an encoded tile, image statistics, a palette) with small metadata,
 * under a key, for a time. One implementation per engine — Deno KV (kv_store.ts: one machine, Deno Deploy)
 * and Redis or Valkey (redis_store.ts: a fleet sharing one cache); the tile cache (tile_cache.ts) keeps the
 * memory LRU and single-flight in front of whichever is configured.
 */

/** A blob with its metadata, as stored. */
export interface StoredBlob {
  bytes: Uint8Array;
  /** Small metadata kept with it (content type, X-Op, stats JSON, …). */
  meta: Record<string, string>;
}

/** Result of a read: the blob, nothing, or an entry that does not check out. */
export type BlobRead = StoredBlob | null | "corrupt";

/** A key: its parts (joined by the engine as it needs). */
export type BlobKey = readonly (string | number)[];

/** One cache engine. */
export interface BlobStore {
  /** The engine's name (`/ready`, logs): "kv" or "redis". */
  readonly engine: string;
  /** The blob at `key`; null when absent or expired. Throws when the engine cannot be reached. */
  get(key: BlobKey): Promise<BlobRead>;
  /** Stores a blob for `ttlSeconds`; "too_large" when the engine cannot hold it. Throws when unreachable. */
  set(key: BlobKey, blob: StoredBlob, ttlSeconds: number): Promise<"stored" | "too_large">;
  /** Releases the connection or database. */
  close(): void | Promise<void>;
}

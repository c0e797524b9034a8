/**
 * Tiles and image statistics in Deno KV. Values over 60 KB are split into 64 KiB chunks stored under a
 * manifest written in the same atomic commit (KV: ≤ 65,536 bytes a value, ≤ 819,200 bytes and 1,000
 * mutations a commit); chunk keys carry a per-write nonce, so a manifest never mixes two writes. Expiry is
 * `expireIn` plus the expiry time in the manifest (KV deletes expired keys lazily). A manifest or chunk
 * that does not check out is reported as corrupt.
 */
import type { BlobKey, BlobRead, BlobStore, StoredBlob } from "./blob_store.ts";

/** The largest value Deno KV stores. */
export const KV_VALUE_MAX = 65536;
/** The largest atomic commit Deno KV accepts. */
export const KV_COMMIT_MAX = 819_200;
/** Bytes kept inline in the manifest (room left for its other fields). */
const INLINE_MAX = 60_000;
/** Chunks a commit can carry next to the manifest. */
const MAX_CHUNKS = Math.floor((KV_COMMIT_MAX - INLINE_MAX) / KV_VALUE_MAX);

interface Manifest {
  v: 1;
  length: number;
  expiresAt: number;
  meta: Record<string, string>;
  inline?: Uint8Array;
  nonce?: string;
  chunks?: number;
}

/** Result of a read: the blob, nothing, or a corrupt entry. */
export type KvRead = BlobRead;

/**
 * Opens Deno KV at `path`: a file (its folder is created), `:memory:`, an http(s) URL of a remote KV, or
 * `default` for the runtime's own database (`Deno.openKv()`: on Deno Deploy, the database assigned to the app).
 */
export async function openKvAt(path: string): Promise<Deno.Kv> {
  if (path === "default") return await Deno.openKv();
  if (path !== ":memory:" && !/^https?:\/\//.test(path)) {
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
    if (dir) await Deno.mkdir(dir, { recursive: true });
  }
  return await Deno.openKv(path);
}

/** Blobs under key prefixes in one KV database. */
export class KvBlobStore implements BlobStore {
  readonly engine = "kv";
  constructor(readonly kv: Deno.Kv) {}

  /** The blob at `key`, null when absent or expired, "corrupt" when it does not check out. */
  async get(key: BlobKey, now = Date.now()): Promise<KvRead> {
    const m = (await this.kv.get<Manifest>(key)).value;
    if (m === null) return null;
    if (!isManifest(m)) return "corrupt";
    if (m.expiresAt <= now) return null;
    if (m.inline) return m.inline.length === m.length ? { bytes: m.inline, meta: m.meta } : "corrupt";
    const keys = Array.from({ length: m.chunks! }, (_, i) => [...key, "chunk", m.nonce!, i]);
    const bytes = new Uint8Array(m.length);
    let at = 0;
    for (let i = 0; i < keys.length; i += 10) {
      const got = await this.kv.getMany<Uint8Array[]>(keys.slice(i, i + 10));
      for (const entry of got) {
        const chunk = entry.value;
        if (!(chunk instanceof Uint8Array) || at + chunk.length > m.length) return "corrupt";
        bytes.set(chunk, at);
        at += chunk.length;
      }
    }
    return at === m.length ? { bytes, meta: m.meta } : "corrupt";
  }

  /** Stores a blob for `ttlSeconds`; "too_large" when it cannot fit one atomic commit. */
  async set(key: BlobKey, blob: StoredBlob, ttlSeconds: number): Promise<"stored" | "too_large"> {
    const expireIn = Math.max(1, ttlSeconds) * 1000;
    const base = { v: 1 as const, length: blob.bytes.length, expiresAt: Date.now() + expireIn, meta: blob.meta };
    // The manifest holds the metadata (statistics JSON can be kilobytes): inline only what fits beside it.
    const metaBytes = JSON.stringify(blob.meta).length;
    if (metaBytes > INLINE_MAX) return "too_large";
    if (blob.bytes.length + metaBytes <= INLINE_MAX) {
      await this.kv.set(key, { ...base, inline: blob.bytes } satisfies Manifest, { expireIn });
      return "stored";
    }
    const chunks = Math.ceil(blob.bytes.length / KV_VALUE_MAX);
    if (chunks > MAX_CHUNKS) return "too_large";
    const nonce = crypto.randomUUID();
    const op = this.kv.atomic().set(key, { ...base, nonce, chunks } satisfies Manifest, { expireIn });
    for (let i = 0; i < chunks; i++) {
      op.set([...key, "chunk", nonce, i], blob.bytes.subarray(i * KV_VALUE_MAX, (i + 1) * KV_VALUE_MAX), { expireIn });
    }
    const res = await op.commit();
    if (!res.ok) throw new Error("KV commit failed");
    return "stored";
  }

  /** Closes the database (already closed or broken: nothing to do, shutdown goes on). */
  close(): void {
    try {
      this.kv.close();
    } catch { /* closed already */ }
  }
}

function isManifest(m: unknown): m is Manifest {
  if (typeof m !== "object" || m === null) return false;
  const o = m as Manifest;
  if (o.v !== 1 || !Number.isInteger(o.length) || o.length < 0 || typeof o.expiresAt !== "number") return false;
  if (typeof o.meta !== "object" || o.meta === null) return false;
  if (o.inline !== undefined) return o.inline instanceof Uint8Array;
  return typeof o.nonce === "string" && Number.isInteger(o.chunks) && o.chunks! > 0 &&
    o.chunks! === Math.ceil(o.length / KV_VALUE_MAX);
}

/** Cache keys: SHA-256 of a request's canonical string; the hash is also the ETag. */
import { canonicalTileRequest, type TileRequest } from "../pipeline/tile_request.ts";

/** A tile's cache identity. */
export interface TileKey {
  canonical: string;
  /** Hex SHA-256 of `canonical`. */
  hash: string;
  /** Strong ETag (`"hash"`). */
  etag: string;
}

/** Hex SHA-256 of a string. */
export async function sha256Hex(s: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)));
  let hex = "";
  for (const b of digest) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/** The key of a tile request. */
export async function tileKey(req: TileRequest): Promise<TileKey> {
  const canonical = canonicalTileRequest(req);
  const hash = await sha256Hex(canonical);
  return { canonical, hash, etag: `"${hash}"` };
}

/** True when an `If-None-Match` header value matches `etag` (weak comparison, `*` matches any). */
export function ifNoneMatchHits(header: string | null, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((t) => {
    const v = t.trim();
    return v === "*" || v === etag || v === `W/${etag}`;
  });
}

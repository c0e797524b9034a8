/**
 * Who holds a raster's buffer on the hot path — one fact under one name. A raster whose `lease` is `own`
 * was made for one tile alone (a region a reader assembled or decoded for this read, a render's output):
 * its holder may write over it (an op computed in place, one buffer a tile less for V8's collector), give
 * it away (transferred from a worker), or end the lease, which returns the buffer to the thread's pool
 * (core/byte_pool.ts) once nothing reads it. Without a lease a raster is shared (a cached block, a flat
 * image held whole, a derived level): read only, never returned.
 */
import type { BytePool } from "./byte_pool.ts";
import type { Raster } from "./raster.ts";

/** The one kind of lease: the holder owns the buffer. */
export type Lease = "own";

/** A zeroed buffer of `n` bytes for pixels made for one tile alone, from the thread's pool. */
export function leaseBytes(pool: BytePool, n: number): Uint8Array<ArrayBuffer> {
  return pool.take(n);
}

/** `r`, held by its reader alone (its buffer made for this read). */
export function leased<R extends Raster>(r: R): R {
  return r.lease === "own" ? r : { ...r, lease: "own" };
}

/** True when the holder of `r` may write over its buffer, give it away or end its lease. */
export function ownsBuffer(r: Raster): boolean {
  return r.lease === "own";
}

/**
 * Ends the lease of `r` (nothing reads it any more): its buffer goes back to the pool, unless `r` is shared
 * or `keep` is a view of the same buffer (encoded bytes that are the pixels themselves).
 */
export function endLease(pool: BytePool, r: Raster, keep?: ArrayBufferView): void {
  if (r.lease === "own" && keep?.buffer !== r.data.buffer) pool.give(r.data);
}

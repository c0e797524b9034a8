/**
 * Small reads of a remote file through aligned blocks, as GDAL's `/vsicurl/` and `/vsis3/` do: a TIFF's
 * header, IFDs and tag arrays, and the stored tiles of a region, are many reads of a few bytes to a few
 * tens of kilobytes, and against an object store every request is a round trip (and a billed GET). Reads up
 * to `BLOCK × 4` are served from 64 KiB blocks; the blocks that reads of one turn of the event loop lack
 * are fetched together, one range per run of blocks (runs closer than `MERGE_GAP` blocks merged: a region's
 * rows of tiles are one request, not one per tile), kept (at most `MAX_BLOCKS` a file, least recently used
 * out) and shared by concurrent reads. Larger reads (a strip, a whole flat image) go straight through.
 * Every block is read pinned to the file's version, so blocks of two versions never meet.
 */
import { LruCache } from "../core/lru.ts";

/** The block size of remote reads. */
export const BLOCK = 64 << 10;
/** Blocks kept per open remote file (2 MiB). */
export const MAX_BLOCKS = 32;
/** Missing runs this many blocks apart or closer are fetched as one range (the gap read and kept too). */
export const MERGE_GAP = 4;

interface Pending {
  promise: Promise<Uint8Array>;
  resolve(b: Uint8Array): void;
  reject(e: unknown): void;
}

/** `read(offset, length)` of a file of `size` bytes through blocks fetched by `fetchRange`. */
export function blockReader(
  size: number,
  fetchRange: (offset: number, length: number) => Promise<Uint8Array>,
): (offset: number, length: number) => Promise<Uint8Array> {
  const blocks = new LruCache<number, Promise<Uint8Array>>(MAX_BLOCKS);
  let pending = new Map<number, Pending>();
  const fetchRun = async (first: number, last: number, wanted: Map<number, Pending>) => {
    const start = first * BLOCK;
    try {
      const bytes = await fetchRange(start, Math.min(size, (last + 1) * BLOCK) - start);
      for (let b = first; b <= last; b++) {
        const block = bytes.subarray(b * BLOCK - start, Math.min(bytes.length, (b + 1) * BLOCK - start));
        const p = wanted.get(b);
        if (p) p.resolve(block);
        else blocks.set(b, Promise.resolve(block)); // a gap block, kept for the next read
      }
    } catch (err) {
      for (let b = first; b <= last; b++) {
        const p = wanted.get(b);
        if (!p) continue;
        if (blocks.peek(b) === p.promise) blocks.delete(b); // a failed read is not kept
        p.reject(err);
      }
    }
  };
  const flush = () => {
    const wanted = pending;
    pending = new Map();
    const order = [...wanted.keys()].sort((a, b) => a - b);
    for (let i = 0; i < order.length;) {
      let j = i;
      while (j + 1 < order.length && order[j + 1] - order[j] <= MERGE_GAP + 1) j++;
      fetchRun(order[i], order[j], wanted);
      i = j + 1;
    }
  };
  const want = (b: number): Promise<Uint8Array> => {
    const kept = pending.get(b)?.promise ?? blocks.get(b);
    if (kept) return kept;
    let resolve!: (b: Uint8Array) => void, reject!: (e: unknown) => void;
    const promise = new Promise<Uint8Array>((res, rej) => (resolve = res, reject = rej));
    promise.catch(() => {}); // its readers see the error
    if (pending.size === 0) setTimeout(flush, 0);
    pending.set(b, { promise, resolve, reject });
    blocks.set(b, promise);
    return promise;
  };
  return async (offset, length) => {
    if (length > BLOCK * 4) return await fetchRange(offset, length);
    const first = Math.floor(offset / BLOCK), last = Math.floor((offset + length - 1) / BLOCK);
    const parts: Promise<Uint8Array>[] = [];
    for (let b = first; b <= last; b++) parts.push(want(b));
    const got = await Promise.all(parts);
    // A copy: a caller may transfer or write its bytes; the kept blocks stay intact.
    const out = new Uint8Array(Math.min(length, size - offset));
    for (let i = 0, at = 0; i < got.length; i++) {
      const from = i === 0 ? offset - first * BLOCK : 0;
      const n = Math.min(got[i].length - from, out.length - at);
      out.set(got[i].subarray(from, from + n), at);
      at += n;
    }
    return out;
  };
}

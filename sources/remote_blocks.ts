/**
 * Reads of a remote file batched and merged, as GDAL's `/vsicurl/` and `/vsis3/` do: against an object
 * store every request is a round trip (and a billed GET). The reads asked in one turn of the event loop
 * are sorted and merged into one range where they lie within `MERGE_GAP` bytes of each other (a region's
 * stored tiles are one request, not one per tile). Small reads — a TIFF's header, IFDs, tag arrays — are
 * widened to their 64 KiB block and the block kept (at most `MAX_BLOCKS` a file, least recently used out),
 * so the next small read nearby costs nothing; larger reads (a stored tile) ask for their exact bytes, and
 * reads past `BLOCK × 4` (a strip, a whole flat image) go straight through. Every range is read pinned to
 * the file's version, so bytes of two versions never meet.
 */
import { LruCache } from "../core/lru.ts";

/** The block size small reads are widened to. */
export const BLOCK = 64 << 10;
/** Reads under this many bytes are served through blocks. */
export const SMALL = 16 << 10;
/** Blocks kept per open remote file (1 MiB). */
export const MAX_BLOCKS = 16;
/** Reads of one turn this close or closer are fetched as one range (the gap read too). */
export const MERGE_GAP = 64 << 10;

interface Wanted {
  start: number;
  end: number;
  /** The caller keeps the bytes (a read, not a block): a copy unless the fetched range was its alone. */
  own: boolean;
  resolve(b: Uint8Array): void;
  reject(e: unknown): void;
}

/** `read(offset, length)` of a file of `size` bytes, batched and merged over `fetchRange`. */
export function blockReader(
  size: number,
  fetchRange: (offset: number, length: number) => Promise<Uint8Array>,
): (offset: number, length: number) => Promise<Uint8Array> {
  const blocks = new LruCache<number, Promise<Uint8Array>>(MAX_BLOCKS);
  let pending: Wanted[] = [];
  const fetchRun = async (run: Wanted[], start: number, end: number) => {
    try {
      const bytes = await fetchRange(start, end - start);
      for (const w of run) {
        const part = bytes.subarray(w.start - start, Math.min(bytes.length, w.end - start));
        // A range fetched for one read alone is that read's already: no copy.
        w.resolve(w.own && (run.length > 1 || part.length !== bytes.length) ? part.slice() : part);
      }
    } catch (err) {
      for (const w of run) w.reject(err);
    }
  };
  const flush = () => {
    const all = pending.sort((a, b) => a.start - b.start);
    pending = [];
    for (let i = 0; i < all.length;) {
      let end = all[i].end, j = i + 1;
      while (j < all.length && all[j].start - end <= MERGE_GAP) end = Math.max(end, all[j++].end);
      fetchRun(all.slice(i, j), all[i].start, end);
      i = j;
    }
  };
  /** The bytes [start, end) from the next batch. */
  const ask = (start: number, end: number, own: boolean) =>
    new Promise<Uint8Array>((resolve, reject) => {
      if (pending.length === 0) setTimeout(flush, 0);
      pending.push({ start, end, own, resolve, reject });
    });
  const block = (b: number): Promise<Uint8Array> => {
    const kept = blocks.get(b);
    if (kept) return kept;
    const p = ask(b * BLOCK, Math.min(size, (b + 1) * BLOCK), false);
    p.catch(() => blocks.peek(b) === p && blocks.delete(b)); // a failed read is not kept
    blocks.set(b, p);
    return p;
  };
  return async (offset, length) => {
    if (length > BLOCK * 4) return await fetchRange(offset, length);
    const end = Math.min(size, offset + length);
    if (length >= SMALL) return await ask(offset, end, true);
    // A copy out of the kept blocks: a caller may transfer or write its bytes.
    const first = Math.floor(offset / BLOCK), last = Math.floor((end - 1) / BLOCK);
    const parts = await Promise.all(Array.from({ length: last - first + 1 }, (_, i) => block(first + i)));
    const out = new Uint8Array(end - offset);
    for (let i = 0, at = 0; i < parts.length; i++) {
      const from = i === 0 ? offset - first * BLOCK : 0;
      const n = Math.min(parts[i].length - from, out.length - at);
      out.set(parts[i].subarray(from, from + n), at);
      at += n;
    }
    return out;
  };
}

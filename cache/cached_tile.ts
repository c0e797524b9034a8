/** An encoded tile as the cache keeps it, and as it is read back from an engine. */
import type { TileNotes } from "../core/tile_notes.ts";
import type { StoredBlob } from "./blob_store.ts";

/** An encoded tile as the cache keeps it. */
export interface CachedTile {
  bytes: Uint8Array;
  contentType: string;
  /** The `X-Op` value of the computation. */
  xOp: string;
  /** What the computation said besides the bytes (quantization, pass-through, render, backend). */
  notes: TileNotes;
}

/** A stored tile, or null for an entry without its notes (a corrupt entry, or one written before them): a miss. */
export function storedTile(stored: StoredBlob | null): CachedTile | null {
  if (!stored || typeof stored.meta.notes !== "string") return null;
  try {
    const notes = JSON.parse(stored.meta.notes);
    if (typeof notes !== "object" || notes === null) return null;
    return { bytes: stored.bytes, contentType: stored.meta.contentType, xOp: stored.meta.xOp ?? "", notes };
  } catch {
    return null;
  }
}

/**
 * `normal` (read and write), `bypass` (neither), `refresh` (recompute and overwrite), `lookup` (a tile in
 * memory or being computed is taken, anything else computed and not kept: a patch export's many one-off
 * patches never fill the cache the viewers' tiles live in).
 */
export type CacheMode = "normal" | "bypass" | "refresh" | "lookup";

/** What the cache answered and how long each phase took (ms). */
export interface CacheResult {
  tile: CachedTile;
  status: "hit" | "miss" | "bypass" | "refresh";
  timings: Record<string, number>;
}

/** A computed tile with its pipeline timings. */
export interface Computed {
  tile: CachedTile;
  timings: Record<string, number>;
}

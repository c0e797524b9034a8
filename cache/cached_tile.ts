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

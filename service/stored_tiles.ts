/**
 * Whole stored JPEG tiles read on the router thread. A tile that passes its stored tile through as it is
 * (op `none`, JPEG out, no rotation, mirror or render, the stored tile's own footprint, a local file:
 * pipeline/steps.ts `passThrough`) is a read of a few kilobytes of the file, no decoding or encoding.
 * Handing it to a worker costs the router more than the read (serialising the job, waking the worker,
 * taking the bytes back), so beside a worker pool the tile service reads such tiles here, with sources of
 * its own, and gives everything else to the backend. Reads are synchronous (sources/bytes.ts): `slowRun`
 * reads in a row on this thread that were slow (`SLOW_READ_MS`: a cold disk, a network file system) send
 * these tiles back to the workers for `offMs`, so a slow disk does not go on stalling the router.
 */
import type { SourceDescriptor } from "../sources/open.ts";
import { SourceCache } from "../sources/source_cache.ts";
import { readStoredTile, type RenderedTile, stepsFor } from "../pipeline/render.ts";
import { passThrough, storedJpegUse } from "../pipeline/steps.ts";
import type { TileRequest } from "../pipeline/tile_request.ts";
import { exactStoredTile, planRead } from "../pyramid/read_plan.ts";
import type { ImageInfo } from "../core/image_info.ts";
import type { Runtime } from "../cache/runtime.ts";
import { log } from "../telemetry/log.ts";
import { SLOW_READ_MS, slowReadsInRow } from "../sources/bytes.ts";

/**
 * True when `req` on `d` is a stored tile's own footprint that would pass through as it is, if stored as JPEG.
 * DICOM frames stay on the workers: a frame is as long as the file's offset table says, where a TIFF's stored
 * tile is refused past twice its samples (sources/tiff_block.ts), so a hostile file cannot make the router
 * read a gigabyte.
 */
function mayPassAsIs(d: SourceDescriptor, info: ImageInfo, req: TileRequest): boolean {
  if (d.remote || d.dicomweb || info.format === "dicom") return false;
  // The request's steps must hold the pass-through step (not an associated image's, a chunk's or a tensor's).
  if (storedJpegUse(req) !== "as-is" || !stepsFor(req).includes(passThrough)) return false;
  const plan = planRead(info, req);
  return !!plan && !!exactStoredTile(plan, req, info.levels[plan.level]);
}

/** How `StoredTiles` backs off a slow disk. */
export interface StoredTilesOptions {
  /** Sources kept open here. */
  maxOpen?: number;
  /** `slowRun` slow reads in a row on this thread send stored tiles to the workers for `offMs`. */
  slowRun?: number;
  offMs?: number;
  /** The clock and the count of slow reads in a row (tests). */
  now?: () => number;
  slowReadsInRow?: () => number;
}

/** Reads the tiles `mayPassAsIs` admits on this thread; each answer names `backend` (the CPU backend's name). */
export class StoredTiles {
  /** Tiles read here, and times slow reads sent them to the workers (/metrics, tests). */
  read = 0;
  pauses = 0;
  #slowRun: number;
  #slowReadsInRow: () => number;
  #sources: SourceCache;
  #offUntil = -Infinity;
  #offMs: number;
  #now: () => number;

  constructor(runtime: Runtime, readonly backend: string, opts: StoredTilesOptions = {}) {
    this.#sources = new SourceCache(runtime, opts.maxOpen ?? 16);
    this.#slowRun = opts.slowRun ?? 3;
    this.#offMs = opts.offMs ?? 30_000;
    this.#now = opts.now ?? (() => performance.now());
    this.#slowReadsInRow = opts.slowReadsInRow ?? slowReadsInRow;
  }

  /** The stored tile `req` is, read here; null when it is not one or reads are off (the backend computes it). */
  async tile(d: SourceDescriptor, info: ImageInfo, req: TileRequest): Promise<RenderedTile | null> {
    if (this.#now() < this.#offUntil || !mayPassAsIs(d, info, req)) return null;
    const source = await this.#sources.get(d);
    const tile = await readStoredTile(source, req);
    const slow = this.#slowReadsInRow();
    if (slow >= this.#slowRun) {
      this.pauses++;
      this.#offUntil = this.#now() + this.#offMs;
      log().warn("stored tiles: slow reads held the router; they go to the workers for a while", {
        id: req.image,
        slow_reads: slow,
        over_ms: SLOW_READ_MS,
        off_s: this.#offMs / 1000,
      });
    }
    if (!tile) return null;
    this.read++;
    return { ...tile, notes: { ...tile.notes, backend: this.backend } };
  }

  /** Closes the sources open here. */
  close(): Promise<void> {
    return this.#sources.close();
  }
}

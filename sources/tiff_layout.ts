/**
 * A TIFF level's block layout checked before anything is decoded: the tags that say where its blocks are
 * (tile size, rows per strip, offsets and byte counts) present and agreeing with its grid, and bounds on
 * the grid's bookkeeping and on the blocks one read may touch. A crafted file that breaks these made the
 * service assemble a million blocks for one tile (and grow by gigabytes) or read tiles of width 0.
 */
import { GeoTIFFImage } from "geotiff";
import { corruptSource, tooLarge } from "../errors.ts";

/** Tag ids of the block layout. */
const STRIP_OFFSETS = 273, ROWS_PER_STRIP = 278, STRIP_BYTE_COUNTS = 279;
const TILE_WIDTH = 322, TILE_LENGTH = 323, TILE_OFFSETS = 324, TILE_BYTE_COUNTS = 325;

/**
 * Blocks one region read may touch (each sample plane counted): a 4096² read of 16×16 tiles. Past it a read
 * is refused before any decode: every block costs a lookup, a read and a decode call, whatever its size.
 */
export const MAX_BLOCKS_PER_READ = 65_536;

/** Blocks a level may number when they are small (under `SMALL_BLOCK_PIXELS` each). */
export const MAX_SMALL_BLOCKS = 65_536;

/** Pixels below which a block is small: 64×64. A 200k² slide in 256² tiles has 610k blocks, none small. */
export const SMALL_BLOCK_PIXELS = 4096;

/** Blocks a level may number at all: its offsets and byte counts (16 bytes a block) within 32 MiB. */
export const MAX_LEVEL_BLOCKS = 2 << 20;

/** The geotiff file directory's maps, as `ifdEntryOf` reaches them. */
interface RawDirectory {
  actualizedFields: Map<number, unknown>;
  deferredFields: Map<number, unknown>;
  deferredArrays: Map<number, { length: number }>;
  hasTag(id: number): boolean;
}

/** The number of values of a tag, without loading a deferred array; 0 when absent. */
function valueCount(fd: RawDirectory, id: number): number {
  const deferred = fd.deferredArrays.get(id);
  if (deferred) return deferred.length;
  const v = fd.actualizedFields.get(id);
  if (v === undefined) return fd.deferredFields.has(id) ? 1 : 0;
  return Array.isArray(v) || ArrayBuffer.isView(v) ? (v as ArrayLike<unknown>).length : 1;
}

/**
 * Where a tiled TIFF keeps its block offsets under the strip tags (`TileWidth`/`TileLength` with
 * `StripOffsets`/`StripByteCounts` and no tile tags: libtiff's `cramps-tile.tif`), moves them to the tile
 * tags, as libtiff reads them (one field for both), and makes geotiff's image tiled. Returns true if it did.
 */
export function tilesUnderStripTags(image: GeoTIFFImage): boolean {
  const fd = image.getFileDirectory() as unknown as RawDirectory;
  const tileSize = fd.hasTag(TILE_WIDTH) && fd.hasTag(TILE_LENGTH);
  if (!tileSize || fd.hasTag(TILE_OFFSETS) || !fd.hasTag(STRIP_OFFSETS)) return false;
  for (const [from, to] of [[STRIP_OFFSETS, TILE_OFFSETS], [STRIP_BYTE_COUNTS, TILE_BYTE_COUNTS]]) {
    for (const map of [fd.actualizedFields, fd.deferredFields, fd.deferredArrays] as Map<number, unknown>[]) {
      if (!map.has(from)) continue;
      map.set(to, map.get(from));
      map.delete(from);
    }
  }
  (image as unknown as { isTiled: boolean }).isTiled = true;
  return true;
}

/** An IFD's block layout: what `checkLayout` and `checkReadBlocks` need (`IfdEntry` extends it). */
export interface BlockLayout {
  image: GeoTIFFImage;
  width: number;
  height: number;
  tiled: boolean;
  blockWidth: number;
  blockHeight: number;
  spp: number;
  /** PlanarConfiguration: 1 interleaved, 2 one plane of blocks per sample. */
  planar: number;
}

/** Stored blocks of a level: across, down, and in all (sample planes counted). */
export function blockCount(e: BlockLayout): { perRow: number; perCol: number; total: number } {
  const perRow = Math.ceil(e.width / e.blockWidth), perCol = Math.ceil(e.height / e.blockHeight);
  return { perRow, perCol, total: perRow * perCol * (e.planar === 2 ? e.spp : 1) };
}

/**
 * 422 when `e`'s layout tags are missing or disagree with its grid: tile offsets without a tile size, strip
 * offsets of several strips without rows per strip, offsets without byte counts, or a number of blocks
 * other than the grid's. 413 when the grid passes a bound: more than `MAX_LEVEL_BLOCKS` blocks, or more than
 * `MAX_SMALL_BLOCKS` blocks of under `SMALL_BLOCK_PIXELS` pixels each. `which` names the IFD in messages.
 */
export function checkLayout(e: BlockLayout, which: string): void {
  const fd = e.image.getFileDirectory() as unknown as RawDirectory;
  const [offTag, cntTag] = e.tiled ? [TILE_OFFSETS, TILE_BYTE_COUNTS] : [STRIP_OFFSETS, STRIP_BYTE_COUNTS];
  const [offName, cntName] = e.tiled ? ["TileOffsets", "TileByteCounts"] : ["StripOffsets", "StripByteCounts"];
  if (e.width < 1 || e.height < 1) return; // no pixels: `checkSupported` says so
  if (e.tiled && !(fd.hasTag(TILE_WIDTH) && fd.hasTag(TILE_LENGTH) && e.blockWidth >= 1 && e.blockHeight >= 1)) {
    throw corruptSource(`corrupt TIFF: ${which} has ${offName} but no valid TileWidth and TileLength`);
  }
  if (!e.tiled && !(e.blockHeight >= 1)) throw corruptSource(`corrupt TIFF: ${which} has RowsPerStrip 0`);
  const offsets = valueCount(fd, offTag), counts = valueCount(fd, cntTag);
  if (offsets === 0) throw corruptSource(`corrupt TIFF: ${which} has no ${offName}`);
  if (counts === 0) throw corruptSource(`corrupt TIFF: ${which} has ${offName} but no ${cntName}`);
  const { perRow, perCol, total } = blockCount(e);
  if (!e.tiled && !fd.hasTag(ROWS_PER_STRIP) && offsets !== total) {
    throw corruptSource(`corrupt TIFF: ${which} has ${offsets} strip offsets but no RowsPerStrip (one strip)`);
  }
  if (offsets !== total || counts !== total) {
    throw corruptSource(
      `corrupt TIFF: ${which} has ${offsets} ${offName} and ${counts} ${cntName}, where its ` +
        `${e.width}×${e.height} grid of ${e.blockWidth}×${e.blockHeight} ${e.tiled ? "tiles" : "strips"} ` +
        `has ${total} (${perRow}×${perCol}${e.planar === 2 ? `×${e.spp} planes` : ""})`,
    );
  }
  const kind = e.tiled ? "tiles" : "strips";
  if (total > MAX_LEVEL_BLOCKS) {
    throw tooLarge(
      `${which} is stored in ${total} ${kind}, more than the limit of ${MAX_LEVEL_BLOCKS} blocks a level ` +
        `(its block index would pass its budget): store it in larger tiles`,
    );
  }
  if (total > MAX_SMALL_BLOCKS && e.blockWidth * e.blockHeight < SMALL_BLOCK_PIXELS) {
    throw tooLarge(
      `${which} is stored in ${total} ${kind} of ${e.blockWidth}×${e.blockHeight} pixels: more than ` +
        `${MAX_SMALL_BLOCKS} blocks must be at least ${SMALL_BLOCK_PIXELS} pixels each (e.g. 64×64): ` +
        `store it in larger tiles`,
    );
  }
}

/**
 * 413 before any decode when a read of `w`×`h` pixels at (`x`, `y`) of `e` would touch more than
 * `MAX_BLOCKS_PER_READ` stored blocks.
 */
export function checkReadBlocks(e: BlockLayout, x: number, y: number, w: number, h: number): void {
  const across = Math.floor((x + w - 1) / e.blockWidth) - Math.floor(x / e.blockWidth) + 1;
  const down = Math.floor((y + h - 1) / e.blockHeight) - Math.floor(y / e.blockHeight) + 1;
  const blocks = across * down * (e.planar === 2 ? e.spp : 1);
  if (blocks <= MAX_BLOCKS_PER_READ) return;
  throw tooLarge(
    `this ${w}×${h} region of a ${e.width}×${e.height} level stored in ${e.blockWidth}×${e.blockHeight} ` +
      `${e.tiled ? "tiles" : "strips"} touches ${blocks} blocks, more than the limit of ${MAX_BLOCKS_PER_READ} ` +
      `a read: ask for a smaller region or a coarser level`,
  );
}

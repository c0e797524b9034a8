/**
 * Deep Zoom geometry, after openslide-python's `DeepZoomGenerator`: a pure value computed from the
 * level-0 size, the tile size and the overlap. No I/O. Coordinate planes are named by prefix:
 * `z` Deep Zoom pixels, `t` tile indices, `l0` level-0 (full resolution) pixels.
 */

import type { Rect } from "../core/rect.ts";

/** Where one Deep Zoom tile comes from and how big it is. */
export interface DeepZoomTile {
  /**
   * The tile's footprint in level-0 pixels, overlap included: exactly `zWidth·downsample` wide, so every
   * tile of a level shares one pixel grid. At the right and bottom edges of levels whose downsample does
   * not divide the image size it extends past the image by less than one Deep Zoom pixel (that last
   * pixel averages only the image part). openslide clips it instead, which skews the edge tile's scale.
   */
  l0Region: Rect;
  /** The tile's size in Deep Zoom pixels of its level (what the viewer receives). */
  zWidth: number;
  zHeight: number;
}

/** The Deep Zoom pyramid of one image: level sizes, tile counts and tile regions. */
export class DeepZoomGeometry {
  /** Number of Deep Zoom levels: ceil(log2(max(W, H))) + 1. */
  readonly levelCount: number;
  /** Size of each Deep Zoom level in pixels, coarsest (1×1) first. */
  readonly zLevelSizes: ReadonlyArray<readonly [number, number]>;
  /** Tile columns and rows of each level. */
  readonly tLevelCounts: ReadonlyArray<readonly [number, number]>;

  constructor(
    readonly l0Width: number,
    readonly l0Height: number,
    readonly tileSize = 254,
    readonly overlap = 1,
  ) {
    if (!(l0Width >= 1 && l0Height >= 1)) throw new RangeError("image size must be at least 1×1");
    if (!(tileSize >= 1) || !(overlap >= 0)) throw new RangeError("bad tile size or overlap");
    const zSizes: [number, number][] = [];
    let w = l0Width, h = l0Height;
    zSizes.push([w, h]);
    while (w > 1 || h > 1) {
      w = Math.max(1, Math.ceil(w / 2));
      h = Math.max(1, Math.ceil(h / 2));
      zSizes.push([w, h]);
    }
    zSizes.reverse();
    this.zLevelSizes = zSizes;
    this.levelCount = zSizes.length;
    this.tLevelCounts = zSizes.map(([zw, zh]) => [Math.ceil(zw / tileSize), Math.ceil(zh / tileSize)] as const);
  }

  /** Level-0 pixels per Deep Zoom pixel at `level` (a power of two). */
  downsample(level: number): number {
    return 2 ** (this.levelCount - 1 - level);
  }

  /** True when `level`, `col`, `row` name a tile of this pyramid. */
  hasTile(level: number, col: number, row: number): boolean {
    if (!Number.isInteger(level) || level < 0 || level >= this.levelCount) return false;
    const [cols, rows] = this.tLevelCounts[level];
    return Number.isInteger(col) && Number.isInteger(row) && col >= 0 && row >= 0 && col < cols &&
      row < rows;
  }

  /** The level-0 region and output size of tile (`col`, `row`) at `level`; throws if out of range. */
  tile(level: number, col: number, row: number): DeepZoomTile {
    if (!this.hasTile(level, col, row)) throw new RangeError("no such tile");
    const [zLevelW, zLevelH] = this.zLevelSizes[level];
    const [cols, rows] = this.tLevelCounts[level];
    // Overlap on each side that has a neighbour.
    const zX = col * this.tileSize - (col > 0 ? this.overlap : 0);
    const zY = row * this.tileSize - (row > 0 ? this.overlap : 0);
    const zW = Math.min(this.tileSize, zLevelW - col * this.tileSize) + (col > 0 ? this.overlap : 0) +
      (col < cols - 1 ? this.overlap : 0);
    const zH = Math.min(this.tileSize, zLevelH - row * this.tileSize) + (row > 0 ? this.overlap : 0) +
      (row < rows - 1 ? this.overlap : 0);
    // Deep Zoom pixels map to level 0 by the level's downsample.
    const ds = this.downsample(level);
    return { l0Region: { x: zX * ds, y: zY * ds, w: zW * ds, h: zH * ds }, zWidth: zW, zHeight: zH };
  }
}

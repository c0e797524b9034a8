/**
 * XYZ (slippy-map) geometry for a flat image: 256-px tiles, zoom `z` shows the image at
 * downsample 2^(maxZoom - z), maxZoom = ceil(log2(max(W, H) / 256)). Pure, no I/O.
 */
import type { Rect } from "../core/rect.ts";
import { GRID_TILE } from "./levels.ts";

/** One XYZ tile: its level-0 footprint (may extend past the image) and output size. */
export interface XyzTile {
  /** Full footprint in level-0 pixels; the part past the image edge is padding. */
  l0Region: Rect;
  outWidth: number;
  outHeight: number;
}

/** The XYZ tile pyramid of one image. */
export class XyzGeometry {
  /** The zoom at which one output pixel is one level-0 pixel. */
  readonly maxZoom: number;

  constructor(readonly l0Width: number, readonly l0Height: number, readonly tileSize = GRID_TILE) {
    const longest = Math.max(l0Width, l0Height);
    this.maxZoom = Math.max(0, Math.ceil(Math.log2(longest / tileSize) - 1e-12));
  }

  /** Level-0 pixels per output pixel at zoom `z`. */
  downsample(z: number): number {
    return 2 ** (this.maxZoom - z);
  }

  /** Tile columns and rows at zoom `z`. */
  tileCounts(z: number): [number, number] {
    const span = this.tileSize * this.downsample(z);
    return [Math.ceil(this.l0Width / span), Math.ceil(this.l0Height / span)];
  }

  /** True when (`z`, `x`, `y`) names a tile that shows part of the image. */
  hasTile(z: number, x: number, y: number): boolean {
    if (![z, x, y].every(Number.isInteger) || z < 0 || z > this.maxZoom || x < 0 || y < 0) return false;
    const [cols, rows] = this.tileCounts(z);
    return x < cols && y < rows;
  }

  /** The tile at (`z`, `x`, `y`); throws when out of range. */
  tile(z: number, x: number, y: number): XyzTile {
    if (!this.hasTile(z, x, y)) throw new RangeError("no such tile");
    const span = this.tileSize * this.downsample(z);
    return {
      l0Region: { x: x * span, y: y * span, w: span, h: span },
      outWidth: this.tileSize,
      outHeight: this.tileSize,
    };
  }
}

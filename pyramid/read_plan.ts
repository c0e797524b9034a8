/**
 * Read planning, pure: which level serves a footprint, which of its pixels to read and where they land
 * in the output; the footprint widened for a neighbourhood op's halo; whether a request is exactly one
 * stored tile (JPEG pass-through); and which level the image statistics are computed on. No I/O: every
 * answer is a function of the level sizes, tested by tables (tests/geometry_test.ts).
 */
import type { Rect } from "../core/rect.ts";
import { bestLevelForDownsample, levelDownsample } from "./levels.ts";
import { type PyramidLevel } from "../core/image_info.ts";

/** What a read serves: a footprint in level-0 pixels (parts outside the image are padding) at an output size. */
export interface Footprint {
  region: Rect;
  outWidth: number;
  outHeight: number;
}

/** Which level to read, which pixels of it, and where they land in the output. */
export interface ReadPlan {
  level: number;
  /** Integer rectangle of the level to read. */
  readX: number;
  readY: number;
  readW: number;
  readH: number;
  /** Where the inner output grid starts in the read raster, and read pixels per output pixel. */
  srcX: number;
  srcY: number;
  srcScaleX: number;
  srcScaleY: number;
  /** Output pixels covered by the image; the rest of the output is padding. */
  outX: number;
  outY: number;
  outW: number;
  outH: number;
}

/** The read plan for a footprint of an image, or null when the footprint misses the image entirely. */
export function planRead(
  info: { width: number; height: number; levels: readonly PyramidLevel[] },
  f: Footprint,
): ReadPlan | null {
  const { x: rx, y: ry, w: rw, h: rh } = f.region;
  const ix0 = Math.max(rx, 0), iy0 = Math.max(ry, 0);
  const ix1 = Math.min(rx + rw, info.width), iy1 = Math.min(ry + rh, info.height);
  if (ix1 <= ix0 || iy1 <= iy0) return null;
  // Level-0 pixels per output pixel.
  const sx = rw / f.outWidth, sy = rh / f.outHeight;
  const outX = Math.max(0, Math.floor((ix0 - rx) / sx + 1e-9));
  const outY = Math.max(0, Math.floor((iy0 - ry) / sy + 1e-9));
  const outW = Math.max(1, Math.min(f.outWidth, Math.ceil((ix1 - rx) / sx - 1e-9)) - outX);
  const outH = Math.max(1, Math.min(f.outHeight, Math.ceil((iy1 - ry) / sy - 1e-9)) - outY);
  const level = bestLevelForDownsample(info.levels, Math.min(sx, sy));
  const L = info.levels[level];
  // The inner output grid in level pixels: output pixel o covers [start + o·scale, start + (o+1)·scale).
  const startX = (rx + outX * sx) / L.downsampleX, startY = (ry + outY * sy) / L.downsampleY;
  const scaleX = sx / L.downsampleX, scaleY = sy / L.downsampleY;
  const readX = Math.max(0, Math.floor(startX + 1e-9)), readY = Math.max(0, Math.floor(startY + 1e-9));
  const readW = Math.max(1, Math.min(L.width, Math.ceil(startX + outW * scaleX - 1e-9)) - readX);
  const readH = Math.max(1, Math.min(L.height, Math.ceil(startY + outH * scaleY - 1e-9)) - readY);
  return {
    level,
    readX,
    readY,
    readW,
    readH,
    srcX: startX - readX,
    srcY: startY - readY,
    srcScaleX: scaleX,
    srcScaleY: scaleY,
    outX,
    outY,
    outW,
    outH,
  };
}

/** The footprint widened by `halo` output pixels on each side, on the same pixel grid. */
export function widenForHalo(f: Footprint, halo: number): Footprint {
  const sx = f.region.w / f.outWidth, sy = f.region.h / f.outHeight;
  return {
    region: {
      x: f.region.x - halo * sx,
      y: f.region.y - halo * sy,
      w: f.region.w + 2 * halo * sx,
      h: f.region.h + 2 * halo * sy,
    },
    outWidth: f.outWidth + 2 * halo,
    outHeight: f.outHeight + 2 * halo,
  };
}

/**
 * For a neighbourhood op: the part of the widened output inside the image (`valid`: reads clamp to it)
 * and the tile's part of the op's output (`crop`), from the plans of the widened and of the plain footprint.
 */
export function haloWindows(wide: ReadPlan, plain: ReadPlan, halo: number): { valid: Rect; crop: Rect } {
  return {
    valid: { x: wide.outX, y: wide.outY, w: wide.outW, h: wide.outH },
    crop: { x: halo + plain.outX, y: halo + plain.outY, w: plain.outW, h: plain.outH },
  };
}

/** A stored level's tiling, as the pass-through test needs it. */
export interface StoredTiling {
  width: number;
  height: number;
  tileWidth: number;
  tileHeight: number;
  stored: boolean;
}

/**
 * The stored tile (column, row) a footprint is exactly — unit scale, no padding, the tile's own size,
 * aligned to the tile grid, not a partial edge tile — or null.
 */
export function exactStoredTile(plan: ReadPlan, f: Footprint, L: StoredTiling): { col: number; row: number } | null {
  const unit = plan.srcScaleX === 1 && plan.srcScaleY === 1 && plan.srcX === 0 && plan.srcY === 0;
  const whole = plan.outX === 0 && plan.outY === 0 && plan.outW === f.outWidth && plan.outH === f.outHeight;
  if (!unit || !whole || !L.stored || f.outWidth !== L.tileWidth || f.outHeight !== L.tileHeight) return null;
  if (plan.readX % L.tileWidth !== 0 || plan.readY % L.tileHeight !== 0) return null;
  if (plan.readX + L.tileWidth > L.width || plan.readY + L.tileHeight > L.height) return null;
  return { col: plan.readX / L.tileWidth, row: plan.readY / L.tileHeight };
}

/** Longest side of the stats level. */
export const STATS_MAX_SIDE = 2048;

/**
 * The stats level: the image at downsample 2^k, k the smallest with longer side ≤ `STATS_MAX_SIDE`. A
 * level of the pyramid at that downsample (within 1 %) is read whole (`level`); else the nearest finer
 * level is read and area-averaged to `width` × `height` (`finer`).
 */
export function statsLevelPlan(
  width: number,
  height: number,
  levels: readonly PyramidLevel[],
): { downsample: number; width: number; height: number } & ({ level: number } | { finer: number }) {
  let k = 0;
  while (Math.ceil(Math.max(width, height) / 2 ** k) > STATS_MAX_SIDE) k++;
  const downsample = 2 ** k;
  const exact = levels.findIndex((l) => Math.abs(levelDownsample(l) - downsample) / downsample < 0.01);
  if (exact >= 0) return { downsample, width: levels[exact].width, height: levels[exact].height, level: exact };
  let finer = 0;
  levels.forEach((l, i) => {
    if (levelDownsample(l) < downsample) finer = i;
  });
  return { downsample, width: Math.ceil(width / downsample), height: Math.ceil(height / downsample), finer };
}

/**
 * The band a tile reads, where the level it reads is stored in bands as wide as the level (an NDPI level's
 * restart-interval bands, a stripped TIFF's strips): tiles of one band then run on one worker, which decodes
 * the band once for all of them, where spread over the workers each decoded it (and their copies crowded
 * the pixel budget: NDPI Deep Zoom −45 % tiles/s at the default budget, bench/README.md). Undefined for
 * tiled levels (a block is one or a few tiles: any worker).
 */
export function bandAffinity(
  info: { width: number; height: number; levels: readonly PyramidLevel[] },
  f: Footprint,
): number | undefined {
  const plan = planRead(info, f);
  if (!plan) return undefined;
  const L = info.levels[plan.level] as PyramidLevel & { stored?: boolean; tileWidth?: number; tileHeight?: number };
  if (!L.stored || !L.tileWidth || !L.tileHeight || L.tileWidth < L.width || L.height <= L.tileHeight) return undefined;
  return plan.level * 65_537 + Math.floor((plan.readY + plan.readH / 2) / L.tileHeight);
}

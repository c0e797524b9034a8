/** Pyramid level choice: which stored (or derived) level serves a requested downsample. */
import type { PyramidLevel } from "../core/image_info.ts";

/**
 * The 256-px grid the web protocols share: IIIF's tiles and smallest size, XYZ's tiles, and the side
 * derived levels stop at.
 */
export const GRID_TILE = 256;

/** Mean of the two axes' downsamples, as openslide reports a level's downsample. */
export function levelDownsample(level: PyramidLevel): number {
  return (level.downsampleX + level.downsampleY) / 2;
}

/**
 * The coarsest level whose downsample does not exceed `downsample` (the level with the fewest pixels
 * that still has enough resolution); level 0 when every level is coarser. Levels are finest first.
 */
export function bestLevelForDownsample(levels: readonly PyramidLevel[], downsample: number): number {
  let best = 0;
  for (let i = 0; i < levels.length; i++) {
    if (levelDownsample(levels[i]) <= downsample * (1 + 1e-9)) best = i;
  }
  return best;
}

/**
 * Derived levels to append after the coarsest stored one: halve (ceil) until the longer side is at most
 * `minSide`. Each derived level is made by 2× area averaging of the level before it.
 */
export function derivedLevelSizes(
  l0Width: number,
  l0Height: number,
  coarsest: { width: number; height: number },
  minSide = GRID_TILE,
): PyramidLevel[] {
  const out: PyramidLevel[] = [];
  let w = coarsest.width, h = coarsest.height;
  while (Math.max(w, h) > minSide) {
    w = Math.ceil(w / 2);
    h = Math.ceil(h / 2);
    out.push({ width: w, height: h, downsampleX: l0Width / w, downsampleY: l0Height / h });
  }
  return out;
}

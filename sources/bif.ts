/**
 * Ventana BIF's stitched levels. A BIF scanner stores level 0 as its camera's tiles, which overlap: the
 * level-0 XMP (`EncodeInfo`) gives each area of interest (its tiles across and down, its first tile, its
 * position) and the overlap of each pair of neighbours (`TileJointInfo`). As OpenSlide 3.4.1 does, every
 * level is the grid of those tiles (a lower level's TIFF tile holds ds × ds of them, each scaled by 1/ds),
 * each placed at its column × the mean advance (the tile size less the confidence-weighted mean overlap),
 * later tiles over earlier ones; where OpenSlide places a tile at a fraction of a pixel, here it is rounded
 * to the nearest pixel. Where no tile falls, the level is white.
 */
import { corruptSource } from "../errors.ts";
import type { Raster } from "../core/raster.ts";

/** One area of interest: its first tile (column, row in the level-0 tile grid), its extent, its position. */
export interface BifArea {
  startCol: number;
  startRow: number;
  across: number;
  down: number;
  /** Level-0 pixel position of its first tile (y from the top of the slide). */
  x: number;
  y: number;
}

/** The stitching of a BIF: level-0 tile size, advance between tiles, areas. */
export interface BifLayout {
  tileWidth: number;
  tileHeight: number;
  advanceX: number;
  advanceY: number;
  areas: BifArea[];
}

// deno-lint-ignore no-explicit-any
type Xml = any;

/**
 * The layout from a parsed level-0 `EncodeInfo` (attributes as `@Name`), or null when it has no areas (a
 * Ventana TIFF: a plain grid). 422 for inconsistent region metadata.
 */
export function bifLayout(encode: Xml, tileWidth: number, tileHeight: number): BifLayout | null {
  const root = encode?.EncodeInfo?.[0];
  const infos: Xml[] = root?.SlideStitchInfo?.[0]?.ImageInfo ?? [];
  if (!infos.length) return null;
  const origins: Xml[] = Object.entries(root?.AoiOrigin?.[0] ?? {}).flatMap(([k, v]) =>
    k.startsWith("@") || k === "#text" ? [] : (v as Xml[])
  );
  if (origins.length !== infos.length) throw corruptSource("a Ventana BIF with inconsistent region metadata");
  const num = (o: Xml, name: string) => {
    const v = Number(o?.[`@${name}`]);
    if (!Number.isFinite(v)) throw corruptSource(`a Ventana BIF region without a valid ${name}`);
    return v;
  };
  const areas: (BifArea & { height: number })[] = [];
  let sumX = 0, weightX = 0, sumY = 0, weightY = 0;
  infos.forEach((info, i) => {
    if (!num(info, "AOIScanned")) return;
    if (num(info, "Width") !== tileWidth || num(info, "Height") !== tileHeight) {
      throw corruptSource("a Ventana BIF whose region tile size is not its level-0 tile size");
    }
    const ox = num(origins[i], "OriginX"), oy = num(origins[i], "OriginY");
    if (ox % tileWidth || oy % tileHeight) throw corruptSource("a Ventana BIF region origin off the tile grid");
    const across = num(info, "NumCols"), down = num(info, "NumRows");
    if (!(across > 0 && down > 0 && across * down <= 1 << 22)) throw corruptSource("a Ventana BIF region of no tiles");
    for (const j of info.TileJointInfo ?? []) {
      const confidence = num(j, "Confidence");
      if (j["@Direction"] === "RIGHT") (sumX -= confidence * num(j, "OverlapX"), weightX += confidence);
      else if (j["@Direction"] === "UP") (sumY -= confidence * num(j, "OverlapY"), weightY += confidence);
      else throw corruptSource(`a Ventana BIF tile joint of direction "${j["@Direction"]}"`);
    }
    areas.push({
      startCol: ox / tileWidth,
      startRow: oy / tileHeight,
      across,
      down,
      x: num(info, "Pos-X"),
      y: num(info, "Pos-Y"),
      height: 0,
    });
  });
  const advanceX = tileWidth + (weightX ? sumX / weightX : 0);
  const advanceY = tileHeight + (weightY ? sumY / weightY : 0);
  if (!(advanceX > 0 && advanceY > 0)) throw corruptSource("a Ventana BIF whose tiles overlap by more than a tile");
  // Pos-Y is the distance from an area's bottom to a line below all areas: from the top instead.
  for (const a of areas) a.height = (a.down - 1) * advanceY + tileHeight;
  const top = Math.max(0, ...areas.map((a) => a.y + a.height));
  return {
    tileWidth,
    tileHeight,
    advanceX,
    advanceY,
    areas: areas.map(({ height, ...a }) => ({ ...a, y: top - a.y - height })),
  };
}

/** Where tile (col, row) of `area` lies at downsample `ds` (whole pixels), and its size there. */
function placed(b: BifLayout, a: BifArea, ds: number, col: number, row: number) {
  return {
    x: Math.round((a.x - a.startCol * b.advanceX + col * b.advanceX) / ds),
    y: Math.round((a.y - a.startRow * b.advanceY + row * b.advanceY) / ds),
    w: b.tileWidth / ds,
    h: b.tileHeight / ds,
  };
}

/** A level's size at downsample `ds`: as far as its last tiles reach. */
export function bifLevelSize(b: BifLayout, ds: number): { width: number; height: number } {
  let width = 0, height = 0;
  for (const a of b.areas) {
    const p = placed(b, a, ds, a.startCol + a.across - 1, a.startRow + a.down - 1);
    width = Math.max(width, p.x + p.w);
    height = Math.max(height, p.y + p.h);
  }
  return { width: Math.ceil(width), height: Math.ceil(height) };
}

/**
 * The region (x, y, w, h) of the level at downsample `ds` (8-bit, `spp` samples), assembled from its tiles:
 * `readStored(sx, sy, sw, sh)` reads the TIFF level's pixels, where tile (col, row) is at (col, row) × the
 * tile size / ds.
 */
export async function readBifRegion(
  b: BifLayout,
  ds: number,
  [x, y, w, h]: [number, number, number, number],
  spp: number,
  readStored: (sx: number, sy: number, sw: number, sh: number) => Promise<Raster>,
): Promise<Raster> {
  const out = new Uint8Array(w * h * spp).fill(255);
  const tw = b.tileWidth / ds, th = b.tileHeight / ds;
  for (const a of b.areas) {
    const first = placed(b, a, ds, a.startCol, a.startRow);
    const stepX = b.advanceX / ds, stepY = b.advanceY / ds;
    const c0 = Math.max(a.startCol, a.startCol + Math.floor((x - first.x - tw) / stepX));
    const c1 = Math.min(a.startCol + a.across - 1, a.startCol + Math.ceil((x + w - first.x) / stepX));
    const r0 = Math.max(a.startRow, a.startRow + Math.floor((y - first.y - th) / stepY));
    const r1 = Math.min(a.startRow + a.down - 1, a.startRow + Math.ceil((y + h - first.y) / stepY));
    // Row by row, column by column: later tiles over earlier ones, in order.
    for (let row = r0; row <= r1; row++) {
      const reads: Promise<{ p: ReturnType<typeof placed>; ix0: number; iy0: number; r: Raster } | null>[] = [];
      for (let col = c0; col <= c1; col++) {
        const p = placed(b, a, ds, col, row);
        const ix0 = Math.max(x, p.x), ix1 = Math.min(x + w, p.x + tw);
        const iy0 = Math.max(y, p.y), iy1 = Math.min(y + h, p.y + th);
        if (ix1 <= ix0 || iy1 <= iy0) continue;
        reads.push(
          readStored(col * tw + ix0 - p.x, row * th + iy0 - p.y, ix1 - ix0, iy1 - iy0).then((r) => ({
            p,
            ix0,
            iy0,
            r,
          })),
        );
      }
      for (const got of await Promise.all(reads)) {
        if (!got) continue;
        const { ix0, iy0, r } = got;
        const data = r.data as Uint8Array;
        for (let yy = 0; yy < r.height; yy++) {
          out.set(data.subarray(yy * r.width * spp, (yy + 1) * r.width * spp), ((iy0 - y + yy) * w + (ix0 - x)) * spp);
        }
      }
    }
  }
  return { width: w, height: h, channels: spp, type: "uint8", data: out, lease: "own" };
}

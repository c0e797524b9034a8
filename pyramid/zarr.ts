/**
 * The virtual OME-Zarr store of an image (OME-NGFF 0.4 on Zarr v2): its levels (level k is the image at
 * 1/2^k, ⌈W/2^k⌉ × ⌈H/2^k⌉, the Deep Zoom level sizes, down to one chunk), its axes (`t`, `c`, `z` where
 * the source has several of them, then `y`, `x`), its chunk grid (256 × 256 in y and x; all channels of a
 * photo in one chunk, one channel a chunk otherwise) and the footprint of each chunk in level-0 pixels.
 * Chunks are computed on demand (pipeline/render.ts, format `zarr`), so nothing here reads pixels.
 */
import type { Rect } from "../core/rect.ts";
import type { PixelType } from "../core/raster.ts";
import type { ImageInfo } from "../core/image_info.ts";

/** Chunk side in y and x. */
export const ZARR_CHUNK = 256;

/** The Zarr v2 dtype string of each sample type (little-endian). */
export const ZARR_DTYPES: Record<PixelType, string> = {
  uint8: "|u1",
  int8: "|i1",
  uint16: "<u2",
  int16: "<i2",
  uint32: "<u4",
  int32: "<i4",
  float32: "<f4",
  float64: "<f8",
};

/** One axis of the store, as NGFF names and types it. */
export interface ZarrAxis {
  name: "t" | "c" | "z" | "y" | "x";
  type: "time" | "channel" | "space";
}

/** The store's arrays' common shape rules: axes, level sizes, the channels of one chunk. */
export interface ZarrLayout {
  axes: ZarrAxis[];
  /** Per level: its size in pixels and its scale (level-0 pixels per level pixel, 2^k). */
  levels: { width: number; height: number; scale: number }[];
  /** Channels (`c`), and Z and T planes, of the image array; the label array has one channel. */
  channels: number;
  z: number;
  t: number;
  /** Channels one chunk holds: all of a photo's samples (≤ 4), one of a multichannel image. */
  channelsPerChunk: number;
}

/** The layout of `info`'s store: levels down to the first that fits one chunk. */
export function zarrLayout(
  info: Pick<ImageInfo, "width" | "height" | "channels" | "multichannel" | "planes">,
): ZarrLayout {
  const levels = [];
  for (let k = 0;; k++) {
    const s = 2 ** k;
    const width = Math.ceil(info.width / s), height = Math.ceil(info.height / s);
    levels.push({ width, height, scale: s });
    if (Math.max(width, height) <= ZARR_CHUNK) break;
  }
  const z = info.planes?.z ?? 1, t = info.planes?.t ?? 1;
  const axes: ZarrAxis[] = [
    ...(t > 1 ? [{ name: "t", type: "time" } as const] : []),
    { name: "c", type: "channel" },
    ...(z > 1 ? [{ name: "z", type: "space" } as const] : []),
    { name: "y", type: "space" },
    { name: "x", type: "space" },
  ];
  const channelsPerChunk = info.multichannel || info.channels > 4 ? 1 : info.channels;
  return { axes, levels, channels: info.channels, z, t, channelsPerChunk };
}

/** An array's shape and chunk shape, in axis order; `labels` is the one-channel label array. */
export function arrayShape(layout: ZarrLayout, level: number, labels: boolean): { shape: number[]; chunks: number[] } {
  const L = layout.levels[level];
  const dims: Record<ZarrAxis["name"], [number, number]> = {
    t: [layout.t, 1],
    c: labels ? [1, 1] : [layout.channels, layout.channelsPerChunk],
    z: [layout.z, 1],
    y: [L.height, ZARR_CHUNK],
    x: [L.width, ZARR_CHUNK],
  };
  return {
    shape: layout.axes.map((a) => dims[a.name][0]),
    chunks: layout.axes.map((a) => dims[a.name][1]),
  };
}

/** What one chunk is: its footprint in level-0 pixels (256 level pixels a side) and the planes it holds. */
export interface ChunkTarget {
  level: number;
  region: Rect;
  /** Channels in order, and the Z and T plane. */
  c: number[];
  z: number;
  t: number;
}

/**
 * The chunk at grid position `index` (one number per axis) of level `level`, or null when it lies past
 * the array (a 404: Zarr readers take a missing chunk as the fill value, but these never exist).
 */
export function chunkTarget(layout: ZarrLayout, level: number, index: number[], labels: boolean): ChunkTarget | null {
  const L = layout.levels[level];
  if (!L || index.length !== layout.axes.length) return null;
  const { shape, chunks } = arrayShape(layout, level, labels);
  if (index.some((i, a) => !Number.isSafeInteger(i) || i < 0 || i * chunks[a] >= shape[a])) return null;
  const at = (name: ZarrAxis["name"]) => {
    const a = layout.axes.findIndex((x) => x.name === name);
    return a < 0 ? 0 : index[a] * chunks[a];
  };
  const c0 = at("c"), n = labels ? 1 : Math.min(layout.channelsPerChunk, layout.channels - c0);
  const side = ZARR_CHUNK * L.scale;
  return {
    level,
    region: { x: at("x") * L.scale, y: at("y") * L.scale, w: side, h: side },
    c: Array.from({ length: n }, (_, i) => c0 + i),
    z: at("z"),
    t: at("t"),
  };
}

/**
 * `TileRequest`: the one request type every protocol reduces to. Routes build it; nothing downstream knows
 * the protocol. Its canonical string is the cache key (equivalent URLs share one entry).
 */
import { tooLarge } from "../errors.ts";
import type { Rect } from "../core/rect.ts";
import { canonicalOp, type OpSpec } from "../kernels/op.ts";
import { sha256Hex, type TileKey } from "../cache/key.ts";
import type { CodecTier } from "../codecs/tier.ts";

import { canonicalTensor, type TensorSpec } from "./tensor.ts";
import { ZARR_COMPRESSOR } from "../zarr/metadata.ts";
import { canonicalRender, type ResolvedRender } from "../kernels/render.ts";

/** Output encodings (`npy`: a NumPy tensor, see pipeline/tensor.ts; `zarr`: an OME-Zarr chunk, zarr/chunk.ts). */
export type TileFormat = "jpeg" | "png" | "webp" | "npy" | "zarr";

/**
 * What a `zarr` chunk holds: the raw samples of channels `c` (in order) of Z/T plane `z`, `t`, no render;
 * or, with `labels`, the op's output as 0/1 labels (the tissue mask).
 */
export interface ChunkSpec {
  c: number[];
  z: number;
  t: number;
  labels?: boolean;
}

/** Everything needed to compute one output image. Plain data (crosses to workers as is). */
export interface TileRequest {
  /** Image id (path relative to the images directory). */
  image: string;
  /** Source version (size and mtime); a changed file gives new keys. */
  version: string;
  /** Footprint in level-0 pixels; parts outside the image are padding. */
  region: Rect;
  outWidth: number;
  outHeight: number;
  op: OpSpec;
  format: TileFormat;
  /** 1..100 for JPEG and WebP; ignored (and dropped from the key) for PNG. */
  quality: number;
  /**
   * An associated image (Aperio `thumbnail`, `label`, `macro`) instead of the pyramid; `region` is then
   * in that image's pixels.
   */
  associated?: string;
  /** A JPEG's padding (past the image edge) and the colour under transparent pixels, `RRGGBB`; absent: white. */
  background?: string;
  /** Clockwise rotation applied after the op (IIIF); 0 when absent. */
  rotate?: 0 | 90 | 180 | 270;
  /** Mirror on the vertical axis before rotating (IIIF `!`). */
  mirror?: boolean;
  /** For `npy` output: dtype, normalization, quantization. */
  tensor?: TensorSpec;
  /** The render step (channels, colours, windows, stretch, colormap), windows resolved; absent: by type range. */
  render?: ResolvedRender;
  /** For `zarr` output: the planes the chunk holds. */
  chunk?: ChunkSpec;
  /**
   * Read as one of a sweep over the level (a patch export): stored blocks are decoded whole, not in part
   * (`ReadHints.scan`). How, not what: not part of the key.
   */
  scan?: boolean;
}

/**
 * The most bytes of samples one rendered output (tile, IIIF image, thumbnail, patch, tensor) may hold
 * before encoding: 4096² RGBA 8-bit, or 2048² × 4 float32. Past it, 413.
 */
export const MAX_OUTPUT_BYTES = 64 * 2 ** 20;

/** 413 when `request`'s output would exceed `MAX_OUTPUT_BYTES` for an image of `channels` channels. */
export function checkOutputSize(
  request: Pick<TileRequest, "outWidth" | "outHeight" | "format" | "tensor" | "chunk"> & { render?: { c: number[] } },
  channels: number,
): void {
  const dtype = request.format === "npy" ? request.tensor?.dtype : undefined;
  const sampleBytes = request.format === "zarr" ? 8 : dtype === "float32" || dtype === "native" ? 4 : 1;
  // The render step holds one intensity plane per selected channel, then RGB.
  const perPixel = request.chunk
    ? request.chunk.c.length
    : request.render
    ? request.render.c.length + 3
    : Math.min(Math.max(channels, 1), 4);
  const bytes = request.outWidth * request.outHeight * perPixel * sampleBytes;
  if (bytes > MAX_OUTPUT_BYTES) {
    throw tooLarge(
      `a ${request.outWidth}×${request.outHeight} ${request.tensor?.dtype ?? ""} ${request.format} output holds ` +
        `${Math.ceil(bytes / 2 ** 20)} MiB of samples, more than the ${MAX_OUTPUT_BYTES / 2 ** 20} MiB limit`,
    );
  }
}

/**
 * The most pixels an 8-bit image output (a tile, an IIIF image) of an image of `channels` channels may
 * have within `MAX_OUTPUT_BYTES`: rendered (`render` channels selected) each pixel holds their intensity
 * planes and RGB, as `checkOutputSize` counts them.
 */
export function maxOutputPixels(channels: number, render?: { c: number[] } | null): number {
  const perPixel = render ? render.c.length + 3 : Math.min(Math.max(channels, 1), 4);
  return Math.floor(MAX_OUTPUT_BYTES / perPixel);
}

/** MIME type of each output format. */
export const CONTENT_TYPES: Record<TileFormat, string> = {
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  npy: "application/x-npy",
  zarr: "application/octet-stream",
};

/** The format named by a URL extension (`jpg`, `jpeg`, `png`, `webp`), or null. */
export function formatFromExtension(ext: string): TileFormat | null {
  const e = ext.toLowerCase();
  if (e === "jpg" || e === "jpeg") return "jpeg";
  if (e === "png" || e === "webp" || e === "npy") return e;
  return null;
}

/** `id@version/x,y,w,h/WxH/op/format[:quality]`: equal strings mean equal pixels. */
export function canonicalTileRequest(r: TileRequest): string {
  const { x, y, w, h } = r.region;
  const fmt = r.format === "png"
    ? "png"
    : r.format === "npy"
    ? `npy:${canonicalTensor(r.tensor ?? { dtype: "uint8" })}`
    : r.format === "zarr"
    ? `zarr:${ZARR_COMPRESSOR.id}${ZARR_COMPRESSOR.level}:c=${r.chunk?.c.join(",")};z=${r.chunk?.z};t=${r.chunk?.t}${
      r.chunk?.labels ? ";labels" : ""
    }`
    : `${r.format}:${r.quality}${r.format === "jpeg" && r.background ? `:bg=${r.background}` : ""}`;
  const image = r.associated ? `${encodeURIComponent(r.image)}~${r.associated}` : encodeURIComponent(r.image);
  const orient = r.rotate || r.mirror ? `/${r.mirror ? "!" : ""}${r.rotate ?? 0}` : "";
  const render = r.render ? `/render:${canonicalRender(r.render)}` : "";
  return `${image}@${r.version}/${x},${y},${w},${h}/${r.outWidth}x${r.outHeight}${render}/${
    canonicalOp(r.op)
  }${orient}/${fmt}`;
}

/**
 * The key of a tile request computed with codec tier `codecs`: the tiers' decoders and encoders need not
 * give identical bytes, so their tiles never share an entry.
 */
export function tileKey(req: TileRequest, codecs: CodecTier): TileKey {
  const canonical = `${canonicalTileRequest(req)}/codecs:${codecs}`;
  const hash = sha256Hex(canonical);
  return { canonical, hash, etag: `"${hash}"` };
}

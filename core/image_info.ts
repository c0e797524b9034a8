/**
 * What the service knows of an image without reading pixels: its levels, channels, planes and metadata,
 * the types every layer (sources, pyramid geometry, kernels, routes) shares.
 */
import type { PixelType } from "./raster.ts";

/** One level of a source pyramid, as the geometry needs it. */
export interface PyramidLevel {
  width: number;
  height: number;
  /** Level-0 pixels per level pixel, horizontally and vertically. */
  downsampleX: number;
  downsampleY: number;
}

/** One pyramid level of a source. */
export interface LevelInfo extends PyramidLevel {
  /** Stored tile (or strip) size of the level; derived levels report 256. */
  tileWidth: number;
  tileHeight: number;
  /** True when the file stores this level; false when it is derived by downsampling. */
  stored: boolean;
  /**
   * True when the level has a luma plane of its own: stored as YCbCr JPEG tiles (Y as decoded, no chroma
   * work), or derived from such a level (that plane, downsampled). Ops that read only Y get it.
   */
  luma?: boolean;
}

/** Which samples a read returns: the source's own, or its luma plane where the level has one. */
export type ReadPlane = "samples" | "luma";

/**
 * Which planes of a multichannel source a read returns: channels `c` (in that order, one sample each),
 * from Z plane `z` and T plane `t`.
 */
export interface PlaneSelection {
  c: number[];
  z: number;
  t: number;
}

/** One channel of a source: what the file says of it. */
export interface ChannelMeta {
  name?: string;
  /** RRGGBB, when the file gives a colour (OME's Color; an RGB file's red, green and blue). */
  color?: string;
}

/**
 * What a photo's samples are: gray (white) or red, green, blue, and alpha (black: it adds nothing to a
 * composite) — by sample count: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
 */
export function photoChannels(samples: number): ChannelMeta[] {
  const colors = samples <= 2 ? ["ffffff", "000000"] : ["ff0000", "00ff00", "0000ff", "000000"];
  return colors.slice(0, samples).map((color) => ({ color }));
}

/** What the service knows about an image without reading pixels. */
export interface ImageInfo {
  /** Container and flavour: "tiff", "svs", "png", "jpeg", "webp". */
  format: string;
  width: number;
  height: number;
  /** Samples per pixel the source delivers (an OME-TIFF's SizeC). */
  channels: number;
  /** Per channel, what the file says (names, colours); absent where it says nothing. */
  channelMeta?: ChannelMeta[];
  /**
   * True when the channels are separate signals (an OME-TIFF's channel planes, more than 4 samples a
   * pixel): the render step composites them even without render parameters.
   */
  multichannel?: boolean;
  /** Z and T sizes of a multi-plane source (OME-TIFF); absent: one plane. */
  planes?: { z: number; t: number };
  pixelType: PixelType;
  /** Stored levels first (finest first), then derived ones. */
  levels: LevelInfo[];
  /** Compression of level 0, by name (TIFF only). */
  compression?: string;
  /** Microns per pixel at level 0, when the file says. */
  mpp?: { x: number; y: number };
  /** Names of associated images (Aperio thumbnail, label, macro). */
  associated: string[];
  /** Sizes of the associated images, by name. */
  associatedSizes: Record<string, { width: number; height: number }>;
  /** Vendor-specific properties worth showing (Aperio header fields, …). */
  properties: Record<string, string>;
}

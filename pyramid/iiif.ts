/**
 * IIIF Image API 3.0 (level 2) as pure geometry, no I/O: the request grammar
 * `{region}/{size}/{rotation}/{quality}.{format}`, applied in the spec's order (region → size → rotation →
 * quality → format), its error statuses, the canonical form, and the info.json numbers. Coordinate planes:
 * `l0` image (full-resolution) pixels, `out` returned pixels.
 */
import type { Rect } from "../core/rect.ts";
import { GRID_TILE } from "./levels.ts";

/** Server limits advertised in info.json and enforced on every request (at most; `iiifLimits` per image). */
export const IIIF_MAX_WIDTH = 8192, IIIF_MAX_HEIGHT = 8192, IIIF_MAX_AREA = 4096 * 4096;

/** The size limits of one image's IIIF service: what info.json advertises is what its requests get. */
export interface IiifLimits {
  maxWidth: number;
  maxHeight: number;
  maxArea: number;
}

/**
 * The limits of an image whose outputs may hold at most `maxOutputPixels` pixels (the output bound divided
 * by the samples each output pixel holds: a 4-channel render holds 4 intensity planes and RGB).
 */
export function iiifLimits(maxOutputPixels = IIIF_MAX_AREA): IiifLimits {
  return {
    maxWidth: IIIF_MAX_WIDTH,
    maxHeight: IIIF_MAX_HEIGHT,
    maxArea: Math.max(1, Math.min(IIIF_MAX_AREA, Math.floor(maxOutputPixels))),
  };
}

/** A parsed, validated IIIF image request against one image. */
export interface IiifRequest {
  /** The region in level-0 pixels, cropped to the image. */
  region: Rect;
  outWidth: number;
  outHeight: number;
  /** True when the size needs upscaling (`^` forms). */
  upscaled: boolean;
  rotate: 0 | 90 | 180 | 270;
  mirror: boolean;
  quality: "default" | "color" | "gray" | "bitonal";
  format: "jpg" | "png" | "webp";
  /** The canonical `{region}/{size}/{rotation}/{quality}.{format}`. */
  canonical: string;
}

/** A request the spec says to refuse, with its status. */
export class IiifError extends Error {
  constructor(readonly status: 400 | 404 | 501, message: string) {
    super(message);
  }
}

const NUM = String.raw`\d+(?:\.\d+)?`;
const REGION_PX = /^(\d+),(\d+),(\d+),(\d+)$/;
const REGION_PCT = new RegExp(`^pct:(${NUM}),(${NUM}),(${NUM}),(${NUM})$`);
const SIZE = new RegExp(`^(\\^)?(?:(max)|pct:(${NUM})|(\\d+),|,(\\d+)|(!)?(\\d+),(\\d+))$`);
const ROTATION = new RegExp(`^(!)?(${NUM})$`);
const FORMATS_KNOWN = ["jpg", "tif", "png", "gif", "jp2", "pdf", "webp"];

/** The region parameter in level-0 pixels, cropped to the image; 400 when empty or outside. */
export function parseRegion(s: string, W: number, H: number): Rect {
  let x: number, y: number, w: number, h: number;
  if (s === "full") return { x: 0, y: 0, w: W, h: H };
  if (s === "square") {
    const side = Math.min(W, H);
    return { x: Math.floor((W - side) / 2), y: Math.floor((H - side) / 2), w: side, h: side };
  }
  let m = REGION_PX.exec(s);
  if (m) [x, y, w, h] = m.slice(1).map(Number);
  else if ((m = REGION_PCT.exec(s))) {
    const [px, py, pw, ph] = m.slice(1).map(Number);
    x = Math.round((px * W) / 100);
    y = Math.round((py * H) / 100);
    w = Math.round(((px + pw) * W) / 100) - x;
    h = Math.round(((py + ph) * H) / 100) - y;
  } else throw new IiifError(400, `malformed region "${s}" (full, square, x,y,w,h or pct:x,y,w,h)`);
  if (w <= 0 || h <= 0) throw new IiifError(400, `region "${s}" has zero width or height`);
  if (x >= W || y >= H) throw new IiifError(400, `region "${s}" lies outside the ${W}×${H} image`);
  return { x, y, w: Math.min(w, W - x), h: Math.min(h, H - y) };
}

/** The size parameter applied to a region of `rw` × `rh`; 400 for upscaling without `^`, zero or over-limit sizes. */
export function parseSize(
  s: string,
  rw: number,
  rh: number,
  limits: IiifLimits = iiifLimits(),
): { w: number; h: number; upscaled: boolean; form: "max" | "wh" } {
  const { maxWidth, maxHeight, maxArea } = limits;
  const m = SIZE.exec(s);
  if (!m) throw new IiifError(400, `malformed size "${s}" (max, w,, ,h, pct:n, w,h, !w,h, each optionally ^)`);
  const up = m[1] === "^";
  let w: number, h: number, form: "max" | "wh" = "wh";
  if (m[2]) {
    // max: the region, within the limits (^max: as large as the limits allow).
    const fit = Math.min(maxWidth / rw, maxHeight / rh, Math.sqrt(maxArea / (rw * rh)));
    const scale = up ? fit : Math.min(1, fit);
    w = Math.max(1, Math.floor(rw * scale + 1e-9));
    h = Math.max(1, Math.floor(rh * scale + 1e-9));
    form = "max";
  } else if (m[3] !== undefined) {
    const n = Number(m[3]);
    w = Math.round((rw * n) / 100);
    h = Math.round((rh * n) / 100);
  } else if (m[4] !== undefined) {
    w = Number(m[4]);
    h = Math.round((rh * w) / rw);
  } else if (m[5] !== undefined) {
    h = Number(m[5]);
    w = Math.round((rw * h) / rh);
  } else if (m[6] === "!") {
    const bw = Number(m[7]), bh = Number(m[8]);
    const scale = Math.min(bw / rw, bh / rh);
    // Its best fit larger than the region is an upscale: without ^, a 400 (below), as for w,h.
    w = Math.min(bw, Math.round(rw * scale));
    h = Math.min(bh, Math.round(rh * scale));
  } else {
    w = Number(m[7]);
    h = Number(m[8]);
  }
  if (w < 1 || h < 1) throw new IiifError(400, `size "${s}" gives ${w}×${h} pixels`);
  const upscaled = w > rw || h > rh;
  if (upscaled && !up) throw new IiifError(400, `size "${s}" would upscale the ${rw}×${rh} region: use ^${s}`);
  if (w > maxWidth || h > maxHeight || w * h > maxArea) {
    throw new IiifError(
      400,
      `size "${s}" gives ${w}×${h}, over the limits (maxWidth ${maxWidth}, maxHeight ${maxHeight}, maxArea ${maxArea})`,
    );
  }
  return { w, h, upscaled, form: form === "max" && (up || !upscaled) ? "max" : "wh" };
}

/** The rotation parameter: mirroring and a multiple of 90°; 400 otherwise (rotationArbitrary is not offered). */
export function parseRotation(s: string): { rotate: 0 | 90 | 180 | 270; mirror: boolean } {
  const m = ROTATION.exec(s);
  if (!m) throw new IiifError(400, `malformed rotation "${s}" (n or !n, 0 ≤ n ≤ 360)`);
  const deg = Number(m[2]);
  if (deg > 360) throw new IiifError(400, `rotation "${s}" is over 360`);
  if (deg % 90 !== 0) throw new IiifError(400, `rotation "${s}" is not supported: multiples of 90 only`);
  return { rotate: (deg % 360) as 0 | 90 | 180 | 270, mirror: m[1] === "!" };
}

/** Parses `{region}/{size}/{rotation}/{quality}.{format}` against a `W` × `H` image. */
export function parseIiifRequest(
  region: string,
  size: string,
  rotation: string,
  qf: string,
  W: number,
  H: number,
  limits: IiifLimits = iiifLimits(),
): IiifRequest {
  const dot = qf.lastIndexOf(".");
  if (dot <= 0) throw new IiifError(400, `"${qf}" is not {quality}.{format}`);
  const quality = qf.slice(0, dot), format = qf.slice(dot + 1);
  const r = parseRegion(region, W, H);
  const sz = parseSize(size, r.w, r.h, limits);
  const rot = parseRotation(rotation);
  if (!["default", "color", "gray", "bitonal"].includes(quality)) {
    throw new IiifError(400, `quality "${quality}" is not one of default, color, gray, bitonal`);
  }
  if (!["jpg", "png", "webp"].includes(format)) {
    const known = FORMATS_KNOWN.includes(format) ? " is not offered by this server" : " is unknown";
    throw new IiifError(400, `format "${format}"${known} (jpg, png, webp)`);
  }
  const full = r.x === 0 && r.y === 0 && r.w === W && r.h === H;
  const canonSize = sz.form === "max" ? (sz.upscaled ? "^max" : "max") : `${sz.upscaled ? "^" : ""}${sz.w},${sz.h}`;
  const canonical = `${full ? "full" : `${r.x},${r.y},${r.w},${r.h}`}/${canonSize}/${
    rot.mirror ? "!" : ""
  }${rot.rotate}/${quality === "color" ? "default" : quality}.${format}`;
  return {
    region: r,
    outWidth: sz.w,
    outHeight: sz.h,
    upscaled: sz.upscaled,
    rotate: rot.rotate,
    mirror: rot.mirror,
    quality: quality as IiifRequest["quality"],
    format: format as IiifRequest["format"],
    canonical,
  };
}

/**
 * The footprint to render a region on the exact pixel grid of scale `s` (level-0 pixels per output pixel):
 * the spec's edge tiles (wr = min(tw·s, W − xr), output ceil(wr/s)) are cropped at the image edge, so their
 * own ratio wr/out is not s. When the request is such a tile of a power-of-two scale, the footprint is
 * out·s, exactly as the neighbouring tiles (and XYZ tiles) have it; otherwise the region itself.
 */
export function gridFootprint(region: Rect, outW: number, outH: number, W: number, H: number): Rect {
  const sx = region.w / outW, sy = region.h / outH;
  if (sx === sy) return region;
  const atRight = region.x + region.w === W, atBottom = region.y + region.h === H;
  for (let k = 0; k <= 40; k++) {
    const s = 2 ** k;
    const fitsX = atRight ? Math.ceil(region.w / s) === outW : region.w === outW * s;
    const fitsY = atBottom ? Math.ceil(region.h / s) === outH : region.h === outH * s;
    if (fitsX && fitsY && region.x % s === 0 && region.y % s === 0) {
      return { x: region.x, y: region.y, w: outW * s, h: outH * s };
    }
  }
  return region;
}

/** The info.json numbers of a `W` × `H` image: tiles and preferred sizes. */
export function iiifLayout(
  W: number,
  H: number,
  limits: IiifLimits = iiifLimits(),
): { scaleFactors: number[]; sizes: { width: number; height: number }[] } {
  const scaleFactors: number[] = [];
  for (let s = 1; s === 1 || Math.max(W, H) / (s / 2) > GRID_TILE; s *= 2) scaleFactors.push(s);
  const sizes: { width: number; height: number }[] = [];
  for (let s = scaleFactors[scaleFactors.length - 1]; s >= 1; s /= 2) {
    const width = Math.ceil(W / s), height = Math.ceil(H / s);
    if (width <= limits.maxWidth && height <= limits.maxHeight && width * height <= limits.maxArea) {
      sizes.push({ width, height });
    }
  }
  return { scaleFactors, sizes };
}

/**
 * OME-TIFF metadata: the OME-XML of the first IFD's ImageDescription read into the first image's
 * dimensions (SizeC/Z/T, DimensionOrder), channels (names, colours, samples per pixel), physical pixel
 * size, and the map from a (c, z, t) plane to the IFD holding it (TiffData blocks, or the default
 * sequential layout). Pure: no I/O.
 */
import { corruptSource, unsupportedSource } from "../errors.ts";

/** One OME channel. */
export interface OmeChannel {
  name?: string;
  /** RRGGBB (lowercase), when the file gives a colour. */
  color?: string;
  /** Samples of this channel in one IFD (3 for an RGB channel stored interleaved). */
  samplesPerPixel: number;
}

/** What this service reads of an OME-XML document: its first image. */
export interface OmeImage {
  dimensionOrder: string;
  type: string;
  sizeX: number;
  sizeY: number;
  /** Channels counted in samples (OME's SizeC). */
  sizeC: number;
  sizeZ: number;
  sizeT: number;
  channels: OmeChannel[];
  /** Microns per pixel, when the file says (and its unit is a length this service knows). */
  physicalSize?: { x: number; y: number };
  /** plane index (in DimensionOrder) → IFD index in this file. */
  planeIfds: number[];
}

/** Most planes (C × Z × T) a file may declare. */
const MAX_PLANES = 100_000;

/** Microns per unit of OME's length units this service converts. */
const MICRONS_PER: Record<string, number> = { "µm": 1, "um": 1, "nm": 1e-3, "mm": 1e3, "cm": 1e4, "m": 1e6 };

/** Attributes of the first element named `tag` (after `from`), or null. */
function element(
  xml: string,
  tag: string,
  from = 0,
): { attrs: Record<string, string>; at: number; end: number } | null {
  const re = new RegExp(`<(?:\\w+:)?${tag}\\b([^>]*?)(/?)>`, "g");
  re.lastIndex = from;
  const m = re.exec(xml);
  if (!m) return null;
  return { attrs: attributes(m[1]), at: m.index, end: re.lastIndex };
}

/** Every element named `tag` in `xml`. */
function elements(xml: string, tag: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  const re = new RegExp(`<(?:\\w+:)?${tag}\\b([^>]*?)/?>`, "g");
  for (let m = re.exec(xml); m; m = re.exec(xml)) out.push(attributes(m[1]));
  return out;
}

function attributes(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(/([\w:]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) out[m[1]] = unescapeXml(m[2] ?? m[3]);
  return out;
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-f]+);/gi, (_, e: string) => {
    const named: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
    if (named[e.toLowerCase()]) return named[e.toLowerCase()];
    const code = e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : "";
  });
}

/** OME's signed 32-bit RGBA colour as RRGGBB. */
export function omeColor(v: string | undefined): string | undefined {
  if (v === undefined || !/^-?\d+$/.test(v.trim())) return undefined;
  const rgba = Number(v) >>> 0;
  return (rgba >>> 8).toString(16).padStart(6, "0");
}

/** The OME image described by an ImageDescription, or null when it is no OME-XML. 422/415 when unusable. */
export function parseOmeXml(description: string): OmeImage | null {
  if (!/<(?:\w+:)?OME\b/.test(description)) return null;
  const image = element(description, "Image");
  const pixels = image && element(description, "Pixels", image.end);
  if (!pixels) throw corruptSource("OME-XML without an Image/Pixels element");
  const a = pixels.attrs;
  const size = (name: string, dflt?: number) => {
    const v = a[name] === undefined ? dflt : Number(a[name]);
    if (v === undefined || !Number.isInteger(v) || v < 1) throw corruptSource(`OME-XML: ${name}="${a[name]}"`);
    return v;
  };
  const sizeC = size("SizeC", 1), sizeZ = size("SizeZ", 1), sizeT = size("SizeT", 1);
  const order = a.DimensionOrder ?? "XYCZT";
  if (!/^XY(?=[CZT]{3}$)(?!.*(.).*\1)/.test(order)) throw corruptSource(`OME-XML: DimensionOrder "${order}"`);
  // The Pixels element's body: up to the next Image (files may describe several images).
  const nextImage = element(description, "Image", pixels.end);
  const body = description.slice(pixels.end, nextImage ? nextImage.at : undefined);
  const channels: OmeChannel[] = elements(body, "Channel").map((c) => ({
    ...(c.Name ? { name: c.Name } : {}),
    ...(omeColor(c.Color) ? { color: omeColor(c.Color) } : {}),
    samplesPerPixel: Math.max(1, Number(c.SamplesPerPixel) || 1),
  }));
  const spp = channels[0]?.samplesPerPixel ?? 1;
  if (channels.some((c) => c.samplesPerPixel !== spp)) {
    throw unsupportedSource("OME-TIFF channels with different samples per pixel");
  }
  const cPlanes = Math.max(1, Math.round(sizeC / spp));
  const planes = cPlanes * sizeZ * sizeT;
  if (planes > MAX_PLANES) throw unsupportedSource(`OME-TIFF with ${planes} planes (at most ${MAX_PLANES})`);
  while (channels.length < cPlanes) channels.push({ samplesPerPixel: spp });
  const ome: OmeImage = {
    dimensionOrder: order,
    type: a.Type ?? "",
    sizeX: size("SizeX"),
    sizeY: size("SizeY"),
    sizeC,
    sizeZ,
    sizeT,
    channels: channels.slice(0, cPlanes),
    planeIfds: planeIfdMap(body, order, { c: cPlanes, z: sizeZ, t: sizeT }),
  };
  const px = Number(a.PhysicalSizeX), py = Number(a.PhysicalSizeY);
  const ux = MICRONS_PER[a.PhysicalSizeXUnit ?? "µm"], uy = MICRONS_PER[a.PhysicalSizeYUnit ?? "µm"];
  if (px > 0 && py > 0 && ux && uy) ome.physicalSize = { x: px * ux, y: py * uy };
  return ome;
}

/** Plane sizes along C (in IFD planes), Z and T. */
export interface PlaneSizes {
  c: number;
  z: number;
  t: number;
}

/** The index of plane (c, z, t) in the file's DimensionOrder (XY first, then the other three). */
export function planeIndex(order: string, sizes: PlaneSizes, at: PlaneSizes): number {
  const dims = order.slice(2).toLowerCase().split("") as (keyof PlaneSizes)[];
  let index = 0, stride = 1;
  for (const d of dims) {
    index += at[d] * stride;
    stride *= sizes[d];
  }
  return index;
}

/**
 * plane index → IFD index, from the TiffData blocks: each maps PlaneCount planes from (FirstC, FirstZ,
 * FirstT) onwards to consecutive IFDs from IFD. With none, or one without attributes, plane p is IFD p.
 * Blocks naming another file (a multi-file OME-TIFF) are 415.
 */
function planeIfdMap(body: string, order: string, sizes: PlaneSizes): number[] {
  const n = sizes.c * sizes.z * sizes.t;
  const blocks = elements(body, "TiffData");
  const map = Array.from({ length: n }, (_, i) => i);
  if (blocks.length === 0) return map;
  const files = new Set([...body.matchAll(/<(?:\w+:)?UUID\b[^>]*FileName\s*=\s*"([^"]*)"/g)].map((m) => m[1]));
  if (files.size > 1) throw unsupportedSource("multi-file OME-TIFF (planes in other files) is not supported");
  for (const b of blocks) {
    if (b.IFD === undefined && b.FirstC === undefined && b.FirstZ === undefined && b.FirstT === undefined) {
      if (b.PlaneCount === undefined) return map;
    }
    const ifd = Number(b.IFD ?? 0);
    const first = planeIndex(order, sizes, {
      c: Number(b.FirstC ?? 0),
      z: Number(b.FirstZ ?? 0),
      t: Number(b.FirstT ?? 0),
    });
    const count = b.PlaneCount !== undefined ? Number(b.PlaneCount) : b.IFD !== undefined ? 1 : n - first;
    if (![ifd, first, count].every((v) => Number.isInteger(v) && v >= 0)) {
      throw corruptSource(`OME-XML: TiffData IFD="${b.IFD}" PlaneCount="${b.PlaneCount}"`);
    }
    for (let k = 0; k < count && first + k < n; k++) map[first + k] = ifd + k;
  }
  return map;
}

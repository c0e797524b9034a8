/**
 * One DICOM instance of a VL Whole Slide Microscopy series, read with `dicom-parser` from its header alone
 * (never the whole file): what it is (volume level, label, overview), its tiling, optical paths, pixel
 * spacing, and where each frame's bytes lie — by the Basic Offset Table, else by one scan of the fragment
 * headers, or by arithmetic for native (uncompressed) pixel data.
 */
import dicomParser from "dicom-parser";
import type { ByteSource } from "./bytes.ts";
import { corruptSource, tooLarge, unsupportedSource } from "../errors.ts";

/** Transfer syntaxes whose frames this service decodes, by UID, and how. */
export const TRANSFER_SYNTAXES: Record<string, "native" | "jpeg" | "jpeg2000"> = {
  "1.2.840.10008.1.2.1": "native", // explicit VR little endian
  "1.2.840.10008.1.2": "native", // implicit VR little endian
  "1.2.840.10008.1.2.4.50": "jpeg", // JPEG baseline
  "1.2.840.10008.1.2.4.51": "jpeg", // JPEG extended (8-bit frames)
  "1.2.840.10008.1.2.4.90": "jpeg2000", // JPEG 2000 lossless
  "1.2.840.10008.1.2.4.91": "jpeg2000", // JPEG 2000
};

/** An optical path: its identifier and what the file calls it. */
export interface OpticalPath {
  id: string;
  name?: string;
}

/** What a series reader needs of one instance. */
export interface DicomInstance {
  path: string;
  bytes: ByteSource;
  seriesUid: string;
  /** Value 3 of ImageType: VOLUME, LABEL, OVERVIEW, THUMBNAIL, … */
  flavor: string;
  totalWidth: number;
  totalHeight: number;
  tileWidth: number;
  tileHeight: number;
  frames: number;
  samplesPerPixel: number;
  photometric: string;
  coding: "native" | "jpeg" | "jpeg2000";
  organization: string;
  opticalPaths: OpticalPath[];
  focalPlanes: number;
  /** µm per pixel (PixelSpacing is in mm, row then column). */
  mpp?: { x: number; y: number };
  objectivePower?: number;
  /** The first frame's number in its concatenation (0 outside one). */
  frameOffset: number;
  /**
   * TILED_SPARSE: where each frame lies, from its PlanePositionSlideSequence (0-based tile column and row)
   * and which optical path it shows (index into `opticalPaths`); absent for TILED_FULL.
   */
  positions?: { col: number; row: number; path: number }[];
  /** Absolute file offset and length of frame `i`, found on first use. */
  frameAt(i: number): Promise<[number, number]>;
  properties: Record<string, string>;
}

/** True when `head` (a file's first bytes) is DICOM Part 10 (`DICM` after the 128-byte preamble). */
export function isDicomHead(head: Uint8Array): boolean {
  return head.length >= 132 && head[128] === 0x44 && head[129] === 0x49 && head[130] === 0x43 && head[131] === 0x4d;
}

/** The most header bytes read before the pixel data (a TILED_SPARSE per-frame sequence can be large). */
const MAX_HEADER = 64 << 20;

/** Most frames an instance may list (a 200k² slide in 256² tiles and 3 optical paths has 1.8 M). */
const MAX_FRAMES = 4 << 20;

type DataSet = ReturnType<typeof dicomParser.parseDicom>;

/** The data set of the first item of sequence `tag` in `ds`, if any. */
function item(ds: DataSet | undefined, tag: string): DataSet | undefined {
  return ds?.elements[tag]?.items?.[0]?.dataSet as DataSet | undefined;
}

/** Reads the header of the instance in `bytes` (up to its pixel data) and says where its frames are. */
export async function readDicomInstance(bytes: ByteSource, path: string): Promise<DicomInstance> {
  let ds: DataSet | undefined, head: Uint8Array = new Uint8Array(0);
  for (let n = Math.min(bytes.size, 1 << 20);; n = Math.min(bytes.size, n * 4)) {
    head = await bytes.read(0, n);
    try {
      ds = dicomParser.parseDicom(head, { untilTag: "x7fe00010" });
      if (ds.elements.x7fe00010 || n >= bytes.size) break;
    } catch (err) {
      if (n >= bytes.size || n >= MAX_HEADER) throw corruptSource(`not a readable DICOM file: ${errorText(err)}`);
    }
    if (n >= MAX_HEADER) throw tooLarge(`the DICOM header is longer than ${MAX_HEADER >> 20} MiB`);
  }
  const pixel = ds!.elements.x7fe00010;
  if (!pixel) throw corruptSource("a DICOM file without pixel data");
  const s = (tag: string) => ds!.string(tag) ?? "";
  const u16 = (tag: string) => ds!.uint16(tag) ?? 0;
  const u32 = (tag: string) => ds!.uint32(tag) ?? 0;
  const syntax = s("x00020010");
  const coding = TRANSFER_SYNTAXES[syntax];
  if (!coding) throw unsupportedSource(`DICOM transfer syntax ${syntax} is not supported`);
  const tileWidth = u16("x00280011"), tileHeight = u16("x00280010");
  const frames = Number(s("x00280008") || "1");
  const spp = u16("x00280002") || 1, bits = u16("x00280100") || 8;
  if (bits !== 8) throw unsupportedSource(`DICOM frames of ${bits} bits allocated are not supported (8 only)`);
  if (!(tileWidth > 0 && tileHeight > 0 && frames > 0 && frames <= MAX_FRAMES)) {
    throw corruptSource(`DICOM frames of ${tileWidth}×${tileHeight}, ${frames} of them`);
  }
  const shared = item(ds, "x52009229");
  const spacing = (item(shared, "x00289110")?.string("x00280030") ?? "").split("\\").map(Number);
  const paths = ds!.elements.x00480105?.items ?? [];
  const opticalPaths = paths.map((p) => {
    const o = p.dataSet as DataSet;
    return { id: o.string("x00480106") ?? "", name: o.string("x00480107") || o.string("x00480106") || undefined };
  });
  const objective = paths.map((p) => Number((p.dataSet as DataSet).string("x00480112"))).find((v) => v > 0);
  // ImageType's third value; converters that write none (OrthancWSIDicomizer 1.1) write volume levels.
  const flavor = (s("x00080008").split("\\")[2] ?? "").toUpperCase() || "VOLUME";
  const totalWidth = u32("x00480006") || tileWidth, totalHeight = u32("x00480007") || tileHeight;
  const inst: Omit<DicomInstance, "frameAt"> = {
    path,
    bytes,
    seriesUid: s("x0020000e"),
    flavor,
    totalWidth,
    totalHeight,
    tileWidth,
    tileHeight,
    frames,
    samplesPerPixel: spp,
    photometric: s("x00280004"),
    coding,
    organization: s("x00209311") || (frames === 1 ? "TILED_FULL" : ""),
    opticalPaths: opticalPaths.length ? opticalPaths : [{ id: "0" }],
    focalPlanes: u32("x00480303") || 1,
    ...(spacing.length === 2 && spacing.every((v) => v > 0)
      ? { mpp: { x: spacing[1] * 1000, y: spacing[0] * 1000 } }
      : {}),
    ...(objective ? { objectivePower: objective } : {}),
    frameOffset: u32("x00209228"),
    properties: Object.fromEntries(
      [["Manufacturer", "x00080070"], ["ManufacturerModelName", "x00081090"], ["StudyInstanceUID", "x0020000d"]]
        .map(([k, t]) => [`dicom.${k}`, s(t)]).filter(([, v]) => v),
    ),
  };
  if (inst.organization !== "TILED_FULL") {
    const positions = framePositions(ds!, inst.opticalPaths, tileWidth, tileHeight, frames);
    if (positions) Object.assign(inst, { positions });
  }
  const frameAt = coding === "native"
    ? nativeFrames(bytes, pixel.dataOffset, tileWidth * tileHeight * spp, frames)
    : encapsulatedFrames(bytes, pixel.dataOffset, frames);
  return { ...inst, frameAt };
}

/**
 * Each frame's tile column and row (from the 1-based PlanePositionSlideSequence positions, which must fall
 * on the tile grid) and optical path, from the per-frame functional groups; null when they are absent.
 */
function framePositions(
  ds: DataSet,
  paths: OpticalPath[],
  tileWidth: number,
  tileHeight: number,
  frames: number,
): { col: number; row: number; path: number }[] | null {
  const items = ds.elements.x52009230?.items;
  if (!items) return null;
  if (items.length !== frames) throw corruptSource(`DICOM per-frame groups for ${items.length} of ${frames} frames`);
  return items.map((it, i) => {
    const f = it.dataSet as DataSet;
    const pos = item(f, "x0048021a");
    const x = pos?.int32("x0048021e"), y = pos?.int32("x0048021f");
    if (x === undefined || y === undefined) throw corruptSource(`DICOM frame ${i} has no plane position`);
    if ((x - 1) % tileWidth || (y - 1) % tileHeight) {
      throw unsupportedSource(`DICOM frame ${i} at ${x},${y} is off the tile grid (TILED_SPARSE off the grid)`);
    }
    const id = item(f, "x00480207")?.string("x00480106");
    const path = id === undefined ? 0 : Math.max(0, paths.findIndex((p) => p.id === id));
    return { col: (x - 1) / tileWidth, row: (y - 1) / tileHeight, path };
  });
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Frames of native pixel data: one after another, `frameBytes` each, all inside the file. */
function nativeFrames(bytes: ByteSource, at: number, frameBytes: number, frames: number) {
  if (at + frameBytes * frames > bytes.size) {
    throw corruptSource(`truncated DICOM: ${frames} frames of ${frameBytes} bytes pass the end of the file`);
  }
  return (i: number) => Promise.resolve([at + i * frameBytes, frameBytes] as [number, number]);
}

/**
 * Frames of encapsulated pixel data: the item after the Basic Offset Table starting at each table entry
 * (several fragments of one frame are not supported); without a table, one scan of the fragment headers,
 * which must number the frames. Every position is checked against the file.
 */
function encapsulatedFrames(bytes: ByteSource, at: number, frames: number) {
  let index: Promise<[number, number][]> | undefined;
  const header = async (pos: number): Promise<{ tag: number; length: number }> => {
    if (pos + 8 > bytes.size) throw corruptSource("truncated DICOM: pixel data items pass the end of the file");
    const b = await bytes.read(pos, 8);
    const dv = new DataView(b.buffer, b.byteOffset, 8);
    return { tag: (dv.getUint16(0, true) << 16) | dv.getUint16(2, true), length: dv.getUint32(4, true) };
  };
  const ITEM = (0xfffe << 16) | 0xe000, END = (0xfffe << 16) | 0xe0dd;
  const load = async (): Promise<[number, number][]> => {
    const bot = await header(at);
    if (bot.tag !== ITEM) throw corruptSource("DICOM pixel data does not start with an offset table item");
    const first = at + 8 + bot.length;
    if (bot.length === frames * 4) {
      const table = await bytes.read(at + 8, bot.length);
      const dv = new DataView(table.buffer, table.byteOffset, table.byteLength);
      return Array.from({ length: frames }, (_, i) => [first + dv.getUint32(i * 4, true), -1] as [number, number]);
    }
    const out: [number, number][] = [];
    for (let pos = first; out.length <= frames;) {
      const h = await header(pos);
      if (h.tag === END) break;
      if (h.tag !== ITEM) throw corruptSource("DICOM pixel data holds something other than items");
      if (pos + 8 + h.length > bytes.size) throw corruptSource("truncated DICOM: a frame passes the end of the file");
      out.push([pos + 8, h.length]);
      pos += 8 + h.length;
    }
    if (out.length !== frames) {
      throw unsupportedSource(
        `DICOM pixel data of ${out.length} fragments for ${frames} frames, without an offset table`,
      );
    }
    return out;
  };
  return async (i: number): Promise<[number, number]> => {
    const [pos, length] = (await (index ??= load()))[i];
    if (length >= 0) return [pos, length];
    const h = await header(pos);
    if (h.tag !== ITEM || pos + 8 + h.length > bytes.size) {
      throw corruptSource(`DICOM frame ${i} is not where its offset table says`);
    }
    return [pos + 8, h.length];
  };
}

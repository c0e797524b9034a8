/**
 * One DICOM instance of a VL Whole Slide Microscopy series, read with `dicom-parser` from its header alone
 * (never the whole file): what it is (volume level, label, overview), its tiling, optical paths, pixel
 * spacing, and where each frame's bytes lie — by the Basic Offset Table, else by one scan of the fragment
 * headers, or by arithmetic for native (uncompressed) pixel data.
 */
import dicomParser from "dicom-parser";
import type { ByteSource } from "./bytes.ts";
import { corruptSource, tooLarge, unsupportedSource } from "../errors.ts";
import { type DicomAttrs, parsedAttrs } from "./dicom_attrs.ts";
import { deflatedMeta, inflatedDicom } from "./dicom_deflate.ts";
import { checkOffsetTable, encapsulatedFrames, type ExtendedOffsets, nativeFrames } from "./dicom_pixels.ts";

/** Transfer syntaxes whose frames this service decodes, by UID, and how. */
export const TRANSFER_SYNTAXES: Record<string, FrameCoding> = {
  "1.2.840.10008.1.2.1": "native", // explicit VR little endian
  "1.2.840.10008.1.2": "native", // implicit VR little endian
  "1.2.840.10008.1.2.4.50": "jpeg", // JPEG baseline
  "1.2.840.10008.1.2.4.51": "jpeg", // JPEG extended (8-bit frames)
  "1.2.840.10008.1.2.4.90": "jpeg2000", // JPEG 2000 lossless
  "1.2.840.10008.1.2.4.91": "jpeg2000", // JPEG 2000
  "1.2.840.10008.1.2.4.80": "jpegls", // JPEG-LS lossless
  "1.2.840.10008.1.2.4.81": "jpegls", // JPEG-LS near-lossless
};

/** An optical path: its identifier and what the file calls it. */
export interface OpticalPath {
  id: string;
  name?: string;
}

/** How a frame's bitstream is coded. */
export type FrameCoding = "native" | "jpeg" | "jpeg2000" | "jpegls";

/** A frame's bytes as stored (a JPEG or JPEG 2000 stream, or native samples) and their coding. */
export interface StoredFrame {
  data: Uint8Array;
  coding: FrameCoding;
}

/** What a series reader needs of one instance. */
export interface DicomInstance {
  /** Where it is: a file's path, or a DICOMweb instance's URL. */
  path: string;
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
  /** The coding its frames are expected in (each `readFrame` says its own). */
  coding: FrameCoding;
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
  /** Frame `i` (0-based) as stored: one ranged read of a file, or one frame of a DICOMweb request. */
  readFrame(i: number): Promise<StoredFrame>;
  properties: Record<string, string>;
}

/** True when `head` (a file's first bytes) is DICOM Part 10 (`DICM` after the 128-byte preamble). */
export function isDicomHead(head: Uint8Array): boolean {
  return head.length >= 132 && head[128] === 0x44 && head[129] === 0x49 && head[130] === 0x43 && head[131] === 0x4d;
}

/** The most header bytes read before the pixel data (a TILED_SPARSE per-frame sequence can be large). */
const MAX_HEADER = 64 << 20;

/** The largest side of a DICOM image (the TIFF readers' limit). */
const MAX_SIDE = 1 << 20;

/** Most frames an instance may list (a 200k² slide in 256² tiles and 3 optical paths has 1.8 M). */
const MAX_FRAMES = 4 << 20;

type DataSet = ReturnType<typeof dicomParser.parseDicom>;

/** Reads the header of the instance in `bytes` (up to its pixel data) and says where its frames are. */
export async function readDicomInstance(file: ByteSource, path: string): Promise<DicomInstance> {
  // A deflated data set is read from memory, inflated (dicom_deflate.ts).
  const meta = deflatedMeta(await file.read(0, Math.min(file.size, 1 << 16)));
  const bytes = meta ? await inflatedDicom(file, meta) : file;
  let ds: DataSet | undefined, head: Uint8Array = new Uint8Array(0);
  for (let n = Math.min(bytes.size, 1 << 20);; n = Math.min(bytes.size, n * 4)) {
    head = withOvAsOb(await bytes.read(0, n));
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
  const syntax = ds!.string("x00020010") ?? "";
  const coding = TRANSFER_SYNTAXES[syntax];
  if (!coding) throw unsupportedSource(`DICOM transfer syntax ${syntax} is not supported`);
  const attrs = parsedAttrs(ds!);
  const frameBytes = (attrs.num("00280011") ?? 0) * (attrs.num("00280010") ?? 0) * (attrs.num("00280002") || 1);
  const eot = extendedOffsets(ds!);
  const inst = instanceFromAttrs(attrs, path, coding, (frames) => {
    const read = coding === "native"
      ? nativeFrames(bytes, pixel.dataOffset, frameBytes, frames)
      : encapsulatedFrames(bytes, pixel.dataOffset, frames, eot);
    return async (i) => ({ data: await read(i), coding });
  });
  if (coding !== "native") await checkOffsetTable(bytes, pixel.dataOffset, inst.frames, eot);
  return inst;
}

/** The Extended Offset Table (7FE0,0001) and its lengths (7FE0,0002), 64-bit each, when the file has them. */
function extendedOffsets(ds: DataSet): ExtendedOffsets | undefined {
  const o = ds.elements.x7fe00001, l = ds.elements.x7fe00002;
  if (!o?.length || !l?.length) return undefined;
  const u64 = (el: { dataOffset: number; length: number }) => {
    const dv = new DataView(ds.byteArray.buffer, ds.byteArray.byteOffset + el.dataOffset, el.length);
    return Array.from({ length: el.length >> 3 }, (_, i) => Number(dv.getBigUint64(i * 8, true)));
  };
  return { offsets: u64(o), lengths: u64(l) };
}

/**
 * An instance from its attributes (a file's data set or DICOMweb metadata): `frameReader` is given the
 * checked frame count and says how frame `i` is read. Sizes, frame counts and positions are checked here,
 * so both encodings are held to the same limits.
 */
export function instanceFromAttrs(
  a: DicomAttrs,
  path: string,
  coding: FrameCoding,
  frameReader: (frames: number) => (i: number) => Promise<StoredFrame>,
): DicomInstance {
  const tileWidth = a.num("00280011") ?? 0, tileHeight = a.num("00280010") ?? 0;
  const frames = Number(a.str("00280008") || "1");
  const spp = a.num("00280002") || 1, bits = a.num("00280100") || 8;
  if (bits !== 8) throw unsupportedSource(`DICOM frames of ${bits} bits allocated are not supported (8 only)`);
  if (!(tileWidth > 0 && tileHeight > 0 && Number.isInteger(frames) && frames > 0 && frames <= MAX_FRAMES)) {
    throw corruptSource(`DICOM frames of ${tileWidth}×${tileHeight}, ${a.str("00280008")} of them`);
  }
  if (spp !== 1 && spp !== 3) throw unsupportedSource(`DICOM frames of ${spp} samples per pixel (1 or 3 only)`);
  const shared = a.items("52009229")[0];
  const spacing = (shared?.items("00289110")[0]?.str("00280030") ?? "").split("\\").map(Number);
  const paths = a.items("00480105");
  const opticalPaths = paths.map((o) => ({
    id: o.str("00480106") ?? "",
    name: o.str("00480107") || o.str("00480106") || undefined,
  }));
  const objective = paths.map((o) => o.num("00480112") ?? 0).find((v) => v > 0);
  // ImageType's third value; converters that write none (OrthancWSIDicomizer 1.1) write volume levels.
  const flavor = ((a.str("00080008") ?? "").split("\\")[2] ?? "").toUpperCase() || "VOLUME";
  const totalWidth = a.num("00480006") || tileWidth, totalHeight = a.num("00480007") || tileHeight;
  if (totalWidth > MAX_SIDE || totalHeight > MAX_SIDE) {
    throw tooLarge(`a DICOM image of ${totalWidth}×${totalHeight} pixels (at most ${MAX_SIDE} a side)`);
  }
  const inst: Omit<DicomInstance, "readFrame"> = {
    path,
    seriesUid: a.str("0020000E") ?? "",
    flavor,
    totalWidth,
    totalHeight,
    tileWidth,
    tileHeight,
    frames,
    samplesPerPixel: spp,
    photometric: a.str("00280004") ?? "",
    coding,
    organization: a.str("00209311") || (frames === 1 ? "TILED_FULL" : ""),
    opticalPaths: opticalPaths.length ? opticalPaths : [{ id: "0" }],
    focalPlanes: a.num("00480303") || 1,
    ...(spacing.length === 2 && spacing.every((v) => v > 0)
      ? { mpp: { x: spacing[1] * 1000, y: spacing[0] * 1000 } }
      : {}),
    ...(objective ? { objectivePower: objective } : {}),
    frameOffset: a.num("00209228") ?? 0,
    properties: Object.fromEntries(
      [["Manufacturer", "00080070"], ["ManufacturerModelName", "00081090"], ["StudyInstanceUID", "0020000D"]]
        .map(([k, t]) => [`dicom.${k}`, a.str(t) ?? ""]).filter(([, v]) => v),
    ),
  };
  if (inst.organization !== "TILED_FULL") {
    const positions = framePositions(a, inst.opticalPaths, tileWidth, tileHeight, frames);
    if (positions) Object.assign(inst, { positions });
  }
  return { ...inst, readFrame: frameReader(frames) };
}

/**
 * Each frame's tile column and row (from the 1-based PlanePositionSlideSequence positions, which must fall
 * on the tile grid) and optical path, from the per-frame functional groups; null when they are absent.
 */
function framePositions(
  a: DicomAttrs,
  paths: OpticalPath[],
  tileWidth: number,
  tileHeight: number,
  frames: number,
): { col: number; row: number; path: number }[] | null {
  if (!a.has("52009230")) return null;
  const items = a.items("52009230");
  if (items.length !== frames) throw corruptSource(`DICOM per-frame groups for ${items.length} of ${frames} frames`);
  return items.map((f, i) => {
    const pos = f.items("0048021A")[0];
    const x = pos?.num("0048021E"), y = pos?.num("0048021F");
    if (x === undefined || y === undefined) throw corruptSource(`DICOM frame ${i} has no plane position`);
    if ((x - 1) % tileWidth || (y - 1) % tileHeight) {
      throw unsupportedSource(`DICOM frame ${i} at ${x},${y} is off the tile grid (TILED_SPARSE off the grid)`);
    }
    const id = f.items("00480207")[0]?.str("00480106");
    const path = id === undefined ? 0 : Math.max(0, paths.findIndex((p) => p.id === id));
    return { col: (x - 1) / tileWidth, row: (y - 1) / tileHeight, path };
  });
}

function errorText(err: unknown): string {
  // dicom-parser throws `{ exception, dataSet }` objects as well as Errors and strings.
  const e = err as { exception?: unknown; message?: unknown };
  return String(e?.exception ?? e?.message ?? err);
}

/**
 * `head` with the Extended Offset Table's VR `OV` (64-bit values, DICOM 2019) written as `OB`: dicom-parser
 * 1.8.21 predates OV and would read its 4-byte length as 2 bytes; OB has OV's layout (2 reserved bytes, a
 * 32-bit length), and the values are read as 64-bit numbers here (`extendedOffsets`). A copy when changed.
 */
function withOvAsOb(head: Uint8Array): Uint8Array {
  let out = head;
  for (let i = 132; i + 6 <= head.length; i++) {
    // (7FE0,0001) or (7FE0,0002), little endian, then "OV".
    if (head[i] === 0xe0 && head[i + 1] === 0x7f && (head[i + 2] === 1 || head[i + 2] === 2) && head[i + 3] === 0) {
      if (head[i + 4] === 0x4f && head[i + 5] === 0x56) {
        if (out === head) out = head.slice();
        out[i + 5] = 0x42;
      }
    }
  }
  return out;
}

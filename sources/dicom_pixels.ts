/**
 * Where a DICOM file's frames lie and how one is read, with one ranged read: native pixel data by
 * arithmetic; encapsulated pixel data by the Extended Offset Table, the Basic Offset Table (a frame of one
 * fragment or several) or one scan of the fragment headers. Every position is checked against the file.
 */
import type { ByteSource } from "./bytes.ts";
import { corruptSource, unsupportedSource } from "../errors.ts";

/** Frames of native pixel data: one after another, `frameBytes` each, all inside the file. */
export function nativeFrames(bytes: ByteSource, at: number, frameBytes: number, frames: number) {
  if (at + frameBytes * frames > bytes.size) {
    throw corruptSource(`truncated DICOM: ${frames} frames of ${frameBytes} bytes pass the end of the file`);
  }
  return (i: number) => bytes.read(at + i * frameBytes, frameBytes);
}

const ITEM = (0xfffe << 16) | 0xe000, END = (0xfffe << 16) | 0xe0dd;

/**
 * Checks at open what one 8-byte read can: the pixel data starts with an offset table item whose entries
 * (if any) number the frames the header declares, and the Extended table as well. 422 when a count lies.
 */
export async function checkOffsetTable(bytes: ByteSource, at: number, frames: number, eot?: ExtendedOffsets) {
  if (at + 8 > bytes.size) throw corruptSource("truncated DICOM: its pixel data passes the end of the file");
  const b = await bytes.read(at, 8);
  const dv = new DataView(b.buffer, b.byteOffset, 8);
  if (((dv.getUint16(0, true) << 16) | dv.getUint16(2, true)) !== ITEM) {
    throw corruptSource("DICOM pixel data does not start with an offset table item");
  }
  const entries = dv.getUint32(4, true) / 4;
  if (entries && entries !== frames) {
    throw corruptSource(`a DICOM offset table of ${entries} entries for the ${frames} frames its header declares`);
  }
  if (eot && (eot.offsets.length !== frames || eot.lengths.length !== frames)) {
    throw corruptSource(`a DICOM Extended Offset Table of ${eot.offsets.length} entries for ${frames} frames`);
  }
}

/** An Extended Offset Table: each frame's offset (from the first fragment's item) and length (one fragment). */
export interface ExtendedOffsets {
  offsets: number[];
  lengths: number[];
}

/**
 * Frames of encapsulated pixel data, each read with one ranged read: by the Extended Offset Table (one
 * fragment a frame), else the Basic Offset Table (a frame is the items from its entry to the next one's: one
 * fragment or several, joined), else one scan of the fragment headers, which must number the frames. Every
 * position is checked against the file, and every item read must be one.
 */
export function encapsulatedFrames(bytes: ByteSource, at: number, frames: number, eot?: ExtendedOffsets) {
  const header = async (pos: number): Promise<{ tag: number; length: number }> => {
    if (pos + 8 > bytes.size) throw corruptSource("truncated DICOM: pixel data items pass the end of the file");
    const b = await bytes.read(pos, 8);
    const dv = new DataView(b.buffer, b.byteOffset, 8);
    return { tag: (dv.getUint16(0, true) << 16) | dv.getUint16(2, true), length: dv.getUint32(4, true) };
  };
  /** Each frame's byte range [start, end) of its items; `end` -1 for the last frame of a Basic table. */
  let index: Promise<{ ranges: [number, number][]; eot: boolean }> | undefined;
  const load = async () => {
    const bot = await header(at);
    if (bot.tag !== ITEM) throw corruptSource("DICOM pixel data does not start with an offset table item");
    const first = at + 8 + bot.length;
    if (eot) {
      if (eot.offsets.length !== frames || eot.lengths.length !== frames) {
        throw corruptSource(`a DICOM Extended Offset Table of ${eot.offsets.length} entries for ${frames} frames`);
      }
      const ranges = eot.offsets.map((o, i) => [first + o, first + o + 8 + eot.lengths[i]] as [number, number]);
      return { ranges, eot: true };
    }
    if (bot.length === frames * 4) {
      const table = await bytes.read(at + 8, bot.length);
      const dv = new DataView(table.buffer, table.byteOffset, table.byteLength);
      const starts = Array.from({ length: frames }, (_, i) => first + dv.getUint32(i * 4, true));
      if (starts.some((s, i) => i > 0 && s <= starts[i - 1])) throw corruptSource("a DICOM offset table out of order");
      return { ranges: starts.map((s, i) => [s, i + 1 < frames ? starts[i + 1] : -1] as [number, number]), eot: false };
    }
    if (bot.length) throw corruptSource(`a DICOM offset table of ${bot.length / 4} entries for ${frames} frames`);
    const ranges: [number, number][] = [];
    for (let pos = first; ranges.length <= frames;) {
      const h = await header(pos);
      if (h.tag === END) break;
      if (h.tag !== ITEM) throw corruptSource("DICOM pixel data holds something other than items");
      ranges.push([pos, pos + 8 + h.length]);
      pos += 8 + h.length;
    }
    if (ranges.length !== frames) {
      throw unsupportedSource(
        `DICOM pixel data of ${ranges.length} fragments for ${frames} frames, without an offset table`,
      );
    }
    return { ranges, eot: false };
  };
  return async (i: number): Promise<Uint8Array> => {
    let [start, end] = (await (index ??= load())).ranges[i];
    if (end < 0) {
      // The last frame of a Basic table: its items run to the sequence delimiter.
      for (end = start;;) {
        const h = await header(end);
        if (h.tag === END) break;
        if (h.tag !== ITEM) throw corruptSource(`DICOM frame ${i}: its items end in something other than a delimiter`);
        end += 8 + h.length;
        if (end > bytes.size) throw corruptSource("truncated DICOM: a frame passes the end of the file");
      }
    }
    if (end > bytes.size || end - start < 8) {
      throw corruptSource(`truncated DICOM: frame ${i} (bytes ${start}–${end}) passes the end of the file`);
    }
    const raw = await bytes.read(start, end - start);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    // One fragment (the usual case): its value, no copy; several: joined.
    const parts: Uint8Array[] = [];
    for (let p = 0; p < raw.length;) {
      if (p + 8 > raw.length || ((dv.getUint16(p, true) << 16) | dv.getUint16(p + 2, true)) !== ITEM) {
        throw corruptSource(`DICOM frame ${i} is not where its offset table says`);
      }
      const len = dv.getUint32(p + 4, true);
      if (p + 8 + len > raw.length) throw corruptSource(`DICOM frame ${i}'s fragment passes its frame`);
      parts.push(raw.subarray(p + 8, p + 8 + len));
      p += 8 + len;
    }
    if (parts.length === 1) return parts[0];
    const out = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
    parts.reduce((o, x) => (out.set(x, o), o + x.length), 0);
    return out;
  };
}

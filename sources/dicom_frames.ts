/**
 * DICOM frames as the series reader (sources/dicom_series.ts) needs them: the levels' frame grids, TILED_SPARSE
 * frames found by their plane positions, and a frame decoded by its own coding (JPEG by its markers, JPEG 2000,
 * JPEG-LS, native).
 */
import type { DicomInstance } from "./dicom.ts";
import { corruptSource } from "../errors.ts";
import type { JpegCodec } from "../codecs/tier.ts";
import { decoderFor } from "./decoders.ts";
import { decodeJpegLs } from "./jpegls.ts";

/** A TILED_SPARSE level's frames (numbered across its instances) by `path:col:row`. */
export function sparseIndex(insts: DicomInstance[]): Map<string, number> {
  const index = new Map<string, number>();
  let base = 0;
  for (const inst of insts) {
    if (!inst.positions) throw corruptSource("a DICOM level mixes TILED_FULL and TILED_SPARSE instances");
    inst.positions.forEach((p, i) => index.set(`${p.path}:${p.col}:${p.row}`, base + i));
    base += inst.frames;
  }
  return index;
}

/** One JPEG 2000 decoder an instance, made at its first frame (not one a frame). */
const j2kDecoders = new WeakMap<DicomInstance, ReturnType<typeof decoderFor>>();

/** Frame `i` of `inst` decoded to its samples (`tileWidth × tileHeight × samplesPerPixel`). */
export async function decodeFrame(codec: JpegCodec, inst: DicomInstance, i: number): Promise<Uint8Array> {
  const { data: raw, coding } = await inst.readFrame(i);
  const need = inst.tileWidth * inst.tileHeight * inst.samplesPerPixel;
  let out: Uint8Array;
  if (coding === "native") out = raw;
  else if (coding === "jpeg") {
    // Decoded by the stream's own markers (Adobe APP14, component ids): converters label RGB frames YBR_FULL_422.
    const img = await codec.decode(raw, { format: inst.samplesPerPixel === 1 ? "gray" : "rgb" });
    if (img.width !== inst.tileWidth || img.height !== inst.tileHeight) {
      throw corruptSource(`DICOM frame ${i} is ${img.width}×${img.height}, not ${inst.tileWidth}×${inst.tileHeight}`);
    }
    out = img.data;
  } else if (coding === "jpegls") {
    out = await decodeJpegLs(raw, inst.tileWidth, inst.tileHeight, inst.samplesPerPixel);
  } else {
    const decoder = await (j2kDecoders.get(inst) ?? j2kDecoders.set(
      inst,
      decoderFor({
        codec,
        compression: 33005,
        tileWidth: inst.tileWidth,
        tileHeight: inst.tileHeight,
        samplesPerPixel: inst.samplesPerPixel,
        bitsPerSample: Array(inst.samplesPerPixel).fill(8),
        planarConfiguration: 1,
        predictor: 1,
        photometric: inst.samplesPerPixel === 3 ? 2 : 1,
      }),
    ).get(inst)!);
    out = new Uint8Array(await decoder.decode(raw.slice().buffer));
  }
  if (out.length < need) throw corruptSource(`DICOM frame ${i} is truncated (${out.length} of ${need} bytes)`);
  // Kept in the block cache by its buffer: a buffer of its own, exactly its samples (a decoder may hand out a
  // view of a longer buffer, or one it reuses).
  const whole = out.byteOffset === 0 && out.byteLength === need && out.buffer.byteLength === need;
  return whole ? out : out.slice(0, need);
}

/** One pyramid level: its instances (a concatenation's, in frame order) and its tile grid. */
export interface DicomLevel {
  instances: DicomInstance[];
  width: number;
  height: number;
  tileWidth: number;
  tileHeight: number;
  across: number;
  down: number;
  /** TILED_SPARSE: frame (across the level's instances) by `path:col:row`; absent for TILED_FULL. */
  sparse?: Map<string, number>;
}

/**
 * The pyramid levels of a series' volume instances: grouped by size (a concatenation's instances in frame
 * order), largest first, each narrower than the one before; 422 when a TILED_FULL level has fewer frames
 * than its grid needs.
 */
export function dicomLevels(volumes: DicomInstance[], main: DicomInstance): DicomLevel[] {
  const bySize = new Map<string, DicomInstance[]>();
  for (const v of volumes) {
    const k = `${v.totalWidth}x${v.totalHeight}`;
    bySize.set(k, [...(bySize.get(k) ?? []), v]);
  }
  const levels: DicomLevel[] = [...bySize.values()]
    .map((insts) => insts.sort((a, b) => a.frameOffset - b.frameOffset))
    .map((insts) => {
      const i = insts[0];
      return {
        ...(insts.some((x) => x.positions) ? { sparse: sparseIndex(insts) } : {}),
        instances: insts,
        width: i.totalWidth,
        height: i.totalHeight,
        tileWidth: i.tileWidth,
        tileHeight: i.tileHeight,
        across: Math.ceil(i.totalWidth / i.tileWidth),
        down: Math.ceil(i.totalHeight / i.tileHeight),
      };
    })
    .sort((a, b) => b.width - a.width)
    .filter((l, k, a) => k === 0 || (l.width < a[k - 1].width && l.height <= a[k - 1].height));
  for (const l of levels) {
    const frames = l.instances.reduce((n, i) => n + i.frames, 0);
    const need = l.across * l.down * main.opticalPaths.length * main.focalPlanes;
    if (!l.sparse && frames < need) {
      throw corruptSource(`a ${l.width}×${l.height} DICOM level has ${frames} frames of the ${need} its grid needs`);
    }
  }
  return levels;
}

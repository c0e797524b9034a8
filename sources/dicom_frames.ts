/**
 * DICOM frames as the series reader (sources/dicom_series.ts) needs them: TILED_SPARSE frames found by their
 * plane positions, and a frame decoded by its own coding (JPEG by its markers, JPEG 2000, JPEG-LS, native).
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

/**
 * JPEG-LS (ISO 14495-1) frames, as DICOM stores them (transfer syntaxes 1.2.840.10008.1.2.4.80 lossless and
 * .81 near-lossless): decoded by CharLS compiled to WASM (@cornerstonejs/codec-charls), the codec
 * dcmtk, pydicom's plugins and Cornerstone use. 8-bit samples only, as every other frame coding here.
 */
import { createRequire } from "node:module";
import { corruptSource, unsupportedSource } from "../errors.ts";

interface CharlsDecoder {
  getEncodedBuffer(n: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number };
  getInterleaveMode(): number;
  delete(): void;
}

let charls: Promise<{ JpegLSDecoder: new () => CharlsDecoder }> | undefined;

/** The CharLS WASM module, loaded once a thread, its console chatter silenced. */
function loadCharls() {
  if (!charls) {
    const require = createRequire(import.meta.url);
    const factory = require("@cornerstonejs/codec-charls/decodewasmjs");
    charls = factory({ print: () => {}, printErr: () => {} });
  }
  return charls!;
}

/**
 * A JPEG-LS bitstream decoded to interleaved 8-bit samples of `width × height × components`; a stream of
 * another size, depth or component count is a 422/415, one that does not decode a 422.
 */
export async function decodeJpegLs(
  stream: Uint8Array,
  width: number,
  height: number,
  components: number,
): Promise<Uint8Array> {
  const d = new (await loadCharls()).JpegLSDecoder();
  try {
    let info, mode, data;
    try {
      d.getEncodedBuffer(stream.length).set(stream);
      d.decode();
      info = d.getFrameInfo();
      mode = d.getInterleaveMode();
      data = d.getDecodedBuffer();
    } catch (err) {
      throw corruptSource(`a JPEG-LS frame does not decode${err instanceof Error ? `: ${err.message}` : ""}`);
    }
    if (info.bitsPerSample !== 8) throw unsupportedSource(`JPEG-LS frames of ${info.bitsPerSample}-bit samples`);
    if (info.width !== width || info.height !== height || info.componentCount !== components) {
      throw corruptSource(
        `a JPEG-LS frame of ${info.width}×${info.height}×${info.componentCount}, not ${width}×${height}×${components}`,
      );
    }
    const n = width * height;
    if (data.length < n * components) throw corruptSource("a JPEG-LS frame decoded short");
    // Interleave mode 0 (none) decodes plane after plane: interleave them. The WASM view is copied out.
    if (mode !== 0 || components === 1) return data.slice(0, n * components);
    const out = new Uint8Array(n * components);
    for (let c = 0; c < components; c++) {
      const plane = data.subarray(c * n, (c + 1) * n);
      for (let i = 0; i < n; i++) out[i * components + c] = plane[i];
    }
    return out;
  } finally {
    d.delete();
  }
}

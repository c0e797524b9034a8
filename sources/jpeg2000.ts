/**
 * JPEG 2000 blocks (Aperio 33003 YCbCr and 33005 RGB; DICOM frames) through OpenJPEG compiled to WASM
 * (@cornerstonejs/codec-openjpeg), checked against the IFD's tile size by their own SIZ header.
 */
import { createRequire } from "node:module";
import { corruptSource, unsupportedSource } from "../errors.ts";
import { checkTileHeader, type DecoderParams, fitBlock, type TileDecoder } from "./tile_decoder.ts";

interface OpenJpegDecoder {
  getEncodedBuffer(n: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number };
}
let openJpeg: Promise<{ J2KDecoder: new () => OpenJpegDecoder }> | undefined;

/** The OpenJPEG WASM module, loaded once, with its console chatter silenced. */
function loadOpenJpeg() {
  if (!openJpeg) {
    const require = createRequire(import.meta.url);
    const factory = require("@cornerstonejs/codec-openjpeg/decodewasmjs");
    openJpeg = factory({ print: () => {}, printErr: () => {} });
  }
  return openJpeg!;
}

/** JPEG 2000 tiles (Aperio 33003 YCbCr, 33005 RGB) by OpenJPEG: 8-bit samples, the IFD's tile size. */
export class Jpeg2000TileDecoder implements TileDecoder {
  private decoder?: OpenJpegDecoder;
  constructor(private p: DecoderParams) {}
  async decode(buffer: ArrayBuffer): Promise<ArrayBuffer> {
    checkTileHeader("JPEG 2000", j2kSize(new Uint8Array(buffer)), this.p);
    if (!this.decoder) this.decoder = new (await loadOpenJpeg()).J2KDecoder();
    const d = this.decoder;
    let info;
    let data: Uint8Array;
    try {
      d.getEncodedBuffer(buffer.byteLength).set(new Uint8Array(buffer));
      d.decode();
      info = d.getFrameInfo();
      data = d.getDecodedBuffer();
    } catch (err) {
      throw corruptSource(`JPEG 2000 tile does not decode: ${String((err as Error)?.message ?? err)}`);
    }
    const ch = this.p.samplesPerPixel;
    if (info.bitsPerSample !== 8 || info.componentCount !== ch) {
      throw unsupportedSource(`JPEG 2000 tile with ${info.componentCount} × ${info.bitsPerSample}-bit samples`);
    }
    // The decoded buffer is a view into WASM memory: copy it out.
    const px = new Uint8Array(data);
    if (this.p.compression === 33003 && ch === 3) ycbcrToRgbInPlace(px);
    return fitBlock(px, info.width, info.height, this.p.tileWidth, this.p.tileHeight, ch).buffer as ArrayBuffer;
  }
}

/** Image size from a JPEG 2000 codestream's SIZ segment (right after SOC; inside a JP2 box too), or null. */
function j2kSize(b: Uint8Array): { width: number; height: number } | null {
  let at = 0;
  while (
    at + 24 <= Math.min(b.length, 4096) && !(b[at] === 0xff && b[at + 1] === 0x4f && b[at + 2] === 0xff &&
      b[at + 3] === 0x51)
  ) at++;
  if (at + 24 > b.length || at + 24 > 4096) return null;
  const dv = new DataView(b.buffer, b.byteOffset + at, b.byteLength - at);
  // Lsiz, Rsiz, then Xsiz, Ysiz (reference grid) and XOsiz, YOsiz (image offset on it).
  const width = dv.getUint32(8) - dv.getUint32(16), height = dv.getUint32(12) - dv.getUint32(20);
  return width > 0 && height > 0 ? { width, height } : null;
}

/** JFIF YCbCr → RGB (Aperio 33003 stores YCbCr components without a colour transform in the codestream). */
function ycbcrToRgbInPlace(px: Uint8Array) {
  for (let i = 0; i < px.length; i += 3) {
    const y = px[i], cb = px[i + 1] - 128, cr = px[i + 2] - 128;
    px[i] = clamp8(y + 1.402 * cr);
    px[i + 1] = clamp8(y - 0.344136 * cb - 0.714136 * cr);
    px[i + 2] = clamp8(y + 1.772 * cb);
  }
}

function clamp8(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

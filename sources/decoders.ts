/**
 * Tile decoders by TIFF compression. LZW, Deflate and PackBits go to bounded decoders (bounded_codecs.ts:
 * never more output than the block), uncompressed blocks to geotiff; JPEG, WebP and JPEG 2000 to codecs
 * whose header is checked against the tile size before anything is decoded (a crafted header cannot claim
 * gigapixels):
 * - JPEG (7): this thread's codec tier (codecs/tier.ts: libjpeg-turbo natively, or its WASM builds). Tiles
 *   are made standalone with the IFD's JPEGTables; RGB-photometric tiles (Aperio) get an Adobe APP14 marker
 *   with transform 0, so the decoder does not apply a YCbCr transform. `luma` decoders give the Y plane of
 *   YCbCr tiles (one channel: see DESIGN, gray of YCbCr JPEG sources).
 * - WebP (50001): @jsquash/webp (geotiff's default needs OffscreenCanvas, absent in Deno).
 * - JPEG 2000 (33003 YCbCr, 33005 RGB, Aperio): OpenJPEG through @cornerstonejs/codec-openjpeg.
 * - ZSTD (50000): zstddec with the tile's known size. geotiff's own ZSTD decoder streams without a size and
 *   spins forever inside WASM on some corrupt frames (found by tests/fuzz_test.ts); with the size, a corrupt
 *   frame is an error.
 */
import { BaseDecoder, getDecoder } from "geotiff";
import { ZSTDDecoder } from "zstddec";
import webpDecode from "@jsquash/webp/decode.js";
import { corruptSource, unsupportedSource } from "../errors.ts";
import { rgbaToChannels } from "../codecs/wasm_jpeg.ts";
import { TurboJpegError } from "../codecs/jpeg_types.ts";
import { BOUNDED_COMPRESSIONS, BoundedBlockDecoder } from "./bounded_codecs.ts";
import { readFlatHeader } from "../codecs/sniff.ts";
import { checkTileHeader, type DecoderParams, fitBlock, type TileDecoder } from "./tile_decoder.ts";
import { Jpeg2000TileDecoder } from "./jpeg2000.ts";

/** Compressions this service can read, with their names. */
export const SUPPORTED_COMPRESSIONS: Record<number, string> = {
  1: "none",
  5: "LZW",
  7: "JPEG",
  8: "Deflate",
  32946: "Deflate",
  32773: "PackBits",
  50000: "ZSTD",
  50001: "WebP",
  33003: "JPEG 2000 (Aperio YCbCr)",
  33005: "JPEG 2000 (Aperio RGB)",
};

/** Compressions known and refused on purpose (clear 415). */
const KNOWN_UNSUPPORTED: Record<number, string> = {
  6: "old-style JPEG",
  2: "CCITT RLE",
  3: "CCITT Group 3",
  4: "CCITT Group 4",
  34712: "JPEG 2000",
  34887: "LERC",
  34925: "LZMA",
};

/** A decoder for an IFD, or a 415 if its compression is not supported. */
export async function decoderFor(p: DecoderParams): Promise<TileDecoder> {
  const c = p.compression;
  if (!(c in SUPPORTED_COMPRESSIONS)) {
    const name = KNOWN_UNSUPPORTED[c] ?? `compression ${c}`;
    throw unsupportedSource(`unsupported TIFF compression: ${name} (${c})`);
  }
  if (c === 7) return new JpegTileDecoder(p);
  if (c === 50001) return new WebpTileDecoder(p);
  if (c === 33003 || c === 33005) return new Jpeg2000TileDecoder(p);
  if (c === 50000) return await ZstdTileDecoder.create(p);
  if (BOUNDED_COMPRESSIONS.has(c)) return new BoundedBlockDecoder(p) as unknown as TileDecoder;
  return await getDecoder(c, {
    tileWidth: p.tileWidth,
    tileHeight: p.tileHeight,
    planarConfiguration: p.planarConfiguration,
    bitsPerSample: p.bitsPerSample,
    predictor: p.predictor,
    samplesPerPixel: p.samplesPerPixel,
  }) as unknown as TileDecoder;
}

const ADOBE_APP14_RGB = new Uint8Array([
  0xff,
  0xee,
  0x00,
  0x0e,
  0x41,
  0x64,
  0x6f,
  0x62,
  0x65,
  0x00,
  0x64,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
]);

/**
 * A standalone JPEG from an abbreviated TIFF tile: SOI, [APP14 transform=0 for RGB], the tables
 * (JPEGTables without its SOI/EOI), then the tile without its SOI.
 */
export function standaloneJpeg(tile: Uint8Array, jpegTables: Uint8Array | undefined, rgb: boolean): Uint8Array {
  const hasSoi = tile[0] === 0xff && tile[1] === 0xd8;
  const body = hasSoi ? tile.subarray(2) : tile;
  let tables: Uint8Array = new Uint8Array(0);
  if (jpegTables && jpegTables.length > 4) {
    let start = 0, end = jpegTables.length;
    if (jpegTables[0] === 0xff && jpegTables[1] === 0xd8) start = 2;
    if (jpegTables[end - 2] === 0xff && jpegTables[end - 1] === 0xd9) end -= 2;
    tables = jpegTables.subarray(start, end);
  }
  const app14: Uint8Array = rgb ? ADOBE_APP14_RGB : new Uint8Array(0);
  const out = new Uint8Array(2 + app14.length + tables.length + body.length);
  out[0] = 0xff;
  out[1] = 0xd8;
  out.set(app14, 2);
  out.set(tables, 2 + app14.length);
  out.set(body, 2 + app14.length + tables.length);
  return out;
}

class JpegTileDecoder implements TileDecoder {
  constructor(private p: DecoderParams) {}
  async decode(buffer: ArrayBuffer, alloc?: (n: number) => Uint8Array): Promise<ArrayBuffer> {
    const { p } = this;
    const rgb = p.photometric === 2 && p.samplesPerPixel >= 3;
    const jpeg = standaloneJpeg(new Uint8Array(buffer), p.jpegTables, rgb);
    if (p.samplesPerPixel !== 1 && p.samplesPerPixel !== 3) {
      throw unsupportedSource(`JPEG tiles with ${p.samplesPerPixel} samples per pixel`);
    }
    const ch = p.luma || p.samplesPerPixel === 1 ? 1 : 3;
    // Checked before decoding on every codec tier (the WASM decoders take no pixel limit).
    checkTileHeader("JPEG", readFlatHeader("jpeg", jpeg), p);
    let img;
    try {
      const format = ch === 1 ? "gray" : "rgb", maxPixels = p.tileWidth * p.tileHeight;
      img = await this.p.codec.decode(jpeg, { format, maxPixels, alloc });
    } catch (err) {
      if (err instanceof TurboJpegError && err.unsupported) throw unsupportedSource(err.message);
      throw corruptSource(`JPEG tile does not decode: ${(err as Error).message}`);
    }
    // A tile is never larger than the IFD says (a crafted header could claim gigapixels).
    if (img.width > p.tileWidth || img.height > p.tileHeight) {
      throw corruptSource(`JPEG tile of ${img.width}×${img.height} in ${p.tileWidth}×${p.tileHeight} tiles`);
    }
    return fitBlock(img.data, img.width, img.height, p.tileWidth, p.tileHeight, ch).buffer as ArrayBuffer;
  }
}

class WebpTileDecoder implements TileDecoder {
  constructor(private p: DecoderParams) {}
  async decode(buffer: ArrayBuffer): Promise<ArrayBuffer> {
    checkTileHeader("WebP", readFlatHeader("webp", new Uint8Array(buffer)), this.p);
    let img: ImageData;
    try {
      img = await webpDecode(buffer);
    } catch (err) {
      throw corruptSource(`WebP tile does not decode: ${(err as Error).message}`);
    }
    const ch = this.p.samplesPerPixel;
    const rgba = new Uint8Array(img.data.buffer, img.data.byteOffset, img.width * img.height * 4);
    const px = rgbaToChannels(rgba, img.width * img.height, ch);
    return fitBlock(px, img.width, img.height, this.p.tileWidth, this.p.tileHeight, ch).buffer as ArrayBuffer;
  }
}

let zstd: Promise<ZSTDDecoder> | undefined;

/** ZSTD with the expected size; predictors undone by geotiff's BaseDecoder. */
class ZstdTileDecoder extends BaseDecoder {
  private constructor(private zstd: ZSTDDecoder, private size: number, params: object) {
    super(params as never);
  }

  static async create(p: DecoderParams): Promise<TileDecoder> {
    zstd ??= (async () => {
      const d = new ZSTDDecoder();
      await d.init();
      return d;
    })();
    const bytes = p.bitsPerSample.reduce((a, b) => a + b, 0) / 8;
    const size = p.tileWidth * p.tileHeight * bytes;
    return new ZstdTileDecoder(await zstd, size, {
      tileWidth: p.tileWidth,
      tileHeight: p.tileHeight,
      planarConfiguration: p.planarConfiguration,
      bitsPerSample: p.bitsPerSample,
      predictor: p.predictor,
    }) as unknown as TileDecoder;
  }

  override decodeBlock(buffer: ArrayBuffer): ArrayBuffer {
    try {
      return this.zstd.decode(new Uint8Array(buffer), this.size).slice().buffer;
    } catch (err) {
      throw corruptSource(`ZSTD tile does not decode: ${(err as Error).message ?? err}`);
    }
  }
}

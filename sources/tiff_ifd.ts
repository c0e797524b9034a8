/**
 * The image directories of a TIFF (the chain is walked and checked in tiff_chain.ts): each IFD's tags read
 * into an `IfdEntry` (geometry, samples, compression), what this service supports, the bound on a block.
 */
import { type GeoTIFF, GeoTIFFImage } from "geotiff";
import { corruptSource, tooLarge, unsupportedSource } from "../errors.ts";
import { SUPPORTED_COMPRESSIONS } from "./decoders.ts";
import type { TileDecoder } from "./tile_decoder.ts";
import { arrayTypeFor, type PixelType, pixelTypeFor } from "../core/raster.ts";
import { type ImageInfo, type LevelInfo, photoChannels } from "../core/image_info.ts";
import { type BlockLayout, checkLayout, tilesUnderStripTags } from "./tiff_layout.ts";

/** One image directory: its geotiff image and the tags this service reads. */
export interface IfdEntry extends BlockLayout {
  /** Index in the IFD chain; -1 for a SubIFD. */
  index: number;
  /** Names the IFD in the decoded-block cache (its chain index, or its SubIFD offset). */
  key: string;
  type: PixelType;
  compression: number;
  photometric: number;
  description: string;
  subfileType: number;
  predictor: number;
  sampleFormat: number;
  jpegTables?: Uint8Array;
  decoder?: Promise<TileDecoder>;
  /** Luma-only decoder of YCbCr JPEG blocks. */
  lumaDecoder?: Promise<TileDecoder>;
  /** The level's block offsets and byte counts, loaded whole at its first block read (`TiffSource`). */
  blockIndex?: Promise<void>;
}

/** True when an IFD is stored as YCbCr JPEG blocks of 8-bit RGB: its luma plane decodes on its own. */
export function hasLumaPlane(e: IfdEntry): boolean {
  return e.compression === 7 && e.photometric === 6 && e.spp === 3 && e.planar === 1 && e.type === "uint8";
}

/** geotiff's file directory of an IFD. */
export type FileDirectory = ReturnType<GeoTIFFImage["getFileDirectory"]>;

/** A tag's value, or undefined when the IFD lacks it. */
export async function tag(fd: FileDirectory, name: string): Promise<unknown> {
  // deno-lint-ignore no-explicit-any
  const f = fd as any;
  if (!f.hasTag(name)) return undefined;
  return await f.loadValue(name);
}

/** A tag value as one number (the first of an array), or `dflt`. */
export const num = (v: unknown, dflt: number): number => {
  if (v === undefined || v === null) return dflt;
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (ArrayBuffer.isView(v) || Array.isArray(v)) return Number((v as ArrayLike<number>)[0]);
  return dflt;
};

/** Bytes per value of each TIFF field type (the NDPI reader's too). */
export const TIFF_TYPE_SIZES: Record<number, number> = {
  1: 1,
  2: 1,
  3: 2,
  4: 4,
  5: 8,
  6: 1,
  7: 1,
  8: 2,
  9: 4,
  10: 8,
  11: 4,
  12: 8,
  13: 4,
  16: 8,
  17: 8,
  18: 8,
};

/**
 * 413 when one block of `e` decodes to more than the pixel budget: it could not be kept, so every tile
 * would decode it again (a 783 KB file holding one 16384² Deflate tile; a 20000² image in one strip).
 */
export function checkBlockSize(e: IfdEntry, pixelBytes: number, limit: number) {
  const bytes = e.blockWidth * e.blockHeight * pixelBytes;
  if (bytes <= limit) return;
  const mib = (n: number) => `${Math.ceil(n / 2 ** 20)} MiB`;
  throw tooLarge(
    `this ${e.width}×${e.height} TIFF image is stored in ${e.blockWidth}×${e.blockHeight} ` +
      `${e.tiled ? "tiles" : "strips"} of ${mib(bytes)} decoded each, more than the pixel budget ` +
      `(EDGETILE_PIXEL_CACHE_MB, ${
        mib(limit)
      }): store it in smaller tiles (e.g. vips tiffsave --tile --pyramid), or raise the budget`,
  );
}

/** A RATIONAL tag's value as a number. */
function rational(v: unknown): number {
  const a = v as ArrayLike<number>;
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return a.length >= 2 && a[1] ? a[0] / a[1] : Number(a[0]);
  return typeof v === "number" ? v : 0;
}

/**
 * geotiff 3.0.5's lazily loaded arrays (`DeferredArray`) read their values little-endian whatever the
 * file's byte order, so big-endian TIFFs get wrong tile offsets and byte counts. For big-endian files we
 * read those arrays ourselves and hand geotiff the values.
 */
async function fixBigEndianArrays(tiff: GeoTIFF, fd: FileDirectory) {
  // deno-lint-ignore no-explicit-any
  const f = fd as any;
  // deno-lint-ignore no-explicit-any
  if ((tiff as any).littleEndian || !(f.deferredArrays instanceof Map)) return;
  for (const [tagId, arr] of [...f.deferredArrays.entries()]) {
    const size: number = arr.itemSize;
    // deno-lint-ignore no-explicit-any
    const [bytes] = await (tiff as any).source.fetch([{ offset: arr.arrayOffset, length: size * arr.length }]);
    const dv = new DataView(bytes);
    const values = size === 8
      ? new Float64Array(arr.length)
      : size === 4
      ? new Uint32Array(arr.length)
      : new Uint16Array(arr.length);
    for (let i = 0; i < arr.length; i++) {
      values[i] = size === 8
        ? Number(dv.getBigUint64(i * 8, false))
        : size === 4
        ? dv.getUint32(i * 4, false)
        : size === 2
        ? dv.getUint16(i * 2, false)
        : dv.getUint8(i);
    }
    f.actualizedFields.set(tagId, values);
    f.deferredArrays.delete(tagId);
  }
}

/** Reads IFD `index` (inheriting the main IFD's SampleFormat where libvips omits it). */
export async function readIfd(tiff: GeoTIFF, index: number, main?: IfdEntry): Promise<IfdEntry> {
  return await ifdEntryOf(tiff, await tiff.getImage(index), index, String(index), main);
}

/** Reads the IFD at byte `offset` (a SubIFD); `key` names it in the decoded-block cache. */
export async function readIfdAt(tiff: GeoTIFF, offset: number, key: string, main?: IfdEntry): Promise<IfdEntry> {
  // deno-lint-ignore no-explicit-any
  const t = tiff as any;
  const fd = await t.parser.parseFileDirectoryAt(offset);
  const image = new GeoTIFFImage(fd, t.littleEndian, t.cache, t.source);
  return await ifdEntryOf(tiff, image, -1, key, main);
}

async function ifdEntryOf(
  tiff: GeoTIFF,
  image: GeoTIFFImage,
  index: number,
  key: string,
  main?: IfdEntry,
): Promise<IfdEntry> {
  const fd = image.getFileDirectory();
  await fixBigEndianArrays(tiff, fd);
  tilesUnderStripTags(image);
  const bps = await tag(fd, "BitsPerSample");
  const bits = num(bps, 1);
  // libvips writes reduced-resolution IFDs without SampleFormat: those of the main IFD's depth inherit its format.
  const inherit = main && arrayTypeFor(main.type).BYTES_PER_ELEMENT * 8 === bits ? main.sampleFormat : 1;
  const sampleFormat = num(await tag(fd, "SampleFormat"), inherit);
  const spp = num(await tag(fd, "SamplesPerPixel"), 1);
  const compression = num(await tag(fd, "Compression"), 1);
  const photometric = num(await tag(fd, "PhotometricInterpretation"), spp >= 3 ? 2 : 1);
  const planar = num(await tag(fd, "PlanarConfiguration"), 1);
  // Writers end it with NULs (Aperio's last property kept a \u0000): not part of the text.
  const description = String(await tag(fd, "ImageDescription") ?? "").replace(/\0+$/, "");
  const subfileType = num(await tag(fd, "NewSubfileType"), 0);
  const predictor = num(await tag(fd, "Predictor"), 1);
  const tables = await tag(fd, "JPEGTables");
  const type = pixelTypeFor(sampleFormat, bits);
  if (!type) throw unsupportedSource(`unsupported sample type: ${bits}-bit, SampleFormat ${sampleFormat}`);
  if (Array.isArray(bps) || ArrayBuffer.isView(bps)) {
    const all = Array.from(bps as ArrayLike<number>);
    if (all.some((b) => b !== bits)) throw unsupportedSource(`mixed bits per sample: ${all.join(",")}`);
  }
  return {
    index,
    key,
    image,
    width: image.getWidth(),
    height: image.getHeight(),
    tiled: image.isTiled,
    blockWidth: image.getTileWidth(),
    // RowsPerStrip may be 2^32-1 ("one strip"): a strip is never taller than the image.
    blockHeight: image.isTiled ? image.getTileHeight() : Math.min(image.getTileHeight(), image.getHeight()),
    spp,
    type,
    compression,
    photometric,
    planar,
    description,
    subfileType,
    predictor,
    sampleFormat,
    jpegTables: tables ? new Uint8Array(tables as ArrayLike<number>) : undefined,
  };
}

/**
 * 415 for layouts this service does not read, 422 for an image without pixels or with missing or
 * inconsistent block tags, 413 for a block grid past the bounds (`tiff_layout.ts`).
 */
export function checkSupported(e: IfdEntry) {
  if (!(e.compression in SUPPORTED_COMPRESSIONS)) {
    const names: Record<number, string> = { 6: "old-style JPEG", 34712: "JPEG 2000" };
    throw unsupportedSource(
      `unsupported TIFF compression: ${names[e.compression] ?? "compression " + e.compression} (${e.compression})`,
    );
  }
  if (e.photometric === 3) throw unsupportedSource("palette-colour TIFF is not supported");
  if (e.photometric === 5) throw unsupportedSource("CMYK TIFF is not supported");
  if (e.photometric === 6 && e.compression !== 7) throw unsupportedSource("YCbCr TIFF without JPEG is not supported");
  if (e.photometric > 6 && e.photometric !== 32844) {
    throw unsupportedSource(`photometric interpretation ${e.photometric} is not supported`);
  }
  if (e.spp < 1 || e.spp > 16) throw unsupportedSource(`${e.spp} samples per pixel`);
  if (e.width < 1 || e.height < 1) throw corruptSource("image has no pixels");
  checkLayout(e, e.index >= 0 ? `IFD ${e.index}` : `SubIFD ${e.key.replace(/^sub/, "at ")}`);
}

/** What `decoderFor` needs to decode `e`'s blocks. */
export function decoderParams(e: IfdEntry) {
  const bits = arrayTypeFor(e.type).BYTES_PER_ELEMENT * 8;
  const spp = e.planar === 2 ? 1 : e.spp;
  return {
    compression: e.compression,
    tileWidth: e.blockWidth,
    tileHeight: e.blockHeight,
    samplesPerPixel: spp,
    bitsPerSample: Array(spp).fill(bits),
    planarConfiguration: e.planar,
    predictor: e.predictor,
    photometric: e.photometric,
    jpegTables: e.jpegTables,
  };
}

/**
 * What a plain TIFF says of its channels: an RGB file's are red, green and blue (extra samples none), a
 * gray file's one sample white; more than 4 samples are separate signals.
 */
export function fileChannels(e: IfdEntry): Pick<ImageInfo, "channelMeta" | "multichannel"> {
  if (e.spp > 4) return { multichannel: true };
  return e.photometric === 2 || e.photometric === 6 || e.photometric <= 1 ? { channelMeta: photoChannels(e.spp) } : {};
}

/** Microns per pixel from the resolution tags (microscopy scales only), or undefined. */
export async function resolutionMpp(main: IfdEntry): Promise<ImageInfo["mpp"]> {
  const fd = main.image.getFileDirectory();
  const unit = num(await tag(fd, "ResolutionUnit"), 2);
  const xr = rational(await tag(fd, "XResolution")), yr = rational(await tag(fd, "YResolution"));
  // Only microscopy-scale resolutions: writers put 72 dpi (352 µm) in files that have no real scale.
  const scale = unit === 3 ? 10000 : unit === 2 ? 25400 : 0;
  return scale && xr > 0 && yr > 0 && scale / xr < 50 ? { x: scale / xr, y: scale / yr } : undefined;
}

/** The pyramid level an IFD stores (sizes and downsample against the main IFD, block size, luma plane). */
export function storedLevel(e: IfdEntry, main: IfdEntry): LevelInfo {
  return {
    width: e.width,
    height: e.height,
    downsampleX: main.width / e.width,
    downsampleY: main.height / e.height,
    tileWidth: e.blockWidth,
    tileHeight: e.tiled ? e.blockHeight : Math.min(e.blockHeight, e.height),
    stored: true,
    ...(hasLumaPlane(e) ? { luma: true } : {}),
  };
}

/** A level's blocks across and down (tiles, or strips one across). */
export function blockGrid(e: IfdEntry): { perRow: number; perCol: number } {
  return { perRow: Math.ceil(e.width / e.blockWidth), perCol: Math.ceil(e.height / e.blockHeight) };
}

/** The largest block index (offsets or byte counts) loaded whole: 512 Ki blocks of 8 bytes. */
const MAX_INDEX_BYTES = 4 << 20;

/**
 * Loads a level's whole block offset and byte-count arrays (one read each) at its first block read, where
 * geotiff reads 8 bytes of each the first time a block is read: two more reads a block (a seek and a read
 * each) while a slide is first served. Arrays over `MAX_INDEX_BYTES` stay loaded block by block; a failed
 * load is left to the per-block reads to report.
 */
export function loadBlockIndex(e: IfdEntry): Promise<void> {
  return e.blockIndex ??= (async () => {
    const { perRow, perCol } = blockGrid(e);
    const blocks = perRow * perCol * (e.planar === 2 ? e.spp : 1);
    if (blocks * 8 > MAX_INDEX_BYTES) return;
    const fd = e.image.getFileDirectory() as unknown as { loadValue(tag: string): Promise<unknown> };
    const tags = e.tiled ? ["TileOffsets", "TileByteCounts"] : ["StripOffsets", "StripByteCounts"];
    await Promise.all(tags.map((t) => fd.loadValue(t))).catch(() => {});
  })();
}

/**
 * Flat images (PNG, JPEG, WebP): size checked from the header against MAX_PIXELS before decoding, decoded
 * whole once into a bounded LRU (charged to the process's pixel budget; an image whose decode would not
 * fit that budget is 413, not decoded again for every tile), pyramid levels derived by 2× area averaging.
 */
import jpegDecode from "@jsquash/jpeg/decode.js";
import webpDecode from "@jsquash/webp/decode.js";
import pngDecode from "@jsquash/png/decode.js";
import { corruptSource, notFound, tooLarge, unsupportedSource } from "../errors.ts";
import type { Runtime } from "../cache/runtime.ts";
import { TurboJpegError } from "../codecs/jpeg_types.ts";
import { cropRaster } from "../core/crop.ts";
import type { ImageSource } from "./source.ts";
import type { ImageInfo, LevelInfo, PlaneSelection } from "../core/image_info.ts";
import { LevelledSource, withDerivedLevels } from "./source.ts";
import { photoChannels } from "../core/image_info.ts";
import { pickChannels, type Raster, type Raster8 } from "../core/raster.ts";
import { type ContainerFormat, readFlatHeader } from "../codecs/sniff.ts";
import type { ByteSource } from "./bytes.ts";

/** Options for opening a flat image. */
export interface FlatOpenOptions {
  maxPixels: number;
  cacheKey: string;
  runtime: Runtime;
}

/** Opens a PNG, JPEG or WebP file; 413 past `maxPixels`, 422 when the header is unreadable. */
export function openFlat(
  bytes: ByteSource,
  format: ContainerFormat,
  head: Uint8Array,
  opts: FlatOpenOptions,
): Promise<ImageSource> {
  const header = readFlatHeader(format, head);
  if (!header) return Promise.reject(corruptSource(`not a readable ${format.toUpperCase()} file`));
  const { width, height } = header;
  if (width * height > opts.maxPixels) {
    return Promise.reject(
      tooLarge(`image of ${width}×${height} pixels exceeds EDGETILE_MAX_PIXELS (${opts.maxPixels})`),
    );
  }
  const stored: LevelInfo[] = [{
    width,
    height,
    downsampleX: 1,
    downsampleY: 1,
    tileWidth: width,
    tileHeight: height,
    stored: true,
  }];
  const info: ImageInfo = {
    format,
    width,
    height,
    channels: header.channels,
    channelMeta: photoChannels(header.channels),
    pixelType: header.bitsPerSample === 16 ? "uint16" : "uint8",
    levels: withDerivedLevels(stored, width, height),
    associated: [],
    associatedSizes: {},
    properties: {},
  };
  return Promise.resolve(new FlatSource(bytes, format, info, opts.cacheKey, opts.runtime));
}

class FlatSource extends LevelledSource implements ImageSource {
  constructor(
    private bytes: ByteSource,
    private format: ContainerFormat,
    info: ImageInfo,
    cacheKey: string,
    runtime: Runtime,
  ) {
    super(info, cacheKey, runtime);
  }

  async readStored(
    _level: number,
    x: number,
    y: number,
    w: number,
    h: number,
    _luma?: boolean,
    select?: PlaneSelection,
  ): Promise<Raster> {
    const region = cropRaster(await this.decoded(), x, y, w, h);
    return select ? pickChannels(region, select.c) : region;
  }

  /**
   * JPEG levels at downsample 2, 4 and 8 on a codec tier that scales: the file decoded at that scale in
   * the DCT domain (libjpeg's scaled IDCT, as sharp/libvips shrink-on-load), whole, kept in the same LRU.
   * Levels past 8 are averaged from it. Its accuracy against the box filter: bench/README.md.
   */
  readDerivedDirect(level: number, x: number, y: number, w: number, h: number): Promise<Raster> | null {
    const scale = 2 ** level;
    if (this.format !== "jpeg" || level < 1 || level > 3 || !this.runtime.codec.scales) return null;
    if (this.info.channels !== 1 && this.info.channels !== 3) return null;
    return this.decoded(scale as 2 | 4 | 8).then((r) => cropRaster(r, x, y, w, h));
  }

  readAssociated(name: string): Promise<Raster8> {
    return Promise.reject(notFound(`no associated image "${name}"`));
  }

  close(): Promise<void> {
    return this.bytes.close();
  }

  /** The whole image decoded (at 1/`scale` for JPEG on a scaling tier), once, in the bounded LRU. */
  private decoded(scale: 1 | 2 | 4 | 8 = 1): Promise<Raster> {
    const key = scale === 1 ? this.cacheKey : `${this.cacheKey}/${scale}`;
    const flatImages = this.runtime.caches.flatImages;
    if (flatImages.has(key)) return flatImages.get(key, () => this.decode(scale));
    const bps = this.info.pixelType === "uint16" ? 2 : 1;
    const { width, height, channels } = this.info;
    const pixels = Math.ceil(width / scale) * Math.ceil(height / scale);
    // What decoding takes at once: the samples, and for the RGBA decoders (PNG, WebP) their RGBA output.
    const working = pixels * bps * (this.format === "jpeg" && channels !== 4 ? channels : channels + 4);
    const limit = this.runtime.readLimitBytes;
    if (working > limit) {
      const mib = (n: number) => `${Math.ceil(n / 2 ** 20)} MiB`;
      return Promise.reject(tooLarge(
        `this ${width}×${height} ${this.format.toUpperCase()} must be decoded whole (${mib(working)}), more than ` +
          `the pixel budget (EDGETILE_PIXEL_CACHE_MB, ${
            mib(limit)
          }); convert it to a tiled pyramid, or raise the budget`,
      ));
    }
    return flatImages.get(key, () => this.decode(scale), pixels * channels * bps);
  }

  private async decode(scale: 1 | 2 | 4 | 8): Promise<Raster> {
    const bytes = await this.bytes.read(0, this.bytes.size);
    const { channels } = this.info;
    const width = Math.ceil(this.info.width / scale), height = Math.ceil(this.info.height / scale);
    try {
      const buf = () => bytes.slice().buffer as ArrayBuffer;
      if (this.format === "png" && this.info.pixelType === "uint16") {
        const img = await pngDecode(buf(), { bitDepth: 16 });
        return fromRgba(img.data, img.width, img.height, channels, "uint16");
      }
      if (this.format === "jpeg" && (channels === 1 || channels === 3)) {
        // This thread's codec tier (native libjpeg-turbo or WASM), straight to gray or RGB samples.
        const format = channels === 1 ? "gray" : "rgb", maxPixels = this.info.width * this.info.height;
        const img = await this.runtime.codec.decode(bytes, { format, scale, maxPixels });
        if (img.width !== width || img.height !== height) throw new Error("size differs from the header");
        return { width, height, channels, type: "uint8", data: img.data };
      }
      const img = this.format === "png"
        ? await pngDecode(buf())
        : this.format === "jpeg"
        ? await jpegDecode(buf())
        : await webpDecode(buf());
      if (img.width !== width || img.height !== height) throw new Error("size differs from the header");
      return fromRgba(new Uint8Array(img.data.buffer), img.width, img.height, channels, "uint8");
    } catch (err) {
      if (err instanceof TurboJpegError && err.unsupported) throw unsupportedSource(err.message);
      throw corruptSource(`${this.format.toUpperCase()} does not decode: ${(err as Error).message}`);
    }
  }
}

function fromRgba(
  rgba: Uint8Array | Uint16Array,
  width: number,
  height: number,
  channels: number,
  type: "uint8" | "uint16",
): Raster {
  const n = width * height;
  if (channels === 4) return { width, height, channels, type, data: rgba };
  const out = type === "uint8" ? new Uint8Array(n * channels) : new Uint16Array(n * channels);
  // 1: gray (R), 2: gray + alpha (R, A), 3: RGB.
  const pick = channels === 1 ? [0] : channels === 2 ? [0, 3] : [0, 1, 2];
  for (let i = 0; i < n; i++) for (let c = 0; c < channels; c++) out[i * channels + c] = rgba[i * 4 + pick[c]];
  return { width, height, channels, type, data: out };
}

/**
 * Tiled and stripped TIFF / BigTIFF sources (generic pyramids, Aperio SVS, COG) through geotiff: geotiff
 * parses the IFDs (checked and read in `tiff_ifd.ts`) and fetches only the tiles a region needs; decoding goes
 * through `decoders.ts`, and decoded blocks are kept in an LRU charged to the process's pixel budget so
 * neighbouring tiles reuse one decode (a block larger than that budget is 413, never decoded per tile).
 */
import { leaseBytes, leased } from "../core/lease.ts";
import { fromCustomClient, GeoTIFF } from "geotiff";
import { ByteSourceClient, localSlices } from "./tiff_bytes.ts";
import { decodeTiffBlock, storedTiffJpeg } from "./tiff_block.ts";
import type { ByteSource } from "./bytes.ts";
import type { SourceDescriptor } from "./open.ts";
import { corruptSource, HttpError, notFound, tooLarge } from "../errors.ts";
import { SUPPORTED_COMPRESSIONS } from "./decoders.ts";
import { walkIfdChain } from "./tiff_chain.ts";
import {
  checkBlockSize,
  checkSupported,
  fileChannels,
  hasLumaPlane,
  type IfdEntry,
  readIfd,
  resolutionMpp,
  storedLevel,
} from "./tiff_ifd.ts";
import type { ImageSource, ReadHints } from "./source.ts";
import type { ImageInfo, LevelInfo, PlaneSelection } from "../core/image_info.ts";
import { parseOmeXml } from "./ome.ts";
import { omeInfo, OmePlanes } from "./tiff_planes.ts";
import { LevelledSource, withDerivedLevels } from "./source.ts";
import { arrayTypeFor, pickChannels, type Raster, type Raster8, toUint8 } from "../core/raster.ts";
import type { Runtime } from "../cache/runtime.ts";
import { readBlockPart } from "./block_parts.ts";
import { checkReadBlocks } from "./tiff_layout.ts";
import { openNdpi } from "./ndpi.ts";
import { readNdpiIfds } from "./ndpi_ifd.ts";
import { type TiffLayout, tiffLayout } from "./tiff_vendors.ts";
import { readBifRegion } from "./bif.ts";
import { readFlatHeader } from "../codecs/sniff.ts";

/** Options for opening a TIFF. */
export interface TiffOpenOptions {
  /** Refuse single-level stripped images larger than this many pixels (413). */
  maxPixels: number;
  /** Cache key for this file version (decoded blocks and derived levels live under it). */
  cacheKey: string;
  /** The opening thread's runtime. */
  runtime: Runtime;
}

/** Opens a TIFF file as an `ImageSource`; 415 for unsupported layouts, 422 for corrupt files. */
export async function openTiff(d: SourceDescriptor, bytes: ByteSource, opts: TiffOpenOptions): Promise<ImageSource> {
  // Hamamatsu NDPI: its own IFD reader (64-bit offsets), levels of restart intervals read by bands.
  const ndpi = await readNdpiIfds(bytes);
  if (ndpi) return await openNdpi(ndpi, bytes, opts.cacheKey, opts.runtime);
  const { size: fileSize, count } = await walkIfdChain(bytes);
  let tiff: GeoTIFF;
  try {
    // Local files through the same handle's synchronous reads; remote ones through a client over the guarded
    // byte source (geotiff then fetches in blocks).
    tiff = d.remote
      ? await fromCustomClient(new ByteSourceClient(bytes) as never)
      : await GeoTIFF.fromSource(localSlices(bytes) as never);
  } catch (err) {
    throw corruptSource(`not a readable TIFF: ${(err as Error).message}`);
  }
  try {
    return await TiffSource.create(tiff, { ...opts, fileSize, ifdCount: count, bytes });
  } catch (err) {
    await tiff.close?.();
    if (err instanceof HttpError) throw err;
    throw corruptSource(`not a readable TIFF: ${(err as Error).message}`);
  }
}

class TiffSource extends LevelledSource implements ImageSource {
  private constructor(
    private tiff: GeoTIFF,
    info: ImageInfo,
    private levelIfds: IfdEntry[],
    private associatedIfds: Map<string, IfdEntry>,
    o: { cacheKey: string; runtime: Runtime; fileSize: number; bytes: ByteSource },
    private planes?: OmePlanes,
    private embedded = new Map<string, Uint8Array>(),
    private bif?: TiffLayout["bif"],
  ) {
    super(info, o.cacheKey, o.runtime);
    this.fileSize = o.fileSize;
    this.bytes = o.bytes;
  }
  private fileSize: number;
  private bytes: ByteSource;

  static async create(
    tiff: GeoTIFF,
    opts: TiffOpenOptions & { fileSize: number; ifdCount: number; bytes: ByteSource },
  ): Promise<TiffSource> {
    const count = opts.ifdCount;
    const first = await readIfd(tiff, 0);
    const ome = parseOmeXml(first.description);
    if (ome && ome.sizeX === first.width && ome.sizeY === first.height) {
      const planes = await OmePlanes.open(tiff, opts.bytes, first, ome, count);
      const info = omeInfo(planes, first, await resolutionMpp(first));
      return new TiffSource(tiff, info, planes.levels0, new Map(), opts, planes);
    }
    const ifds: IfdEntry[] = [first];
    for (let i = 1; i < count; i++) ifds.push(await readIfd(tiff, i, first));
    // Levels and associated images by vendor (Aperio, Philips, Leica, Ventana, generic).
    const layout = await tiffLayout(ifds);
    const { levels, associated } = layout;
    const main = levels[0];
    for (const e of [...levels, ...associated.values()]) checkSupported(e);
    if (levels.length === 1 && !main.tiled && main.width * main.height > opts.maxPixels) {
      throw tooLarge(`image of ${main.width}×${main.height} pixels exceeds EDGETILE_MAX_PIXELS (${opts.maxPixels})`);
    }
    // A level stored padded to whole tiles (Philips) is its true size, a whole downsample of level 0.
    // A BIF's levels are its stitched tiles at the downsample of their magnification (bif.ts).
    const [W, H] = [layout.sizes[0].width, layout.sizes[0].height];
    const stored: LevelInfo[] = levels.map((e, i) => {
      const { width, height } = layout.sizes[i];
      const l = storedLevel(e, main), ds = layout.bif?.downsamples[i];
      if (ds) return { width, height, downsampleX: ds, downsampleY: ds, tileWidth: 256, tileHeight: 256, stored: true };
      return width === e.width && height === e.height
        ? l
        : { ...l, width, height, downsampleX: W / width, downsampleY: H / height };
    });
    const info: ImageInfo = {
      format: layout.format,
      width: W,
      height: H,
      channels: main.spp,
      ...fileChannels(main),
      pixelType: main.type,
      levels: withDerivedLevels(stored, W, H),
      compression: SUPPORTED_COMPRESSIONS[main.compression],
      mpp: layout.mpp ?? await resolutionMpp(main),
      associated: [...associated.keys(), ...layout.embedded.keys()],
      associatedSizes: Object.fromEntries([...associated].map(([k, e]) => [k, { width: e.width, height: e.height }])),
      properties: layout.properties,
    };
    for (const [name, jpeg] of layout.embedded) {
      const size = readFlatHeader("jpeg", jpeg);
      if (!size) throw corruptSource(`the embedded ${name} image is not a JPEG`);
      info.associatedSizes[name] = { width: size.width, height: size.height };
    }
    return new TiffSource(
      tiff,
      info,
      levels,
      associated,
      opts,
      undefined,
      layout.embedded,
      layout.bif,
    );
  }

  /**
   * Reads a rectangle of a stored level (or its luma plane) by assembling its decoded blocks; of an
   * OME-TIFF, the selected channels' planes (all channels of the first Z/T plane without `select`).
   */
  async readStored(
    level: number,
    x: number,
    y: number,
    w: number,
    h: number,
    luma = false,
    select?: PlaneSelection,
    hints?: ReadHints,
  ): Promise<Raster> {
    if (this.planes) {
      const all = { c: Array.from({ length: this.info.channels }, (_, i) => i), z: 0, t: 0 };
      return await this.planes.read(level, x, y, w, h, select ?? all, (e, ...r) => this.readIfdRegion(e, ...r));
    }
    const e = this.levelIfds[level];
    const raster = this.bif
      ? await readBifRegion(this.bif.layout, this.bif.downsamples[level], [x, y, w, h], e.spp, (sx, sy, sw, sh) =>
        // Tiles past the IFD's own size stay background.
        sx >= e.width || sy >= e.height
          ? Promise.resolve({ width: 0, height: 0, channels: e.spp, type: "uint8", data: new Uint8Array(0) })
          : this.readIfdRegion(e, sx, sy, Math.min(sw, e.width - sx), Math.min(sh, e.height - sy)))
      : await this.readIfdRegion(e, x, y, w, h, luma && hasLumaPlane(e), !!hints?.scan);
    return select ? pickChannels(raster, select.c) : raster;
  }

  readStoredJpeg(level: number, tx: number, ty: number): Promise<Uint8Array | null> {
    const e = this.levelIfds[level];
    return !e || this.planes || this.bif ? Promise.resolve(null) : storedTiffJpeg(e, tx, ty, this.fileSize, this.bytes);
  }

  async readAssociated(name: string): Promise<Raster8> {
    const jpeg = this.embedded.get(name);
    if (jpeg) {
      const img = await this.runtime.codec.decode(jpeg, { format: "rgb" });
      return { width: img.width, height: img.height, channels: 3, type: "uint8", data: img.data };
    }
    const e = this.associatedIfds.get(name);
    if (!e) throw notFound(`no associated image "${name}"`);
    // Read whole: as much as one block may be.
    checkBlockSize(
      { ...e, blockWidth: e.width, blockHeight: e.height },
      e.spp * arrayTypeFor(e.type).BYTES_PER_ELEMENT,
      this.runtime.readLimitBytes,
    );
    return toUint8(await this.readIfdRegion(e, 0, 0, e.width, e.height));
  }

  async close(): Promise<void> {
    await this.tiff.close?.();
    await this.bytes.close();
  }

  private async readIfdRegion(
    e: IfdEntry,
    x: number,
    y: number,
    w: number,
    h: number,
    luma = false,
    scan = false,
  ): Promise<Raster> {
    if (x < 0 || y < 0 || w <= 0 || h <= 0 || x + w > e.width || y + h > e.height) {
      throw new RangeError(`region ${x},${y},${w},${h} outside ${e.width}×${e.height}`);
    }
    const ch = luma ? 1 : e.spp;
    const Ctor = arrayTypeFor(e.type);
    const bw = e.blockWidth, bh = e.blockHeight;
    checkBlockSize(e, ch * Ctor.BYTES_PER_ELEMENT, this.runtime.readLimitBytes);
    checkReadBlocks(e, x, y, w, h);
    if (w === bw && h === bh && x % bw === 0 && y % bh === 0) {
      // Exactly one stored block: its decoded samples are the region, with no copy (192 KB a 256² RGB tile).
      // Cached: shared with the block cache (the pipeline never writes into its input). Not cached: decoded
      // for this read alone into a leased buffer, and left out of the cache — an aligned tile's block is
      // seldom read again (the tile cache answers repeats), and caching it evicts the blocks that unaligned
      // reads (Deep Zoom 254+1) share.
      const tx = x / bw, ty = y / bh;
      const cached = this.runtime.caches.decodedBlocks.has(this.blockKey(e, tx, ty, luma));
      const data = cached ? await this.block(e, tx, ty, luma) : new Ctor(
        await decodeTiffBlock(e, tx, ty, luma, Ctor === Uint8Array, this.fileSize, this.runtime) as ArrayBuffer,
      );
      const region = { width: w, height: h, channels: ch, type: e.type, data: data.subarray(0, w * h * ch) };
      return cached ? region : leased(region);
    }
    // Every sample is written below (the blocks cover the region); 8-bit regions come from the pool.
    const out = Ctor === Uint8Array ? leaseBytes(this.runtime.pool, w * h * ch) : new Ctor(w * h * ch);
    const tx0 = Math.floor(x / bw), tx1 = Math.floor((x + w - 1) / bw);
    const ty0 = Math.floor(y / bh), ty1 = Math.floor((y + h - 1) / bh);
    const jobs: Promise<void>[] = [];
    for (let ty = ty0; ty <= ty1; ty++) {
      for (let tx = tx0; tx <= tx1; tx++) {
        jobs.push((async () => {
          // Intersection of the block and the region, in image pixels.
          const bx0 = tx * bw, by0 = ty * bh;
          const ix0 = Math.max(x, bx0), ix1 = Math.min(x + w, bx0 + bw);
          const iy0 = Math.max(y, by0), iy1 = Math.min(y + h, by0 + bh);
          // The part needed, decoded alone when that is cheaper (and the block is not cached), else the block;
          // in a scan the neighbours need the rest of the block: always the block.
          const part = scan ? null : await readBlockPart(
            this.runtime,
            e,
            this.blockKey(e, tx, ty, luma),
            luma,
            [ix0 - bx0, iy0 - by0, ix1 - bx0, iy1 - by0],
            () => storedTiffJpeg(e, tx, ty, this.fileSize, this.bytes),
          );
          const src = part ?? { x: 0, y: 0, width: bw, data: await this.block(e, tx, ty, luma) };
          const rowLen = (ix1 - ix0) * ch;
          for (let iy = iy0; iy < iy1; iy++) {
            const from = ((iy - by0 - src.y) * src.width + (ix0 - bx0 - src.x)) * ch;
            // deno-lint-ignore no-explicit-any
            out.set((src.data as any).subarray(from, from + rowLen), ((iy - y) * w + (ix0 - x)) * ch);
          }
        })());
      }
    }
    await Promise.all(jobs);
    return { width: w, height: h, channels: ch, type: e.type, data: out, lease: "own" };
  }

  /**
   * One decoded block as a typed array of `blockWidth × blockHeight × spp` samples (interleaved), or of its
   * luma plane (one sample a pixel) when `luma`.
   */
  private async block(e: IfdEntry, tx: number, ty: number, luma = false) {
    const key = this.blockKey(e, tx, ty, luma);
    const bytes = e.blockWidth * e.blockHeight * (luma ? 1 : e.spp) * arrayTypeFor(e.type).BYTES_PER_ELEMENT;
    const decode = () => decodeTiffBlock(e, tx, ty, luma, false, this.fileSize, this.runtime);
    const buf = await this.runtime.caches.decodedBlocks.get(key, decode, bytes);
    return new (arrayTypeFor(e.type))(buf as ArrayBuffer);
  }

  private blockKey(e: IfdEntry, tx: number, ty: number, luma: boolean): string {
    return `${this.cacheKey}|${e.key}|${tx}|${ty}${luma ? "|Y" : ""}`;
  }
}

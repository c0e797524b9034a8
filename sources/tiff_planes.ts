/**
 * The planes of an OME-TIFF: each (c, z, t) plane is an IFD (found through the OME-XML's TiffData map),
 * its pyramid the IFD's SubIFDs (bioformats2raw/raw2ometiff, tifffile) or the reduced-resolution IFDs that
 * follow it in the chain. A plane's IFDs are read the first time a request needs that plane; a read
 * assembles only the selected channels' planes.
 */
import type { GeoTIFF } from "geotiff";
import type { ByteSource } from "./bytes.ts";
import { corruptSource } from "../errors.ts";
import { checkSupported, type IfdEntry, readIfd, readIfdAt, storedLevel, tag } from "./tiff_ifd.ts";
import { checkSubIfds } from "./tiff_chain.ts";
import { type OmeImage, planeIndex } from "./ome.ts";
import { withDerivedLevels } from "./source.ts";
import { type ChannelMeta, type ImageInfo, type LevelInfo, type PlaneSelection } from "../core/image_info.ts";
import { SUPPORTED_COMPRESSIONS } from "./decoders.ts";
import { arrayTypeFor, type Raster } from "../core/raster.ts";

/** Reads a rectangle of one IFD (all its samples). */
export type IfdRegionReader = (e: IfdEntry, x: number, y: number, w: number, h: number) => Promise<Raster>;

/** An OME-TIFF's planes and their pyramids. */
export class OmePlanes {
  #levels = new Map<number, Promise<IfdEntry[]>>();
  /** Samples per IFD (1, or 3 for RGB channels stored interleaved). */
  readonly spp: number;

  private constructor(
    private tiff: GeoTIFF,
    private bytes: ByteSource,
    readonly ome: OmeImage,
    private main: IfdEntry,
    /** Plane 0's levels: the geometry every plane must share. */
    readonly levels0: IfdEntry[],
    private ifdCount: number,
  ) {
    this.spp = main.spp;
    this.#levels.set(0, Promise.resolve(levels0));
  }

  /** The planes of `ome` in `tiff`, plane 0's pyramid read now. 422 when the layout contradicts the XML. */
  static async open(tiff: GeoTIFF, bytes: ByteSource, main: IfdEntry, ome: OmeImage, ifdCount: number) {
    if (ome.planeIfds.some((i) => i >= ifdCount)) {
      throw corruptSource(`OME-XML maps planes to IFD ${Math.max(...ome.planeIfds)}; the file has ${ifdCount}`);
    }
    const spp = ome.channels[0].samplesPerPixel;
    if (main.spp !== spp) throw corruptSource(`OME-XML says ${spp} samples per plane, the TIFF ${main.spp}`);
    const first = ome.planeIfds[0];
    const head = first === 0 ? main : await readIfd(tiff, first, main);
    const levels0 = await pyramidOf(tiff, bytes, head, main, ifdCount);
    return new OmePlanes(tiff, bytes, ome, main, levels0, ifdCount);
  }

  /** Channel count in IFD planes (SizeC over samples per IFD). */
  get cPlanes(): number {
    return this.ome.channels.length;
  }

  /** What the XML says of each channel (sample), RGB samples of an interleaved channel coloured. */
  channelMeta(): ChannelMeta[] {
    const rgb = ["ff0000", "00ff00", "0000ff"];
    return this.ome.channels.flatMap((c) =>
      this.spp === 1
        ? [{ ...(c.name ? { name: c.name } : {}), ...(c.color ? { color: c.color } : {}) }]
        : Array.from({ length: this.spp }, (_, s) => ({
          ...(c.name ? { name: `${c.name}:${s}` } : {}),
          ...(this.spp === 3 ? { color: rgb[s] } : {}),
        }))
    );
  }

  /** The levels (IFDs, finest first) of plane (c, z, t), c in IFD planes. */
  levelsOf(c: number, z: number, t: number): Promise<IfdEntry[]> {
    const { c: C, z: Z, t: T } = { c: this.cPlanes, z: this.ome.sizeZ, t: this.ome.sizeT };
    const p = planeIndex(this.ome.dimensionOrder, { c: C, z: Z, t: T }, { c, z, t });
    let levels = this.#levels.get(p);
    if (!levels) {
      levels = (async () => {
        const head = await readIfd(this.tiff, this.ome.planeIfds[p], this.main);
        const pyramid = await pyramidOf(this.tiff, this.bytes, head, this.main, this.ifdCount);
        this.#checkLike(pyramid, `plane c=${c} z=${z} t=${t}`);
        return pyramid;
      })();
      levels.catch(() => this.#levels.delete(p));
      this.#levels.set(p, levels);
    }
    return levels;
  }

  /** The selected channels of the selected Z/T plane, `level`'s rectangle, interleaved in `select.c` order. */
  async read(level: number, x: number, y: number, w: number, h: number, select: PlaneSelection, read: IfdRegionReader) {
    const parts = await Promise.all(select.c.map(async (k) => {
      const ifd = (await this.levelsOf(Math.floor(k / this.spp), select.z, select.t))[level];
      return { raster: await read(ifd, x, y, w, h), sample: k % this.spp };
    }));
    if (parts.length === 1 && this.spp === 1) return parts[0].raster;
    const n = w * h, ch = parts.length, type = parts[0].raster.type;
    const out = new (arrayTypeFor(type))(n * ch);
    for (const [o, { raster, sample }] of parts.entries()) {
      const src = raster.data, sch = raster.channels;
      for (let i = 0; i < n; i++) out[i * ch + o] = src[i * sch + sample];
    }
    return { width: w, height: h, channels: ch, type, data: out } as Raster;
  }

  /** 422 when a plane's pyramid differs from plane 0's (sizes, samples, type). */
  #checkLike(levels: IfdEntry[], which: string) {
    const ok = levels.length >= this.levels0.length &&
      this.levels0.every((l, i) =>
        levels[i].width === l.width && levels[i].height === l.height && levels[i].spp === l.spp &&
        levels[i].type === l.type
      );
    if (!ok) throw corruptSource(`OME-TIFF ${which} is not laid out like plane 0`);
  }
}

/**
 * The pyramid of a plane's IFD: itself, then its SubIFDs, or else the reduced-resolution IFDs right after
 * it in the chain; only levels of its samples and type, each smaller than the last.
 */
async function pyramidOf(
  tiff: GeoTIFF,
  bytes: ByteSource,
  head: IfdEntry,
  main: IfdEntry,
  ifdCount: number,
): Promise<IfdEntry[]> {
  const fd = head.image.getFileDirectory();
  const raw = await tag(fd, "SubIFDs");
  const offsets = raw === undefined ? [] : Array.from(raw as ArrayLike<number | bigint>, Number);
  let reduced: IfdEntry[] = [];
  if (offsets.length) {
    await checkSubIfds(bytes, offsets, `IFD ${head.index}`);
    reduced = await Promise.all(offsets.map((o) => readIfdAt(tiff, o, `sub${o}`, main)));
  } else {
    for (let i = head.index + 1; i < ifdCount; i++) {
      const e = await readIfd(tiff, i, main);
      if ((e.subfileType & 1) !== 1) break;
      reduced.push(e);
    }
  }
  const levels = [head];
  for (const e of reduced.filter((e) => e.spp === head.spp && e.type === head.type).sort((a, b) => b.width - a.width)) {
    const prev = levels[levels.length - 1];
    if (e.width < prev.width && e.height <= prev.height) levels.push(e);
  }
  for (const e of levels) checkSupported(e);
  return levels;
}

/** The OME-TIFF's image info: SizeC channels, Z/T sizes, names and colours, its physical pixel size. */
export function omeInfo(planes: OmePlanes, main: IfdEntry, resolution: ImageInfo["mpp"]): ImageInfo {
  const { ome, levels0 } = planes;
  const stored: LevelInfo[] = levels0.map((e) => storedLevel(e, main));
  return {
    format: "ome-tiff",
    width: main.width,
    height: main.height,
    channels: planes.cPlanes * planes.spp,
    channelMeta: planes.channelMeta(),
    multichannel: planes.spp === 1 || ome.sizeZ > 1 || ome.sizeT > 1,
    planes: { z: ome.sizeZ, t: ome.sizeT },
    pixelType: main.type,
    levels: withDerivedLevels(stored, main.width, main.height),
    compression: SUPPORTED_COMPRESSIONS[main.compression],
    mpp: ome.physicalSize ?? resolution,
    associated: [],
    associatedSizes: {},
    properties: {
      "ome.DimensionOrder": ome.dimensionOrder,
      "ome.SizeC": String(ome.sizeC),
      "ome.SizeZ": String(ome.sizeZ),
      "ome.SizeT": String(ome.sizeT),
    },
  };
}

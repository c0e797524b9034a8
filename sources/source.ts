/**
 * The source interface every image format implements, and the derived-level logic they share:
 * levels a file lacks are made by 2× area averaging of the level before them.
 */
import type { ImageInfo, LevelInfo, PlaneSelection, ReadPlane } from "../core/image_info.ts";
import { derivedLevelSizes } from "../pyramid/levels.ts";
import { arrayTypeFor, type Raster, type Raster8 } from "../core/raster.ts";
import { downsample2xSamples } from "../kernels/downsample2x.ts";
import { cropRaster } from "../core/crop.ts";
import type { Runtime } from "../cache/runtime.ts";
import { tooLarge } from "../errors.ts";

/** An open image: metadata plus region reads at any level. */
export interface ImageSource {
  readonly info: ImageInfo;
  /** The runtime of the thread that opened it (its codec, pixel caches, budget, byte pool). */
  readonly runtime: Runtime;
  /**
   * Pixels of `level` in the rectangle (level pixels, inside the level), native sample type. With `plane`
   * "luma", a level with a luma plane (`LevelInfo.luma`) gives that plane (1 channel, 8-bit) instead. With
   * `select`, only those channels of that Z/T plane (only their planes are read); without, every channel of
   * the first Z/T plane. `hints` say how to decode, never what: the pixels are the same.
   */
  readRegion(
    level: number,
    x: number,
    y: number,
    w: number,
    h: number,
    plane?: ReadPlane,
    select?: PlaneSelection,
    hints?: ReadHints,
  ): Promise<Raster>;
  /** A whole associated image (thumbnail, label, macro) as 8-bit pixels. */
  readAssociated(name: string): Promise<Raster8>;
  /**
   * The stored tile (`tx`, `ty`) of `level` as a standalone JPEG file, without decoding — when that level
   * is stored as JPEG tiles (else null). The tile covers `storedTileSize(level)` pixels, padding included.
   */
  readStoredJpeg?(level: number, tx: number, ty: number): Promise<Uint8Array | null>;
  /** Releases file handles. */
  close(): Promise<void>;
}

/**
 * How a region read may decode (the pixels are the same either way). `scan`: the read is one of a sweep
 * over the level (a patch export), whose neighbours will need the rest of each stored block it touches, so
 * those blocks are decoded whole and kept rather than only the part this read needs.
 */
export interface ReadHints {
  scan?: boolean;
}

/** Reads regions of the levels a file stores. */
export interface StoredLevelReader {
  /** Bytes of one pixel of a stored level (all its samples). */
  readonly storedPixelBytes: number;
  /** Its thread's runtime: the derived-level cache and the read limit. */
  readonly runtime: Runtime;
  /**
   * A stored level's samples (of the `select`ed planes, when given), or its luma plane when `luma` (only
   * asked of levels with `luma` set).
   */
  readStored(
    level: number,
    x: number,
    y: number,
    w: number,
    h: number,
    luma?: boolean,
    select?: PlaneSelection,
    hints?: ReadHints,
  ): Promise<Raster>;
  /**
   * A derived level read directly instead of by 2× averaging of the level before it (a JPEG decoded at
   * 1/2, 1/4 or 1/8 in the DCT domain), or null where the reader cannot.
   */
  readDerivedDirect?(level: number, x: number, y: number, w: number, h: number): Promise<Raster> | null;
}

/**
 * The part every file-backed source shares: region reads over its stored levels (its `readStored`) and the
 * derived levels after them (`readLevelRegion`), and the bytes of a stored pixel. TIFF and flat sources
 * extend it.
 */
export abstract class LevelledSource implements StoredLevelReader {
  readonly storedPixelBytes: number;
  protected constructor(
    readonly info: ImageInfo,
    protected readonly cacheKey: string,
    readonly runtime: Runtime,
  ) {
    this.storedPixelBytes = info.channels * arrayTypeFor(info.pixelType).BYTES_PER_ELEMENT;
  }

  abstract readStored(
    level: number,
    x: number,
    y: number,
    w: number,
    h: number,
    luma?: boolean,
    select?: PlaneSelection,
    hints?: ReadHints,
  ): Promise<Raster>;

  /** `ImageSource.readRegion`. */
  readRegion(
    level: number,
    x: number,
    y: number,
    w: number,
    h: number,
    plane?: ReadPlane,
    select?: PlaneSelection,
    hints?: ReadHints,
  ): Promise<Raster> {
    return readLevelRegion(this, this.info.levels, this.cacheKey, level, x, y, w, h, plane, select, hints);
  }
}

/** Derived levels whose whole raster is at most this many pixels are computed once and kept. */
const MATERIALIZE_MAX_PIXELS = 2048 * 2048;

/** `levels` extended with derived levels down to a longer side of 256 px. */
export function withDerivedLevels(stored: LevelInfo[], l0Width: number, l0Height: number): LevelInfo[] {
  const coarsest = stored[stored.length - 1];
  const derived = derivedLevelSizes(l0Width, l0Height, coarsest).map((l) => ({
    ...l,
    tileWidth: 256,
    tileHeight: 256,
    stored: false,
    ...(coarsest.luma ? { luma: true } : {}),
  }));
  return [...stored, ...derived];
}

/**
 * Region reads over stored and derived levels. A derived level reads the 2× region of the level before
 * it and halves it; small derived levels are computed whole once (keyed by `cacheKey`) and cropped.
 * Derived levels keep the source's sample type (the render step windows real values). `plane` "luma"
 * reads the luma plane of levels that have one (and the samples of those that do not); `select` picks
 * channels and a Z/T plane of multichannel sources.
 */
export async function readLevelRegion(
  reader: StoredLevelReader,
  levels: readonly LevelInfo[],
  cacheKey: string,
  level: number,
  x: number,
  y: number,
  w: number,
  h: number,
  plane: ReadPlane = "samples",
  select?: PlaneSelection,
  hints?: ReadHints,
): Promise<Raster> {
  const info = levels[level];
  const luma = plane === "luma" && !!info.luma;
  if (info.stored) return reader.readStored(level, x, y, w, h, luma, select, hints);
  const direct = luma || select ? null : reader.readDerivedDirect?.(level, x, y, w, h);
  if (direct) return direct;
  if (info.width * info.height <= MATERIALIZE_MAX_PIXELS) {
    const planes = select ? `|c${select.c.join(",")}z${select.z}t${select.t}` : "";
    const key = `${cacheKey}#${level}${luma ? "Y" : ""}${planes}`;
    // A small level is made whole once, when the stored pixels behind it may be read at once; else by region.
    if (
      !reader.runtime.caches.derivedLevels.has(key) &&
      derivationSource(reader, levels, level, info.width, info.height, luma).bytes > reader.runtime.readLimitBytes
    ) {
      checkDerivation(reader, levels, level, w, h, luma);
      return derive(reader, levels, cacheKey, level, x, y, w, h, luma, select);
    }
    const whole = reader.runtime.caches.derivedLevels.get(
      key,
      () => derive(reader, levels, cacheKey, level, 0, 0, info.width, info.height, luma, select),
      info.width * info.height * (luma ? 1 : reader.storedPixelBytes),
    );
    return cropRaster(await whole, x, y, w, h);
  }
  checkDerivation(reader, levels, level, w, h, luma);
  return derive(reader, levels, cacheKey, level, x, y, w, h, luma, select);
}

/** A derivation's source: what a `w`×`h` region of derived `level` is read from. */
interface DerivationSource {
  /** The stored level it is made from (the nearest one before it). */
  stored: number;
  /** Bytes of that level's pixels read at once. */
  bytes: number;
}

/** The stored level a `w`×`h` region of derived `level` is made from, and how many of its bytes. */
function derivationSource(
  reader: StoredLevelReader,
  levels: readonly LevelInfo[],
  level: number,
  w: number,
  h: number,
  luma: boolean,
): DerivationSource {
  let s = level;
  while (s > 0 && !levels[s].stored) s--;
  const f = 2 ** (level - s), pixelBytes = luma ? 1 : reader.storedPixelBytes;
  return { stored: s, bytes: Math.min(w * f, levels[s].width) * Math.min(h * f, levels[s].height) * pixelBytes };
}

/**
 * 413 when deriving a `w`×`h` region of `level` would read more stored pixels at once than the pixel budget
 * (a 20000² image without a pyramid: a thumbnail would decode all of level 0 for every request).
 */
function checkDerivation(
  reader: StoredLevelReader,
  levels: readonly LevelInfo[],
  level: number,
  w: number,
  h: number,
  luma: boolean,
) {
  const { stored: s, bytes } = derivationSource(reader, levels, level, w, h, luma);
  const limit = reader.runtime.readLimitBytes;
  if (bytes <= limit) return;
  const mib = (n: number) => `${Math.ceil(n / 2 ** 20)} MiB`;
  const scale = Math.round(levels[0].width / levels[level].width);
  throw tooLarge(
    `this file stores no level near 1/${scale} scale (${levels[level].width}×${levels[level].height}); this region ` +
      `would be derived from ${mib(bytes)} of its ${levels[s].width}×${levels[s].height} level, more than the ` +
      `pixel budget (EDGETILE_PIXEL_CACHE_MB, ${mib(limit)}): store a pyramid (e.g. vips tiffsave --tile --pyramid), ` +
      `ask for a smaller region, or raise the budget`,
  );
}

async function derive(
  reader: StoredLevelReader,
  levels: readonly LevelInfo[],
  cacheKey: string,
  level: number,
  x: number,
  y: number,
  w: number,
  h: number,
  luma: boolean,
  select?: PlaneSelection,
): Promise<Raster> {
  const finer = levels[level - 1];
  const fx = 2 * x, fy = 2 * y;
  const fw = Math.min(2 * w, finer.width - fx), fh = Math.min(2 * h, finer.height - fy);
  const plane = luma ? "luma" : "samples";
  return downsample2xSamples(await readLevelRegion(reader, levels, cacheKey, level - 1, fx, fy, fw, fh, plane, select));
}

/**
 * A DICOM VL Whole Slide Microscopy series (a folder of its instances, or one multi-frame file) as an
 * `ImageSource`: volume instances are the pyramid levels (largest first; instances of one size are one
 * level, a concatenation's frames in order), LABEL and OVERVIEW instances the associated images `label` and
 * `macro`; frames are tiles, found by arithmetic in a TILED_FULL instance (frame = ((optical path × focal
 * planes + z) × rows + row) × columns + column); optical paths of one-sample frames are channels (the
 * render step composites them). Decoded frames are kept in the pixel budget like TIFF blocks.
 */
import type { ByteSource } from "./bytes.ts";
import { type DicomInstance, readDicomInstance } from "./dicom.ts";
import { LevelledSource } from "./source.ts";
import { type ImageInfo, type LevelInfo, photoChannels, type PlaneSelection } from "../core/image_info.ts";
import { withDerivedLevels } from "./source.ts";
import type { ImageSource } from "./source.ts";
import type { Raster, Raster8 } from "../core/raster.ts";
import { corruptSource, notFound, unsupportedSource } from "../errors.ts";
import type { Runtime } from "../cache/runtime.ts";
import { decodeFrame, type DicomLevel, dicomLevels } from "./dicom_frames.ts";
import { checkReadBlocks } from "./tiff_layout.ts";
import { type BlockPart, decodeBlockPart, partWorthDecoding } from "./block_parts.ts";

/** Opens the instances in `files` (each an open byte source and its path) as one slide. */
export async function openDicomSeries(
  files: { bytes: ByteSource; path: string }[],
  cacheKey: string,
  runtime: Runtime,
): Promise<ImageSource> {
  const all: DicomInstance[] = [];
  for (const f of files) all.push(await readDicomInstance(f.bytes, f.path));
  return openDicomInstances(
    all,
    cacheKey,
    runtime,
    () => Promise.all(files.map((f) => f.bytes.close())).then(() => {}),
  );
}

/**
 * A slide from the instances of one series (read from files or a DICOMweb server's metadata); `close`
 * releases what they read from.
 */
export function openDicomInstances(
  all: DicomInstance[],
  cacheKey: string,
  runtime: Runtime,
  close: () => Promise<void>,
): ImageSource {
  const volumes = all.filter((i) => i.flavor === "VOLUME" || i.flavor === "THUMBNAIL");
  if (!volumes.length) throw unsupportedSource("a DICOM series without a VOLUME instance (no slide image)");
  const series = new Set(volumes.map((v) => v.seriesUid));
  if (series.size > 1) throw unsupportedSource(`${series.size} DICOM series in one folder: give each its own folder`);
  const main = volumes.reduce((a, b) => (b.totalWidth > a.totalWidth ? b : a));
  for (const v of volumes) {
    if (v.organization !== "TILED_FULL" && !v.positions) {
      throw unsupportedSource(`DICOM frames of organization "${v.organization || "none"}" without plane positions`);
    }
    if (v.samplesPerPixel !== main.samplesPerPixel || v.opticalPaths.length !== main.opticalPaths.length) {
      throw corruptSource("DICOM volume instances disagree on samples per pixel or optical paths");
    }
  }
  const levels = dicomLevels(volumes, main);
  const associated = new Map<string, DicomInstance>();
  for (const i of all) {
    if (i.flavor === "LABEL") associated.set("label", i);
    if (i.flavor === "OVERVIEW") associated.set("macro", i);
  }
  const rgb = main.samplesPerPixel === 3;
  const channels = rgb ? 3 : main.opticalPaths.length;
  const stored: LevelInfo[] = levels.map((l) => ({
    width: l.width,
    height: l.height,
    downsampleX: main.totalWidth / l.width,
    downsampleY: main.totalHeight / l.height,
    tileWidth: l.tileWidth,
    tileHeight: l.tileHeight,
    stored: true,
  }));
  const info: ImageInfo = {
    format: "dicom",
    width: main.totalWidth,
    height: main.totalHeight,
    channels,
    ...(rgb ? { channelMeta: photoChannels(3) } : {
      channelMeta: main.opticalPaths.map((p) => (p.name ? { name: p.name } : {})),
      multichannel: channels > 1,
    }),
    pixelType: "uint8",
    // Focal planes (TotalPixelMatrixFocalPlanes) are Z planes: `z=` picks one, as in an OME-TIFF.
    ...(main.focalPlanes > 1 ? { planes: { z: main.focalPlanes, t: 1 } } : {}),
    levels: withDerivedLevels(stored, main.totalWidth, main.totalHeight),
    compression: { native: "none", jpeg: "JPEG", jpeg2000: "JPEG 2000", jpegls: "JPEG-LS" }[main.coding],
    ...(main.mpp ? { mpp: main.mpp } : {}),
    associated: [...associated.keys()],
    associatedSizes: Object.fromEntries(
      [...associated].map(([k, i]) => [k, { width: i.totalWidth, height: i.totalHeight }]),
    ),
    properties: {
      ...main.properties,
      ...(main.objectivePower ? { "dicom.ObjectiveLensPower": String(main.objectivePower) } : {}),
    },
  };
  return new DicomSeriesSource(info, cacheKey, runtime, levels, associated, close);
}

class DicomSeriesSource extends LevelledSource implements ImageSource {
  constructor(
    info: ImageInfo,
    cacheKey: string,
    runtime: Runtime,
    private levels: DicomLevel[],
    private associatedInstances: Map<string, DicomInstance>,
    private closeAll: () => Promise<void>,
  ) {
    super(info, cacheKey, runtime);
  }

  async readStored(
    level: number,
    x: number,
    y: number,
    w: number,
    h: number,
    _luma?: boolean,
    select?: PlaneSelection,
  ): Promise<Raster> {
    const L = this.levels[level];
    const rgb = this.info.channelMeta?.length === 3 && !this.info.multichannel && this.info.channels === 3;
    const paths = rgb ? [0] : select?.c ?? Array.from({ length: this.info.channels }, (_, i) => i);
    const z = select?.z ?? 0;
    const ch = rgb ? 3 : paths.length;
    checkReadBlocks(
      {
        ...L,
        blockWidth: L.tileWidth,
        blockHeight: L.tileHeight,
        tiled: true,
        spp: paths.length,
        planar: rgb ? 1 : 2,
        image: undefined as never,
      },
      x,
      y,
      w,
      h,
    );
    const out = new Uint8Array(w * h * ch);
    const jobs: Promise<void>[] = [];
    for (let row = Math.floor(y / L.tileHeight); row <= Math.floor((y + h - 1) / L.tileHeight); row++) {
      for (let col = Math.floor(x / L.tileWidth); col <= Math.floor((x + w - 1) / L.tileWidth); col++) {
        paths.forEach((op, k) =>
          jobs.push((async () => {
            // TILED_FULL: by arithmetic; TILED_SPARSE: by position, a tile no frame covers being background
            // (white under brightfield RGB, black under fluorescence).
            const index = L.sparse
              ? L.sparse.get(`${op}:${col}:${row}`)
              : ((op * this.focalPlanes + z) * L.down + row) * L.across + col;
            const spp = rgb ? 3 : 1;
            const x0 = Math.max(x, col * L.tileWidth), x1 = Math.min(x + w, (col + 1) * L.tileWidth);
            const y0 = Math.max(y, row * L.tileHeight), y1 = Math.min(y + h, (row + 1) * L.tileHeight);
            const fx = col * L.tileWidth, fy = row * L.tileHeight;
            // The part needed decoded alone where that is cheaper and the frame is not cached (as SVS tiles).
            const part = index === undefined
              ? null
              : await this.framePart(level, index, [x0 - fx, y0 - fy, x1 - fx, y1 - fy], rgb);
            const frame = part?.data ?? (index === undefined
              ? new Uint8Array(L.tileWidth * L.tileHeight * (rgb ? 3 : 1)).fill(rgb ? 255 : 0)
              : await this.frame(level, index));
            const [px, py, pw] = part ? [part.x, part.y, part.width] : [0, 0, L.tileWidth];
            for (let yy = y0; yy < y1; yy++) {
              const src = ((yy - fy - py) * pw + (x0 - fx - px)) * spp;
              const dst = ((yy - y) * w + (x0 - x)) * ch;
              if (rgb) out.set(frame.subarray(src, src + (x1 - x0) * 3), dst);
              else for (let i = 0; i < x1 - x0; i++) out[dst + i * ch + k] = frame[src + i];
            }
          })())
        );
      }
    }
    await Promise.all(jobs);
    return { width: w, height: h, channels: ch, type: "uint8", data: out, lease: "own" };
  }

  /**
   * A JPEG frame as it is stored (a whole JPEG stream: SOI to EOI), for a request of exactly that tile: RGB
   * frames, or one-sample frames of a single optical path; null otherwise or where no frame covers it.
   */
  async readStoredJpeg(level: number, tx: number, ty: number): Promise<Uint8Array | null> {
    const L = this.levels[level];
    const inst = L?.instances[0];
    if (!inst || inst.coding !== "jpeg" || this.info.multichannel || tx >= L.across || ty >= L.down) return null;
    const index = L.sparse ? L.sparse.get(`0:${tx}:${ty}`) : ty * L.across + tx;
    if (index === undefined) return null;
    const { inst: owner, at } = this.owner(level, index);
    const stored = await owner.readFrame(at);
    return stored.coding === "jpeg" ? stored.data : null;
  }

  get focalPlanes(): number {
    return this.levels[0].instances[0].focalPlanes;
  }

  /** Frame `index` of `level` (across its concatenation), decoded: one tile's samples, kept in the budget. */
  private frame(level: number, index: number): Promise<Uint8Array> {
    const L = this.levels[level];
    const { inst, at } = this.owner(level, index);
    const bytes = L.tileWidth * L.tileHeight * inst.samplesPerPixel;
    return this.runtime.caches.decodedBlocks.get(
      this.frameKey(level, index),
      () => decodeFrame(this.runtime.codec, inst, at).then((d) => d.buffer as ArrayBuffer),
      bytes,
    ).then((b) => new Uint8Array(b as ArrayBuffer));
  }

  private frameKey(level: number, index: number): string {
    return `${this.cacheKey}|dcm${level}|${index}`;
  }

  /** The instance holding frame `index` of `level` (across its concatenation), and the frame's number in it. */
  private owner(level: number, index: number): { inst: DicomInstance; at: number } {
    const L = this.levels[level];
    let at = index;
    for (const inst of L.instances) {
      if (at < inst.frames) return { inst, at };
      at -= inst.frames;
    }
    throw corruptSource(`DICOM frame ${index} of level ${level} is past its instances' frames`);
  }

  /**
   * Frame-local [x0, x1) × [y0, y1) of a JPEG frame decoded alone (libjpeg's cropped decoding), where the
   * frame is not cached and the part costs well under the whole (`partWorthDecoding`); else null.
   */
  private async framePart(
    level: number,
    index: number,
    [x0, y0, x1, y1]: [number, number, number, number],
    rgb: boolean,
  ): Promise<BlockPart | null> {
    const L = this.levels[level];
    const { inst, at } = this.owner(level, index);
    if (
      inst.coding !== "jpeg" || !this.runtime.codec.crops ||
      this.runtime.caches.decodedBlocks.has(this.frameKey(level, index))
    ) return null;
    if (!partWorthDecoding(L.tileWidth, L.tileHeight, x0, y0, x1, y1)) return null;
    const stored = await inst.readFrame(at);
    if (stored.coding !== "jpeg") return null;
    return await decodeBlockPart(
      this.runtime.codec,
      stored.data,
      rgb ? "rgb" : "gray",
      L.tileWidth,
      L.tileHeight,
      x0,
      y0,
      x1,
      y1,
    );
  }

  async readAssociated(name: string): Promise<Raster8> {
    const inst = this.associatedInstances.get(name);
    if (!inst) throw notFound(`no associated image "${name}"`);
    if (inst.frames !== 1 || inst.tileWidth !== inst.totalWidth) {
      throw unsupportedSource(`a tiled DICOM ${name} image is not supported yet`);
    }
    const data = await decodeFrame(this.runtime.codec, inst, 0);
    const channels = inst.samplesPerPixel === 3 ? 3 : 1;
    return { width: inst.tileWidth, height: inst.tileHeight, channels, type: "uint8", data };
  }

  close(): Promise<void> {
    return this.closeAll();
  }
}

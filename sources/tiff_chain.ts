/**
 * A TIFF's IFD chain walked and checked against the file's size before geotiff reads it: the header's byte
 * order and offset size, every IFD's entry count and value offsets inside the file, no loops, and bounded
 * numbers of IFDs and SubIFDs (a crafted chain is a 422, not a hang or a huge allocation).
 */
import type { ByteSource } from "./bytes.ts";
import { corruptSource } from "../errors.ts";
import { TIFF_TYPE_SIZES } from "./tiff_ifd.ts";

/** IFDs walked before giving up (OME-TIFFs can have thousands of pages; none has this many). */
const MAX_IFDS = 10_000;

/** The byte layout of a TIFF, from its header. */
interface TiffLayout {
  size: number;
  le: boolean;
  big: boolean;
}

async function tiffLayout(bytes: ByteSource): Promise<TiffLayout & { first: number }> {
  const head = await bytes.read(0, 16);
  const le = head[0] === 0x49;
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (head.length < 8) throw corruptSource("truncated TIFF header");
  const big = dv.getUint16(2, le) === 43;
  if (head.length < (big ? 16 : 8)) throw corruptSource("truncated TIFF header");
  return { size: bytes.size, le, big, first: big ? Number(dv.getBigUint64(8, le)) : dv.getUint32(4, le) };
}

/**
 * Checks the IFD at `offset` against the file: its entries and every entry's values lie inside the file
 * (a flipped count would have geotiff read billions). Returns the next IFD's offset and the SubIFD offsets.
 * `which` names it in errors.
 */
async function checkIfd(
  bytes: ByteSource,
  t: TiffLayout,
  offset: number,
  which: string,
): Promise<{ next: number }> {
  const { size, le, big } = t;
  const countBytes = big ? 8 : 2, entryBytes = big ? 20 : 12, nextBytes = big ? 8 : 4;
  if (offset + countBytes > size) throw corruptSource(`truncated TIFF: ${which} lies past the end of the file`);
  const cb = await bytes.read(offset, countBytes);
  const cv = new DataView(cb.buffer, cb.byteOffset, cb.byteLength);
  const count = big ? Number(cv.getBigUint64(0, le)) : cv.getUint16(0, le);
  const end = offset + countBytes + count * entryBytes;
  if (end + nextBytes > size) throw corruptSource(`truncated TIFF: ${which} is cut off`);
  const entries = await bytes.read(offset + countBytes, count * entryBytes + nextBytes);
  const ev = new DataView(entries.buffer, entries.byteOffset, entries.byteLength);
  for (let e = 0; e < count; e++) {
    const at = e * entryBytes;
    const type = ev.getUint16(at + 2, le);
    const n = big ? Number(ev.getBigUint64(at + 4, le)) : ev.getUint32(at + 4, le);
    if (n * (TIFF_TYPE_SIZES[type] ?? 1) > size) {
      throw corruptSource(`corrupt TIFF: tag ${ev.getUint16(at, le)} of ${which} claims ${n} values`);
    }
  }
  const nextAt = count * entryBytes;
  return { next: big ? Number(ev.getBigUint64(nextAt, le)) : ev.getUint32(nextAt, le) };
}

/** Most SubIFDs (pyramid levels) one IFD may list. */
const MAX_SUBIFDS = 64;

/**
 * Walks the IFD chain from the header: the file size and the number of IFDs. 422 when the file ends inside
 * its header or an IFD (a truncated download: geotiff would read zeros and report nonsense tags). A chain
 * that loops back on itself ends at the loop: geotiff's own walk would spin forever there (found by
 * tests/fuzz_test.ts on a bit-flipped file).
 */
export async function walkIfdChain(bytes: ByteSource): Promise<{ size: number; count: number }> {
  const t = await tiffLayout(bytes);
  let offset = t.first;
  const seen = new Set<number>();
  while (offset !== 0 && !seen.has(offset) && seen.size < MAX_IFDS) {
    seen.add(offset);
    ({ next: offset } = await checkIfd(bytes, t, offset, `IFD ${seen.size - 1}`));
  }
  if (seen.size === 0) throw corruptSource("TIFF without an image directory");
  return { size: t.size, count: seen.size };
}

/**
 * Checks SubIFDs (their offsets from the parent's SubIFDs tag) against the file like the chain's own IFDs.
 * Pyramids written by bioformats2raw/raw2ometiff and tifffile keep their reduced levels there.
 */
export async function checkSubIfds(bytes: ByteSource, offsets: number[], parent: string): Promise<void> {
  if (offsets.length > MAX_SUBIFDS) throw corruptSource(`corrupt TIFF: ${parent} lists ${offsets.length} SubIFDs`);
  const t = await tiffLayout(bytes);
  for (const [k, sub] of offsets.entries()) await checkIfd(bytes, t, sub, `SubIFD ${k} of ${parent}`);
}

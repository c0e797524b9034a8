/**
 * The image directories of a Hamamatsu NDPI file, with its 64-bit offsets. NDPI is classic TIFF whose
 * files pass 4 GiB: the first IFD's offset is 8 bytes (at 4), each IFD's next-IFD offset is 8 bytes, and after
 * it come 4 bytes per entry holding the high half of that entry's value or value offset; McuStarts' high
 * halves are tag 65432. No TIFF package reads these (geotiff reads the low halves alone), so the few tags the
 * NDPI reader needs are read here, every offset and length checked against the file.
 */
import type { ByteSource } from "./bytes.ts";
import { corruptSource } from "../errors.ts";
import { TIFF_TYPE_SIZES } from "./tiff_ifd.ts";

/** NDPI's format flag: present in every NDPI IFD. */
export const NDPI_FORMAT_FLAG = 65420;

/** Tags the NDPI reader uses (size, compression, samples, strip, resolution, lens, focal plane, MCU starts). */
const NEEDED = new Set([256, 257, 258, 259, 273, 277, 279, 282, 283, 296, 65420, 65421, 65424, 65426, 65432]);

/** The numeric TIFF field types read here (ASCII, IFD and others are skipped). */
const NUMERIC_TYPES = new Set([1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 16]);

/** Most IFDs, entries in one IFD, and values of one tag (McuStarts of a 200k-row level: 25k). */
const MAX_IFDS = 256, MAX_ENTRIES = 4096, MAX_VALUES = 1 << 22;

/** One NDPI IFD: the needed tags' values by tag number. */
export interface NdpiIfd {
  index: number;
  tags: Map<number, number[]>;
}

/** A tag's first value, or `dflt`. */
export const first = (ifd: NdpiIfd, t: number, dflt = 0): number => ifd.tags.get(t)?.[0] ?? dflt;

/**
 * The IFDs of `bytes` read as NDPI, or null when it is not NDPI (not little-endian classic TIFF, or its
 * first IFD, at the 64-bit offset, lacks the format flag); 422 for an NDPI file whose IFDs are damaged.
 */
export async function readNdpiIfds(bytes: ByteSource): Promise<NdpiIfd[] | null> {
  if (bytes.size < 16) return null;
  const head = await bytes.read(0, 16);
  if (head[0] !== 0x49 || head[1] !== 0x49 || head[2] !== 42 || head[3] !== 0) return null;
  const hv = new DataView(head.buffer, head.byteOffset, 16);
  let offset = hv.getUint32(4, true) + hv.getUint32(8, true) * 2 ** 32;
  const ifds: NdpiIfd[] = [];
  const seen = new Set<number>();
  // Not NDPI unless the first IFD, at the 64-bit offset, parses and holds the format flag (bytes 8–11 of any
  // other TIFF are whatever follows its header).
  const firstIfd = await readIfd(bytes, offset, 0, true).catch(() => null);
  if (!firstIfd?.ifd.tags.has(NDPI_FORMAT_FLAG)) return null;
  while (offset !== 0) {
    if (seen.has(offset)) throw corruptSource(`corrupt NDPI: IFD ${ifds.length} loops back to an earlier one`);
    if (ifds.length >= MAX_IFDS) throw corruptSource(`corrupt NDPI: more than ${MAX_IFDS} IFDs`);
    seen.add(offset);
    const { ifd, next } = ifds.length ? await readIfd(bytes, offset, ifds.length) : firstIfd;
    ifds.push(ifd);
    offset = next;
  }
  return ifds;
}

/** The IFD at `offset` (its needed tags) and the next one's offset; 422 when it passes the end of the file. */
async function readIfd(
  bytes: ByteSource,
  offset: number,
  index: number,
  flagFirst = false,
): Promise<{ ifd: NdpiIfd; next: number }> {
  const where = `NDPI IFD ${index}`;
  const n = offset + 2 <= bytes.size ? new DataView((await bytes.read(offset, 2)).buffer).getUint16(0, true) : 0;
  const length = 2 + 12 * n + 8 + 4 * n;
  if (n === 0 || n > MAX_ENTRIES || offset + length > bytes.size) {
    throw corruptSource(`truncated NDPI: ${where} at byte ${offset} passes the end of the file`);
  }
  const block = await bytes.read(offset, length);
  const dv = new DataView(block.buffer, block.byteOffset, length);
  const tags = new Map<number, number[]>();
  // Detecting: no value is read (offsets in whatever the bytes are) before the format flag is seen.
  if (flagFirst && !Array.from({ length: n }, (_, k) => dv.getUint16(2 + 12 * k, true)).includes(NDPI_FORMAT_FLAG)) {
    throw corruptSource("not NDPI");
  }
  for (let k = 0; k < n; k++) {
    const at = 2 + 12 * k, tag = dv.getUint16(at, true), type = dv.getUint16(at + 2, true);
    const count = dv.getUint32(at + 4, true);
    if (!NEEDED.has(tag) || !NUMERIC_TYPES.has(type)) continue;
    if (count > MAX_VALUES) throw corruptSource(`corrupt NDPI: tag ${tag} of ${where} has ${count} values`);
    const high = dv.getUint32(2 + 12 * n + 8 + 4 * k, true);
    const size = TIFF_TYPE_SIZES[type] * count;
    let values: DataView;
    if (size <= 4) {
      // The value itself; an extension makes a LONG a 64-bit value.
      if (high && type === 4 && count === 1) {
        tags.set(tag, [dv.getUint32(at + 8, true) + high * 2 ** 32]);
        continue;
      }
      values = new DataView(block.buffer, block.byteOffset + at + 8, 4);
    } else {
      const pos = dv.getUint32(at + 8, true) + high * 2 ** 32;
      if (pos + size > bytes.size) {
        throw corruptSource(`truncated NDPI: tag ${tag} of ${where} lies past the end of the file`);
      }
      const raw = await bytes.read(pos, size);
      values = new DataView(raw.buffer, raw.byteOffset, size);
    }
    tags.set(tag, Array.from({ length: count }, (_, i) => valueAt(values, type, i)));
  }
  const next = dv.getUint32(2 + 12 * n, true) + dv.getUint32(2 + 12 * n + 4, true) * 2 ** 32;
  return { ifd: { index, tags }, next };
}

function valueAt(v: DataView, type: number, i: number): number {
  switch (type) {
    case 1:
    case 7:
      return v.getUint8(i);
    case 6:
      return v.getInt8(i);
    case 3:
      return v.getUint16(i * 2, true);
    case 8:
      return v.getInt16(i * 2, true);
    case 4:
      return v.getUint32(i * 4, true);
    case 9:
      return v.getInt32(i * 4, true);
    case 11:
      return v.getFloat32(i * 4, true);
    case 12:
      return v.getFloat64(i * 8, true);
    case 5:
      return v.getUint32(i * 8, true) / (v.getUint32(i * 8 + 4, true) || NaN);
    case 10:
      return v.getInt32(i * 8, true) / (v.getInt32(i * 8 + 4, true) || NaN);
    default: // 16, LONG8
      return v.getUint32(i * 8, true) + v.getUint32(i * 8 + 4, true) * 2 ** 32;
  }
}

/** µm per pixel from XResolution/YResolution (ResolutionUnit centimetre or inch), when microscopy-scale. */
export function ndpiMpp(ifd: NdpiIfd): { x: number; y: number } | undefined {
  const unit = first(ifd, 296, 2), xr = first(ifd, 282), yr = first(ifd, 283);
  const scale = unit === 3 ? 10000 : unit === 2 ? 25400 : 0;
  return scale && xr > 0 && yr > 0 && scale / xr < 50 ? { x: scale / xr, y: scale / yr } : undefined;
}

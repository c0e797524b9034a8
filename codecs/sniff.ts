/** File-format detection and flat-image headers, from the first bytes only (no decoding). */

/** Container formats the service reads. */
export type ContainerFormat = "tiff" | "png" | "jpeg" | "webp";

/** The format named by a file's magic bytes, or null. */
export function sniffFormat(head: Uint8Array): ContainerFormat | null {
  if (head.length >= 4) {
    if (head[0] === 0x49 && head[1] === 0x49 && (head[2] === 42 || head[2] === 43) && head[3] === 0) return "tiff";
    if (head[0] === 0x4d && head[1] === 0x4d && head[2] === 0 && (head[3] === 42 || head[3] === 43)) return "tiff";
    if (head[0] === 0x89 && head[1] === 0x50 && head[2] === 0x4e && head[3] === 0x47) return "png";
    if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return "jpeg";
  }
  if (head.length >= 12 && ascii(head, 0, 4) === "RIFF" && ascii(head, 8, 4) === "WEBP") return "webp";
  return null;
}

/** Size and sample layout of a flat image, read from its header. */
export interface FlatHeader {
  width: number;
  height: number;
  channels: number;
  bitsPerSample: 8 | 16;
}

/** Reads a PNG, JPEG or WebP header; null when the header is incomplete or malformed. */
export function readFlatHeader(format: ContainerFormat, b: Uint8Array): FlatHeader | null {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (format === "png") {
    if (b.length < 33 || ascii(b, 12, 4) !== "IHDR") return null;
    const width = dv.getUint32(16), height = dv.getUint32(20);
    const depth = b[24], colorType = b[25];
    const channels = ({ 0: 1, 2: 3, 3: 3, 4: 2, 6: 4 } as Record<number, number>)[colorType];
    if (!channels || !width || !height) return null;
    // Palette images with transparency (tRNS) decode to RGBA.
    const hasTrns = colorType === 3 && findAscii(b, "tRNS");
    return { width, height, channels: hasTrns ? 4 : channels, bitsPerSample: depth === 16 ? 16 : 8 };
  }
  if (format === "jpeg") {
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) return null;
      const m = b[i + 1];
      if (m === 0xff) {
        i++;
        continue;
      }
      const len = dv.getUint16(i + 2);
      const isSof = m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
      if (isSof) {
        const height = dv.getUint16(i + 5), width = dv.getUint16(i + 7), n = b[i + 9];
        if (!width || !height) return null;
        return { width, height, channels: n === 1 ? 1 : 3, bitsPerSample: 8 };
      }
      i += 2 + len;
    }
    return null;
  }
  if (format === "webp") {
    if (b.length < 30) return null;
    const chunk = ascii(b, 12, 4);
    if (chunk === "VP8X") {
      const alpha = (b[20] & 0x10) !== 0;
      const width = 1 + (b[24] | (b[25] << 8) | (b[26] << 16));
      const height = 1 + (b[27] | (b[28] << 8) | (b[29] << 16));
      return { width, height, channels: alpha ? 4 : 3, bitsPerSample: 8 };
    }
    if (chunk === "VP8L") {
      const bits = dv.getUint32(21, true);
      return {
        width: (bits & 0x3fff) + 1,
        height: ((bits >> 14) & 0x3fff) + 1,
        channels: (bits >> 28) & 1 ? 4 : 3,
        bitsPerSample: 8,
      };
    }
    if (chunk === "VP8 ") {
      return {
        width: dv.getUint16(26, true) & 0x3fff,
        height: dv.getUint16(28, true) & 0x3fff,
        channels: 3,
        bitsPerSample: 8,
      };
    }
    return null;
  }
  return null;
}

function ascii(b: Uint8Array, at: number, n: number): string {
  return String.fromCharCode(...b.subarray(at, at + n));
}

function findAscii(b: Uint8Array, s: string): boolean {
  const c0 = s.charCodeAt(0);
  outer: for (let i = 0; i + s.length <= b.length; i++) {
    if (b[i] !== c0) continue;
    for (let k = 1; k < s.length; k++) if (b[i + k] !== s.charCodeAt(k)) continue outer;
    return true;
  }
  return false;
}

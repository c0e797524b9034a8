/**
 * TIFF block decompressors that never produce more than the block they decode: Deflate (zlib, natively
 * through `node:zlib` with `maxOutputLength`), LZW and PackBits (into a preallocated block). geotiff's own
 * decoders grow their output without bound (pako, and JS arrays of one number a byte), so a 1 MB stream
 * could inflate to gigabytes. A stream that decodes to more than its block is corrupt (422); predictors
 * are undone by geotiff's `BaseDecoder`, as before.
 */
import { inflateSync } from "node:zlib";
import { BaseDecoder } from "geotiff";
import { corruptSource } from "../errors.ts";

/** The geometry a bounded decoder needs: the block's size in bytes bounds its output. */
export interface BoundedParams {
  compression: number;
  tileWidth: number;
  tileHeight: number;
  bitsPerSample: number[];
  planarConfiguration: number;
  predictor: number;
}

/** Compressions decoded here rather than by geotiff. */
export const BOUNDED_COMPRESSIONS = new Set([5, 8, 32946, 32773]);

/** Bytes of one decoded block of `p`. */
export function blockByteLength(p: BoundedParams): number {
  return p.tileWidth * p.tileHeight * p.bitsPerSample.reduce((a, b) => a + b, 0) / 8;
}

const tooMuch = (name: string, limit: number) =>
  corruptSource(`${name} block decodes to more than the ${limit} bytes of its tile or strip`);

/** A geotiff decoder (predictors included) for Deflate, LZW or PackBits, bounded by the block's size. */
export class BoundedBlockDecoder extends BaseDecoder {
  readonly #limit: number;
  readonly #compression: number;

  constructor(p: BoundedParams) {
    super(p as never);
    this.#limit = blockByteLength(p);
    this.#compression = p.compression;
  }

  override decodeBlock(buffer: ArrayBuffer): ArrayBuffer {
    const input = new Uint8Array(buffer);
    const c = this.#compression;
    if (c === 8 || c === 32946) return inflateBounded(input, this.#limit);
    if (c === 5) return lzwDecode(input, this.#limit);
    return packBitsDecode(input, this.#limit);
  }
}

/** zlib-wrapped Deflate, at most `limit` bytes out. */
export function inflateBounded(input: Uint8Array, limit: number): ArrayBuffer {
  let out: Uint8Array;
  try {
    out = inflateSync(input, { maxOutputLength: Math.max(1, limit) });
  } catch (err) {
    if (err instanceof RangeError || /larger than|maxOutputLength/i.test(String(err))) throw tooMuch("Deflate", limit);
    throw corruptSource(`Deflate block does not decode: ${(err as Error).message}`);
  }
  // Outputs under zlib's 16 KiB chunk come in a larger buffer: copy those out (`Buffer.slice` is a view,
  // so it kept the whole chunk, charged to the block cache as the smaller block).
  return out.buffer.byteLength === out.length && out.byteOffset === 0
    ? out.buffer as ArrayBuffer
    : out.buffer.slice(out.byteOffset, out.byteOffset + out.length) as ArrayBuffer;
}

/** PackBits runs, at most `limit` bytes out. */
export function packBitsDecode(input: Uint8Array, limit: number): ArrayBuffer {
  const out = new Uint8Array(limit);
  let o = 0;
  for (let i = 0; i < input.length;) {
    const n = (input[i++] << 24) >> 24;
    if (n >= 0) {
      const len = n + 1;
      if (o + len > limit) throw tooMuch("PackBits", limit);
      out.set(input.subarray(i, i + len), o);
      o += Math.min(len, input.length - i);
      i += len;
    } else if (n !== -128) {
      const len = 1 - n;
      if (o + len > limit) throw tooMuch("PackBits", limit);
      if (i < input.length) out.fill(input[i], o, o + len);
      o += len;
      i++;
    }
  }
  return o === limit ? out.buffer : out.buffer.slice(0, o);
}

const CLEAR = 256, EOI = 257, FIRST = 258, MAX_CODES = 4093;

/**
 * TIFF LZW (MSB-first codes, early change), at most `limit` bytes out. The same codes and dictionary rules
 * as geotiff's decoder (width grows when the dictionary reaches 2^width - 1; at 12 bits nothing more is
 * added until a clear code), with each entry kept as a span of the output instead of a list of bytes; a code
 * past the next free one is corrupt, as in libtiff.
 */
export function lzwDecode(input: Uint8Array, limit: number): ArrayBuffer {
  const out = new Uint8Array(limit);
  const start = new Int32Array(MAX_CODES), length = new Int32Array(MAX_CODES);
  let o = 0, width = 9, size = FIRST, prev = -1, bitPos = 0;
  const totalBits = input.length * 8;
  const next = (): number => {
    // Codes past the end of the data read as zeros, as geotiff's reader does; the stream then ends.
    if (bitPos >= totalBits) return EOI;
    // A code (9–12 bits) lies within the 3 bytes from its first: read them at once (zeros past the end).
    const at = bitPos >> 3;
    const word = (input[at] << 16) | ((input[at + 1] ?? 0) << 8) | (input[at + 2] ?? 0);
    const v = (word >> (24 - (bitPos & 7) - width)) & ((1 << width) - 1);
    bitPos += width;
    return v;
  };
  const emit = (from: number, len: number) => {
    if (o + len > limit) throw tooMuch("LZW", limit);
    out.copyWithin(o, from, from + len);
    o += len;
  };
  const literal = (c: number) => {
    if (o + 1 > limit) throw tooMuch("LZW", limit);
    out[o++] = c;
  };
  const add = (from: number, len: number) => {
    if (size < MAX_CODES) {
      start[size] = from;
      length[size] = len;
      size++;
    }
  };
  let code = next();
  while (code !== EOI) {
    if (code === CLEAR) {
      width = 9;
      size = FIRST;
      do code = next(); while (code === CLEAR);
      if (code === EOI) break;
      if (code > CLEAR) throw corruptSource(`LZW block: code ${code} right after a clear code`);
      literal(code);
      prev = code;
    } else if (code < size) {
      const at = o;
      if (code < 256) literal(code);
      else emit(start[code], length[code]);
      // The previous string plus the first byte of this one (which now sits at `at`).
      if (prev >= 0) {
        const plen = prev < 256 ? 1 : length[prev];
        add(at - plen, plen + 1);
      }
      prev = code;
    } else {
      // Only the next free code can be new (libtiff's rule; geotiff loops forever on a code past a full table).
      if (prev < 0 || code > size || size >= MAX_CODES) {
        throw corruptSource(`LZW block: code ${code} is not in its table (${size} entries)`);
      }
      // KwKwK: the previous string plus its own first byte.
      const from = o - (prev < 256 ? 1 : length[prev]);
      const len = prev < 256 ? 1 : length[prev];
      emit(from, len);
      literal(out[from]);
      add(from, len + 1);
      prev = code;
    }
    if (size + 1 >= 2 ** width) {
      if (width === 12) prev = -1;
      else width++;
    }
    code = next();
  }
  // A whole block (the usual case) is returned as it is; a short one (a last strip) is copied out.
  return o === limit ? out.buffer : out.buffer.slice(0, o);
}

/**
 * libjpeg-turbo's TurboJPEG 3 API through Deno FFI: the native JPEG codec tier. The library is the
 * `libturbojpeg.so.0` that the npm package `@julusian/jpeg-turbo` ships in its Linux prebuild folders
 * (libjpeg-turbo 3.1 with SIMD); nothing is compiled at install time. One `TurboJpeg` per thread: its
 * three handles (decompress, compress, transform) are made once and reused; every call is synchronous, so
 * calls on one instance never interleave.
 *
 * Beyond the WASM codecs: SIMD, luma-only decoding of YCbCr JPEGs (abi.TJPF_GRAY: no chroma IDCT, upsampling
 * or colour conversion), DCT-scaled decoding (1/2, 1/4, 1/8), the lossless DCT-domain gray transcode.
 *
 * Least privilege: `deno task start` grants FFI for the library's folder only, and under such a grant Deno
 * allows calling the library's symbols but none of its raw-pointer helpers (`UnsafePointer.of`,
 * `UnsafePointerView`). So no pointer object is ever made here: native addresses travel as plain `u64`
 * numbers, JPEG output goes to a native buffer from `tj3Alloc`, and native bytes come back into JS through
 * the C library's `memcpy` (resolved through the library's dependencies, a symbol like any other), or
 * where that is absent through `tj3DecodeYUV8` on a one-component plane decoded to gray — libjpeg's
 * gray-to-gray conversion, an exact copy (tests/codecs_test.ts checks both give the same bytes).
 */

import { readFlatHeader } from "./sniff.ts";
import { type DecodedJpeg, type DecodeOptions, type JpegHeader, TurboJpegError } from "./jpeg_types.ts";
import * as abi from "./turbojpeg_abi.ts";

export { JPEG_COLORSPACE, turbojpegLibraryPath } from "./turbojpeg_abi.ts";

type Symbols = Deno.DynamicLibrary<typeof abi.SYMBOLS>["symbols"];

/** One thread's TurboJPEG: a decompressor, a compressor and a transformer. */
export class TurboJpeg {
  #lib: Deno.DynamicLibrary<typeof abi.SYMBOLS>;
  #tj: Symbols;
  #dec: Deno.PointerValue;
  #enc: Deno.PointerValue;
  #xf: Deno.PointerValue;
  /** A decompressor used only by `#copyOut` (never left in an error state by a failed decode). */
  #copy: Deno.PointerValue;
  /** Native output buffer (from tj3Alloc), grown as needed: encoder and transformer write into it. */
  #out = 0n;
  #outCapacity = 0;
  #outPtr = new BigUint64Array(1);
  #outSize = new BigUint64Array(1);
  #scale = new Int32Array(2);
  #scaleBytes = new Uint8Array(this.#scale.buffer);
  #currentScale = 1;
  #crop = new Int32Array(4);
  #cropBytes = new Uint8Array(this.#crop.buffer);
  #cropped = false;
  /** The gray transcode's `tjtransform` (region, op, options, two pointers: 40 bytes), the same every call. */
  #grayXform = new Uint8Array(
    new Int32Array([0, 0, 0, 0, 0, abi.TJXOPT_GRAY | abi.TJXOPT_COPYNONE, 0, 0, 0, 0]).buffer,
  );
  #inMessage = false;

  /** The C library's `memcpy` where the library's dependencies export it; else output is copied by a decode. */
  #memcpy: Symbols["memcpy"];

  /** How native output is copied into JS: `memcpy`, or `yuv` (a one-component plane decoded to gray). */
  get copiesWith(): "memcpy" | "yuv" {
    return this.#memcpy ? "memcpy" : "yuv";
  }

  private constructor(lib: Deno.DynamicLibrary<typeof abi.SYMBOLS>) {
    this.#lib = lib;
    this.#tj = lib.symbols;
    this.#memcpy = lib.symbols.memcpy;
    this.#dec = this.#init(abi.TJINIT_DECOMPRESS);
    this.#enc = this.#init(abi.TJINIT_COMPRESS);
    this.#xf = this.#init(abi.TJINIT_TRANSFORM);
    this.#copy = this.#init(abi.TJINIT_DECOMPRESS);
    this.#check(this.#enc, this.#tj.tj3Set(this.#enc, abi.TJPARAM_NOREALLOC, 1));
    this.#check(this.#xf, this.#tj.tj3Set(this.#xf, abi.TJPARAM_NOREALLOC, 1));
    // Baseline, standard Huffman tables: what iipsrv and libvips write, and 3× faster than progressive.
    this.#check(this.#enc, this.#tj.tj3Set(this.#enc, abi.TJPARAM_OPTIMIZE, 0));
    this.#check(this.#enc, this.#tj.tj3Set(this.#enc, abi.TJPARAM_PROGRESSIVE, 0));
    // A progressive JPEG with thousands of scans is a known decoder bomb: refuse past 100 scans.
    this.#check(this.#dec, this.#tj.tj3Set(this.#dec, abi.TJPARAM_SCANLIMIT, 100));
    this.#check(this.#xf, this.#tj.tj3Set(this.#xf, abi.TJPARAM_SCANLIMIT, 100));
  }

  /** Loads the library at `path` (FFI permission for it); throws when it cannot. `memcpy: false`: see `copiesWith`. */
  static open(path: string, opts: { memcpy?: boolean } = {}): TurboJpeg {
    const tj = new TurboJpeg(Deno.dlopen(path, abi.SYMBOLS));
    if (opts.memcpy === false) tj.#memcpy = null;
    return tj;
  }

  /** Width, height, colour space and precision from a JPEG's header. */
  header(jpeg: Uint8Array, h: Deno.PointerValue = this.#dec): JpegHeader {
    const tj = this.#tj;
    // A tables-only stream (or a bare SOI) "succeeds" and leaves the previous image's size in the handle:
    // find the frame header first (the same marker walk that sizes flat JPEGs).
    const soi = jpeg.length > 2 && jpeg[0] === 0xff && jpeg[1] === 0xd8;
    if (!soi || !readFlatHeader("jpeg", jpeg)) throw new TurboJpegError("no image in the JPEG data (no frame header)");
    this.#check(h, tj.tj3DecompressHeader(h, jpeg, BigInt(jpeg.length)));
    const width = tj.tj3Get(h, abi.TJPARAM_JPEGWIDTH), height = tj.tj3Get(h, abi.TJPARAM_JPEGHEIGHT);
    return {
      width,
      height,
      colorspace: tj.tj3Get(h, abi.TJPARAM_COLORSPACE),
      precision: tj.tj3Get(h, abi.TJPARAM_PRECISION),
      lossless: tj.tj3Get(h, abi.TJPARAM_LOSSLESS) === 1,
    };
  }

  /** Decodes a JPEG to gray or RGB, optionally scaled down in the DCT domain. */
  decode(jpeg: Uint8Array, opts: DecodeOptions): DecodedJpeg {
    const tj = this.#tj, h = this.#dec;
    const head = this.header(jpeg);
    if (head.precision !== 8 || head.lossless) {
      throw new TurboJpegError(`unsupported JPEG: ${head.lossless ? "lossless" : `${head.precision}-bit`}`, true);
    }
    if (opts.maxPixels !== undefined && head.width * head.height > opts.maxPixels) {
      throw new TurboJpegError(`JPEG of ${head.width}×${head.height} exceeds ${opts.maxPixels} pixels`);
    }
    const scale = opts.scale ?? 1;
    if (scale !== this.#currentScale) {
      this.#scale[0] = 1;
      this.#scale[1] = scale;
      this.#check(h, tj.tj3SetScalingFactor(h, this.#scaleBytes));
      this.#currentScale = scale;
    }
    const channels = opts.format === "gray" ? 1 : 3;
    const pf = channels === 1 ? abi.TJPF_GRAY : abi.TJPF_RGB;
    if (opts.region) return this.#decodeRegion(jpeg, head, opts.region, channels, pf, !!opts.keepMargin);
    if (this.#cropped) this.#setCrop(0, 0, 0, 0);
    const width = Math.ceil(head.width / scale), height = Math.ceil(head.height / scale);
    const n = width * height * channels, data = opts.alloc?.(n) ?? new Uint8Array(n);
    if (data.length !== n) throw new TurboJpegError(`decode: an output of ${data.length} bytes for ${n}`);
    const rc = tj.tj3Decompress8(h, jpeg, BigInt(jpeg.length), data, width * channels, pf);
    this.#check(h, rc, true);
    return { width, height, channels, data };
  }

  /**
   * A rectangle decoded alone, its crop widened by one chroma sample on every side (inside the image): at a
   * crop's edges the chroma upsampling sees no neighbours, so without it the outermost pixels can differ
   * from a whole decode's; with it, the rectangle is exactly the whole decode's (tests/jpeg_parts_test.ts).
   */
  #decodeRegion(
    jpeg: Uint8Array,
    head: JpegHeader,
    r: { x: number; y: number; w: number; h: number },
    channels: 1 | 3,
    pf: number,
    keepMargin: boolean,
  ): DecodedJpeg {
    const tj = this.#tj, h = this.#dec;
    if (this.#currentScale !== 1) throw new TurboJpegError("a region decode is unscaled");
    if (!(r.w > 0 && r.h > 0 && r.x >= 0 && r.y >= 0 && r.x + r.w <= head.width && r.y + r.h <= head.height)) {
      throw new TurboJpegError(`region ${r.x},${r.y},${r.w}×${r.h} outside ${head.width}×${head.height}`);
    }
    const sub = tj.tj3Get(h, abi.TJPARAM_SUBSAMP);
    if (!(sub >= 0 && sub < abi.MCU_WIDTH.length)) {
      throw new TurboJpegError("a region decode needs a known subsampling");
    }
    const mw = abi.MCU_WIDTH[sub], mh = abi.MCU_HEIGHT[sub];
    // One chroma sample (an iMCU is 8) a side; libjpeg moves the crop's left edge down to an iMCU.
    const mx = mw / 8, my = mh / 8;
    const x0 = Math.max(0, Math.floor((r.x - mx) / mw) * mw), x1 = Math.min(head.width, r.x + r.w + mx);
    const y0 = Math.max(0, r.y - my), y1 = Math.min(head.height, r.y + r.h + my);
    const cw = x1 - x0, chh = y1 - y0;
    this.#setCrop(x0, y0, cw, chh);
    const wide = new Uint8Array(cw * chh * channels);
    this.#check(h, tj.tj3Decompress8(h, jpeg, BigInt(jpeg.length), wide, cw * channels, pf), true);
    if (keepMargin) return { width: cw, height: chh, channels, data: wide, x: x0, y: y0 };
    const data = new Uint8Array(r.w * r.h * channels), row = r.w * channels;
    for (let y = 0; y < r.h; y++) {
      const from = ((r.y - y0 + y) * cw + (r.x - x0)) * channels;
      data.set(wide.subarray(from, from + row), y * row);
    }
    return { width: r.w, height: r.h, channels, data };
  }

  /** Sets (or with all zeros, clears) the decompressor's cropping region; after the header is read. */
  #setCrop(x: number, y: number, w: number, h: number): void {
    this.#crop[0] = x;
    this.#crop[1] = y;
    this.#crop[2] = w;
    this.#crop[3] = h;
    this.#check(this.#dec, this.#tj.tj3SetCroppingRegion(this.#dec, this.#cropBytes));
    this.#cropped = w !== 0;
  }

  /**
   * A baseline JPEG of 8-bit samples: 1 channel → one gray component, 3 → YCbCr 4:2:0. `quality` 1..100.
   * The bytes are a fresh copy (the encoder's buffer is reused).
   */
  encode(data: Uint8Array, width: number, height: number, channels: 1 | 3, quality: number): Uint8Array {
    const tj = this.#tj, h = this.#enc;
    if (data.length < width * height * channels) throw new TurboJpegError("encode: too few samples");
    const subsamp = channels === 1 ? abi.TJSAMP_GRAY : abi.TJSAMP_420;
    const need = Number(tj.tj3JPEGBufSize(width, height, subsamp));
    if (!(need > 0)) throw new TurboJpegError(`encode: bad size ${width}×${height}`);
    this.#reserve(need);
    this.#check(h, tj.tj3Set(h, abi.TJPARAM_QUALITY, quality));
    this.#check(h, tj.tj3Set(h, abi.TJPARAM_SUBSAMP, subsamp));
    const pf = channels === 1 ? abi.TJPF_GRAY : abi.TJPF_RGB;
    this.#check(h, tj.tj3Compress8(h, data, width, width * channels, height, pf, this.#outPtr, this.#outSize));
    return this.#copyOut(this.#out, Number(this.#outSize[0]));
  }

  /**
   * The lossless DCT-domain grayscale transcode of a YCbCr (or gray) JPEG: the luma component's quantized
   * coefficients and tables, chroma dropped, no decode or encode. It decodes to exactly the luma plane
   * that `decode(jpeg, { format: "gray" })` gives.
   */
  grayTranscode(jpeg: Uint8Array): Uint8Array {
    const tj = this.#tj, h = this.#xf;
    const head = this.header(jpeg, h); // on the transformer: tj3TransformBufSize needs its header read
    if (head.colorspace !== abi.JPEG_COLORSPACE.ycbcr && head.colorspace !== abi.JPEG_COLORSPACE.gray) {
      throw new TurboJpegError("only YCbCr and gray JPEGs have a luma component to keep");
    }
    const xformBytes = this.#grayXform;
    this.#reserve(Number(tj.tj3TransformBufSize(h, xformBytes)));
    const rc = tj.tj3Transform(h, jpeg, BigInt(jpeg.length), 1, this.#outPtr, this.#outSize, xformBytes);
    this.#check(h, rc, true);
    if (this.#outSize[0] === 0n) throw new TurboJpegError("transform produced no image");
    return this.#copyOut(this.#out, Number(this.#outSize[0]));
  }

  /** Frees the handles and unloads the library. */
  close(): void {
    for (const h of [this.#dec, this.#enc, this.#xf, this.#copy]) this.#tj.tj3Destroy(h);
    if (this.#out) this.#tj.tj3Free(this.#out);
    this.#lib.close();
  }

  /**
   * Makes the native output buffer at least `bytes` long and points the output arguments at it. The slack
   * covers `#copyOut`'s last row.
   */
  #reserve(bytes: number): void {
    if (!(bytes > 0)) throw new TurboJpegError("no output size");
    const need = bytes + abi.COPY_ROW;
    if (this.#outCapacity < need) {
      if (this.#out) this.#tj.tj3Free(this.#out);
      const cap = Math.max(need, this.#outCapacity * 2);
      this.#out = BigInt(this.#tj.tj3Alloc(BigInt(cap)));
      if (!this.#out) throw new TurboJpegError(`tj3Alloc(${cap}) failed`);
      this.#outCapacity = cap;
    }
    this.#outPtr[0] = this.#out;
    this.#outSize[0] = BigInt(this.#outCapacity - abi.COPY_ROW);
  }

  /**
   * `n` bytes at native address `at`, copied into a new array of exactly `n` bytes (a whole buffer, so a
   * worker can transfer it): by `memcpy` (0.7 µs for 20 KB), else decoded as a one-component "YUV" plane
   * to gray pixels, which libjpeg copies unchanged (10–25 µs a tile's JPEG). One row when `n` fits libjpeg's largest dimension (every tile); else rows of `abi.COPY_ROW`
   * bytes into a scratch array, then one more copy — and up to a row read past `n` (the output buffer
   * keeps that slack).
   */
  #copyOut(at: bigint, n: number): Uint8Array {
    if (this.#memcpy) {
      const out = new Uint8Array(n);
      this.#memcpy(out, at, BigInt(n));
      return out;
    }
    const h = this.#copy, tj = this.#tj;
    this.#check(h, tj.tj3Set(h, abi.TJPARAM_SUBSAMP, abi.TJSAMP_GRAY));
    if (n <= abi.JPEG_MAX_DIMENSION) {
      const out = new Uint8Array(n);
      this.#check(h, tj.tj3DecodeYUV8(h, at, 1, out, n, n, 1, abi.TJPF_GRAY));
      return out;
    }
    const rows = Math.ceil(n / abi.COPY_ROW);
    const scratch = new Uint8Array(abi.COPY_ROW * rows);
    this.#check(h, tj.tj3DecodeYUV8(h, at, 1, scratch, abi.COPY_ROW, abi.COPY_ROW, rows, abi.TJPF_GRAY));
    return scratch.slice(0, n);
  }

  #init(kind: number): Deno.PointerValue {
    const h = this.#tj.tj3Init(kind);
    if (!h) throw new TurboJpegError(`tj3Init(${kind}) failed: ${this.#message(null)}`);
    return h;
  }

  /** Throws on a failed call; a warning (corrupt but decodable data) passes when `warningsOk`. */
  #check(h: Deno.PointerValue, rc: number, warningsOk = false): void {
    if (rc === 0) return;
    if (warningsOk && this.#tj.tj3GetErrorCode(h) === abi.TJERR_WARNING) return;
    throw new TurboJpegError(this.#message(h));
  }

  /** TurboJPEG's message (a C string of at most 200 bytes, JMSG_LENGTH_MAX), copied out. */
  #message(h: Deno.PointerValue): string {
    const at = BigInt(this.#tj.tj3GetErrorStr(h));
    if (!at || !this.#copy || this.#inMessage) return "TurboJPEG error";
    this.#inMessage = true;
    try {
      const bytes = this.#copyOut(at, 200);
      const end = bytes.indexOf(0);
      return new TextDecoder().decode(bytes.subarray(0, end < 0 ? 200 : end)) || "TurboJPEG error";
    } catch {
      return "TurboJPEG error";
    } finally {
      this.#inMessage = false;
    }
  }
}

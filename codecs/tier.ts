/**
 * The JPEG codec tier of this process: `native` (libjpeg-turbo through FFI, codecs/turbojpeg.ts) wherever
 * native code is allowed and a prebuilt library exists, `wasm` (codecs/wasm_jpeg.ts) everywhere else.
 * `CODECS=auto|native|wasm` asks; the main thread decides once at start-up (`chooseCodec`, kept in its
 * runtime: cache/runtime.ts) and tells every worker the tier it chose, so all threads of a process use one. The tier is part of every cache key:
 * tiles of two tiers never share a cache entry.
 */
import { TurboJpeg } from "./turbojpeg.ts";
import { prebuildsDir, turbojpegLibraryPath } from "./turbojpeg_abi.ts";
import type { DecodedJpeg, DecodeOptions } from "./jpeg_types.ts";
import { wasmDecode, WasmEncoder } from "./wasm_jpeg.ts";

/** What a user can ask for. */
export type CodecChoice = "auto" | "native" | "wasm";
/** What runs. */
export type CodecTier = "native" | "wasm";

/** The tier in use and why (for /health, /metrics and the start-up log). */
export interface CodecStatus {
  tier: CodecTier;
  requested: CodecChoice;
  /** Why this tier: the library loaded, or why it did not. */
  reason: string;
  /** The native library's path, when native. */
  library?: string;
}

/** A JPEG codec: the same calls on either tier. */
export interface JpegCodec {
  readonly tier: CodecTier;
  /**
   * Decodes to RGB, or to `gray`: one channel, which for a YCbCr JPEG is its Y component as decoded (no
   * chroma work on the native tier). `scale` (2, 4, 8) is a DCT-domain downscale: native tier only
   * (`scales` says), else ignored. `maxPixels` refuses a larger JPEG before decoding (native tier).
   */
  decode(jpeg: Uint8Array, opts: DecodeOptions): Promise<DecodedJpeg>;
  /** True when `decode` honours `scale`. */
  readonly scales: boolean;
  /** True when `decode` honours `region` (native tier only: never ask the WASM tier for one). */
  readonly crops: boolean;
  /** A baseline JPEG of 1-channel (gray) or 3-channel (RGB, 4:2:0) samples. */
  encode(data: Uint8Array, width: number, height: number, channels: 1 | 3, quality: number): Promise<Uint8Array>;
  /** The lossless DCT-domain gray transcode of a YCbCr JPEG (native tier only). */
  grayTranscode?(jpeg: Uint8Array): Uint8Array;
}

class NativeCodec implements JpegCodec {
  readonly tier = "native";
  readonly scales = true;
  readonly crops = true;
  constructor(private tj: TurboJpeg) {}
  decode(jpeg: Uint8Array, opts: DecodeOptions): Promise<DecodedJpeg> {
    try {
      return Promise.resolve(this.tj.decode(jpeg, opts));
    } catch (err) {
      return Promise.reject(err);
    }
  }
  encode(data: Uint8Array, width: number, height: number, channels: 1 | 3, quality: number): Promise<Uint8Array> {
    try {
      return Promise.resolve(this.tj.encode(data, width, height, channels, quality));
    } catch (err) {
      return Promise.reject(err);
    }
  }
  grayTranscode(jpeg: Uint8Array): Uint8Array {
    return this.tj.grayTranscode(jpeg);
  }
}

/** The WASM tier: one thread's decoder calls and its encoder. */
class WasmCodec implements JpegCodec {
  readonly tier = "wasm";
  readonly scales = false;
  readonly crops = false;
  #encoder = new WasmEncoder();
  decode(jpeg: Uint8Array, opts: DecodeOptions): Promise<DecodedJpeg> {
    return wasmDecode(jpeg, opts.format);
  }
  encode(data: Uint8Array, width: number, height: number, channels: 1 | 3, quality: number): Promise<Uint8Array> {
    return this.#encoder.encode(data, width, height, channels, quality);
  }
}

/** Loads the native library, or says why it cannot be used here. */
function loadNative(): { codec: JpegCodec; library: string } | { reason: string } {
  if (typeof Deno.dlopen !== "function") return { reason: "this runtime has no FFI (an edge runtime)" };
  const lib = turbojpegLibraryPath();
  if (lib.path === null) return { reason: lib.reason };
  try {
    return { codec: new NativeCodec(TurboJpeg.open(lib.path)), library: lib.path };
  } catch (err) {
    if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
      return { reason: `FFI not allowed for ${lib.path} (grant --allow-ffi=${prebuildsDir().pathname})` };
    }
    return { reason: `libturbojpeg did not load: ${(err as Error).message}` };
  }
}

/**
 * A thread's codec for `requested`: `native` loads the library or throws, `wasm` never tries, `auto` uses the
 * native library when it loads. Each call makes its own (a thread keeps one in its runtime).
 */
export function chooseCodec(requested: CodecChoice): { codec: JpegCodec; status: CodecStatus } {
  if (requested === "wasm") {
    return { codec: new WasmCodec(), status: { tier: "wasm", requested, reason: "EDGETILE_CODECS=wasm" } };
  }
  const native = loadNative();
  if ("codec" in native) {
    const status = { tier: "native" as const, requested, reason: "libjpeg-turbo loaded", library: native.library };
    return { codec: native.codec, status };
  }
  if (requested === "native") throw new Error(`EDGETILE_CODECS=native, but ${native.reason}`);
  return { codec: new WasmCodec(), status: { tier: "wasm", requested, reason: native.reason } };
}

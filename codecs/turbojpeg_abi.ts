/**
 * The TurboJPEG 3 ABI that codecs/turbojpeg.ts binds: values from libjpeg-turbo 3.1's turbojpeg.h (its
 * enums are append-only across 3.x) and the FFI signatures of the functions it calls.
 */

export const TJINIT_COMPRESS = 0, TJINIT_DECOMPRESS = 1, TJINIT_TRANSFORM = 2;

export const TJPARAM_NOREALLOC = 2, TJPARAM_QUALITY = 3, TJPARAM_SUBSAMP = 4, TJPARAM_JPEGWIDTH = 5;
export const TJPARAM_JPEGHEIGHT = 6, TJPARAM_PRECISION = 7, TJPARAM_COLORSPACE = 8, TJPARAM_OPTIMIZE = 11;
export const TJPARAM_PROGRESSIVE = 12, TJPARAM_SCANLIMIT = 13, TJPARAM_LOSSLESS = 15;
export const TJPF_RGB = 0, TJPF_GRAY = 6;
export const TJSAMP_420 = 2, TJSAMP_GRAY = 3;
export const TJERR_WARNING = 0;
export const TJXOPT_GRAY = 1 << 3, TJXOPT_COPYNONE = 1 << 6;

/** Row width of `#copyOut`'s gray plane past one row (and the slack kept past native output). */
export const COPY_ROW = 4096;
/** libjpeg's largest image dimension (JPEG_MAX_DIMENSION). */
export const JPEG_MAX_DIMENSION = 65500;

/** JPEG colour spaces (TJCS). */
export const JPEG_COLORSPACE = { rgb: 0, ycbcr: 1, gray: 2, cmyk: 3, ycck: 4 } as const;

/** The FFI signatures of the functions called. */
export const SYMBOLS = {
  tj3Init: { parameters: ["i32"], result: "pointer" },
  tj3Destroy: { parameters: ["pointer"], result: "void" },
  tj3GetErrorStr: { parameters: ["pointer"], result: "u64" },
  tj3GetErrorCode: { parameters: ["pointer"], result: "i32" },
  tj3Set: { parameters: ["pointer", "i32", "i32"], result: "i32" },
  tj3Get: { parameters: ["pointer", "i32"], result: "i32" },
  tj3Alloc: { parameters: ["usize"], result: "u64" },
  tj3Free: { parameters: ["u64"], result: "void" },
  tj3DecodeYUV8: { parameters: ["pointer", "u64", "i32", "buffer", "i32", "i32", "i32", "i32"], result: "i32" },
  tj3TransformBufSize: { parameters: ["pointer", "buffer"], result: "usize" },
  tj3JPEGBufSize: { parameters: ["i32", "i32", "i32"], result: "usize" },
  tj3DecompressHeader: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  tj3SetScalingFactor: { parameters: ["pointer", { struct: ["i32", "i32"] }], result: "i32" },
  tj3SetCroppingRegion: { parameters: ["pointer", { struct: ["i32", "i32", "i32", "i32"] }], result: "i32" },
  tj3Decompress8: { parameters: ["pointer", "buffer", "usize", "buffer", "i32", "i32"], result: "i32" },
  tj3Compress8: {
    parameters: ["pointer", "buffer", "i32", "i32", "i32", "i32", "buffer", "buffer"],
    result: "i32",
  },
  tj3Transform: {
    parameters: ["pointer", "buffer", "usize", "i32", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  // Not TurboJPEG's own: the C library's, found through the library's dependencies (glibc, libSystem; a
  // Windows DLL exports only its own symbols, so there it is absent). Under a path-scoped `--allow-ffi`
  // Deno refuses its pointer-reading helpers, and this copies native output into a JS buffer in one call.
  memcpy: { parameters: ["buffer", "u64", "usize"], result: "u64", optional: true },
} as const;

/** iMCU sizes by TJSAMP (444, 422, 420, gray, 440, 411, 441), as turbojpeg.h's tjMCUWidth/Height. */
export const MCU_WIDTH: readonly number[] = [8, 16, 16, 8, 8, 32, 8];
export const MCU_HEIGHT: readonly number[] = [8, 8, 16, 8, 16, 8, 32];

/** Folder names of the prebuilds shipped by @julusian/jpeg-turbo that hold `libturbojpeg.so.0`. */
function prebuildFolder(): string | null {
  if (Deno.build.os !== "linux") return null;
  const musl = Deno.build.target.includes("musl");
  if (Deno.build.arch === "x86_64") return musl ? "jpeg-turbo-linux-x64-musl" : "jpeg-turbo-linux-x64";
  if (Deno.build.arch === "aarch64" && !musl) return "jpeg-turbo-linux-arm64";
  return null;
}

/** The folder `deno task start` grants FFI to: the package's prebuilds, nothing wider. */
export function prebuildsDir(): URL {
  return new URL("../node_modules/@julusian/jpeg-turbo/prebuilds/", import.meta.url);
}

/** The path of the native library for this platform, or null with the reason. */
export function turbojpegLibraryPath(): { path: string } | { path: null; reason: string } {
  const folder = prebuildFolder();
  if (!folder) {
    return { path: null, reason: `no prebuilt libturbojpeg for ${Deno.build.os}-${Deno.build.arch}` };
  }
  return { path: new URL(`${folder}/libturbojpeg.so.0`, prebuildsDir()).pathname };
}

/** The pixel buffer that flows between pipeline steps. */
import type { Lease } from "./lease.ts";

/** Sample types a source can deliver. */
export type PixelType = "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32" | "float32" | "float64";

/** Typed arrays a raster may hold, one per pixel type. */
export type RasterData =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;

/** Interleaved pixels: `data[(y * width + x) * channels + c]`. */
export interface Raster<T extends RasterData = RasterData> {
  width: number;
  height: number;
  channels: number;
  type: PixelType;
  data: T;
  /** `own` when the buffer was made for this one read (core/lease.ts); absent: shared, read only. */
  lease?: Lease;
}

/** An 8-bit raster, the form every op and encoder works on. */
export type Raster8 = Raster<Uint8Array>;

/** A zero-filled raster of the given shape and type. */
export function createRaster(width: number, height: number, channels: number, type: PixelType): Raster {
  const n = width * height * channels;
  const data = new (arrayTypeFor(type))(n);
  return { width, height, channels, type, data };
}

/** The typed-array constructor for a pixel type. */
export function arrayTypeFor(type: PixelType) {
  switch (type) {
    case "uint8":
      return Uint8Array;
    case "int8":
      return Int8Array;
    case "uint16":
      return Uint16Array;
    case "int16":
      return Int16Array;
    case "uint32":
      return Uint32Array;
    case "int32":
      return Int32Array;
    case "float32":
      return Float32Array;
    case "float64":
      return Float64Array;
  }
}

/** The pixel type for a TIFF SampleFormat (1 uint, 2 int, 3 float) and bit depth; null if unsupported. */
export function pixelTypeFor(sampleFormat: number, bits: number): PixelType | null {
  if (sampleFormat === 3) return bits === 32 ? "float32" : bits === 64 ? "float64" : null;
  const signed = sampleFormat === 2;
  if (bits === 8) return signed ? "int8" : "uint8";
  if (bits === 16) return signed ? "int16" : "uint16";
  if (bits === 32) return signed ? "int32" : "uint32";
  return null;
}

/**
 * Linear 8-bit rendering by the type's range (uint16 v → round(v·255/65535); int8 v → v+128; floats
 * clamp [0, 1]). 8-bit input is returned as is. Proper rescaling (min/max, percentiles) is the
 * quantize op's job.
 */
export function toUint8(r: Raster): Raster8 {
  if (r.type === "uint8") return r as Raster8;
  const src = r.data;
  const out = new Uint8Array(src.length);
  switch (r.type) {
    case "int8":
      for (let i = 0; i < src.length; i++) out[i] = src[i] + 128;
      break;
    case "uint16":
      for (let i = 0; i < src.length; i++) out[i] = ((src[i] * 255 + 32767) / 65535) | 0;
      break;
    case "int16":
      for (let i = 0; i < src.length; i++) out[i] = (((src[i] + 32768) * 255 + 32767) / 65535) | 0;
      break;
    case "uint32":
      for (let i = 0; i < src.length; i++) out[i] = Math.round(src[i] / 16843009);
      break;
    case "int32":
      for (let i = 0; i < src.length; i++) out[i] = Math.round((src[i] + 2147483648) / 16843009);
      break;
    default:
      for (let i = 0; i < src.length; i++) {
        const v = src[i];
        out[i] = v > 0 ? (v < 1 ? Math.round(v * 255) : 255) : 0;
      }
  }
  return { width: r.width, height: r.height, channels: r.channels, type: "uint8", data: out };
}

/** The raster's channels `c`, in that order. */
export function pickChannels(r: Raster, c: number[]): Raster {
  if (c.length === r.channels && c.every((v, i) => v === i)) return r;
  const n = r.width * r.height, ch = c.length, sch = r.channels;
  const out = new (arrayTypeFor(r.type))(n * ch);
  for (let o = 0; o < ch; o++) for (let i = 0; i < n; i++) out[i * ch + o] = r.data[i * sch + c[o]];
  return { width: r.width, height: r.height, channels: ch, type: r.type, data: out };
}

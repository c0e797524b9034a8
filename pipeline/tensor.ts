/**
 * Tensor output for ML: NumPy `.npy` (format 1.0, C order, HWC) of an op's 8-bit output as uint8, float32
 * (v/255, then `(x − mean) / std` per channel when `normalize` is given; `imagenet` is the usual preset),
 * or int8 with affine quantization of that float tensor, per tensor or per channel:
 *   scale = (max − min) / 255 (1 when max = min), zero point z = round(−128 − min/scale) clamped to int8,
 *   q = clamp(round(x/scale) + z, −128, 127); dequantized x' = (q − z)·scale, so |x − x'| ≤ scale/2.
 * The signal-to-quantization-noise ratio is 10·log10(Σx² / Σ(x − x')²) dB.
 */
import { badRequest } from "../errors.ts";
import type { Raster8, RasterData } from "../core/raster.ts";
import type { QuantInfo } from "../core/tile_notes.ts";

/** Tensor parameters (part of the request and its cache key). */
export interface TensorSpec {
  /** `native`: the source's own sample type (raw-channel tensors only, pipeline/raw_tensor.ts). */
  dtype: "uint8" | "float32" | "int8" | "native";
  /** Per-channel mean and std, or null. */
  normalize?: { mean: number[]; std: number[] } | null;
  /** int8: one scale for the whole tensor, or one per channel. */
  quant?: "tensor" | "channel";
  /** True when the query gave no `dtype` (raw-channel tensors then default to `native`). */
  implicit?: boolean;
}

const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** `dtype`, `normalize` and `quant` from a query; 400 naming the bad parameter. */
export function parseTensorSpec(q: URLSearchParams): TensorSpec {
  const dtype = q.get("dtype") ?? "uint8";
  if (dtype !== "uint8" && dtype !== "float32" && dtype !== "int8" && dtype !== "native") {
    throw badRequest(`dtype must be uint8, float32, int8 or native, got "${dtype}"`);
  }
  const spec: TensorSpec = { dtype, ...(q.has("dtype") ? {} : { implicit: true }) };
  const norm = q.get("normalize");
  if (norm !== null) {
    if (dtype === "uint8" || dtype === "native") throw badRequest("normalize needs dtype=float32 or dtype=int8");
    if (norm === "imagenet") spec.normalize = IMAGENET;
    else {
      const parts = norm.split(",").map(Number);
      if (parts.length % 2 !== 0 || parts.length < 2 || parts.some((v) => !Number.isFinite(v))) {
        throw badRequest(`normalize must be "imagenet" or mean…,std… (as many means as stds), got "${norm}"`);
      }
      const half = parts.length / 2;
      const std = parts.slice(half);
      if (std.some((v) => v <= 0)) throw badRequest("normalize: every std must be > 0");
      spec.normalize = { mean: parts.slice(0, half), std };
    }
  }
  const quant = q.get("quant");
  if (quant !== null) {
    if (dtype !== "int8") throw badRequest("quant needs dtype=int8");
    if (quant !== "tensor" && quant !== "channel") throw badRequest(`quant must be tensor or channel, got "${quant}"`);
    spec.quant = quant;
  } else if (dtype === "int8") spec.quant = "tensor";
  return spec;
}

/** The canonical form of a tensor spec (for cache keys). */
export function canonicalTensor(t: TensorSpec): string {
  const n = t.normalize ? `,n=${t.normalize.mean.join(":")}/${t.normalize.std.join(":")}` : "";
  return `${t.dtype}${n}${t.quant ? `,q=${t.quant}` : ""}`;
}

/** The float tensor of an 8-bit raster: v/255, normalized per channel when asked. */
export function floatTensor(r: Raster8, normalize?: TensorSpec["normalize"]): Float32Array {
  const ch = r.channels, out = new Float32Array(r.data.length);
  for (let i = 0; i < out.length; i++) {
    const c = i % ch, x = r.data[i] / 255;
    out[i] = normalize
      ? (x - normalize.mean[Math.min(c, normalize.mean.length - 1)]) /
        normalize.std[Math.min(c, normalize.std.length - 1)]
      : x;
  }
  return out;
}

/** Affine int8 quantization of `x` (interleaved, `channels` per pixel). */
export function quantizeInt8(
  x: Float32Array,
  channels: number,
  perChannel: boolean,
): { q: Int8Array; info: QuantInfo } {
  const groups = perChannel ? channels : 1;
  const lo = new Array(groups).fill(Infinity), hi = new Array(groups).fill(-Infinity);
  for (let i = 0; i < x.length; i++) {
    const g = perChannel ? i % channels : 0;
    if (x[i] < lo[g]) lo[g] = x[i];
    if (x[i] > hi[g]) hi[g] = x[i];
  }
  const scale = lo.map((l, g) => (hi[g] > l ? (hi[g] - l) / 255 : 1));
  const zero = lo.map((l, g) => Math.min(127, Math.max(-128, Math.round(-128 - l / scale[g]))));
  const q = new Int8Array(x.length);
  let signal = 0, noise = 0;
  for (let i = 0; i < x.length; i++) {
    const g = perChannel ? i % channels : 0;
    const v = Math.min(127, Math.max(-128, Math.round(x[i] / scale[g]) + zero[g]));
    q[i] = v;
    const back = (v - zero[g]) * scale[g];
    signal += x[i] * x[i];
    noise += (x[i] - back) ** 2;
  }
  const sqnrDb = noise === 0 ? Infinity : 10 * Math.log10(signal / noise);
  return { q, info: { scale, zeroPoint: zero, sqnrDb } };
}

/** NumPy's type string of each typed array (little-endian). */
const NPY_DESCR: [new (n: number) => ArrayBufferView, string][] = [
  [Uint8Array, "|u1"],
  [Int8Array, "|i1"],
  [Uint16Array, "<u2"],
  [Int16Array, "<i2"],
  [Uint32Array, "<u4"],
  [Int32Array, "<i4"],
  [Float32Array, "<f4"],
  [Float64Array, "<f8"],
];

/** A `.npy` file (format 1.0) of a typed array with the given shape. */
export function encodeNpy(data: RasterData, shape: number[]): Uint8Array {
  const descr = NPY_DESCR.find(([Ctor]) => data instanceof Ctor)![1];
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(", ")}${
    shape.length === 1 ? "," : ""
  }), }`;
  // Magic (6) + version (2) + length (2) + header + newline, padded to a multiple of 64.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, " ") + "\n";
  const out = new Uint8Array(total + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}

/** The `.npy` bytes of an 8-bit raster under `spec`, with quantization figures for int8. */
export function encodeTensor(r: Raster8, spec: TensorSpec): { bytes: Uint8Array; quant?: QuantInfo } {
  const shape = [r.height, r.width, r.channels];
  if (spec.dtype === "uint8") return { bytes: encodeNpy(r.data, shape) };
  const x = floatTensor(r, spec.normalize);
  if (spec.dtype === "float32") return { bytes: encodeNpy(x, shape) };
  const { q, info } = quantizeInt8(x, r.channels, spec.quant === "channel");
  return { bytes: encodeNpy(q, shape), quant: info };
}

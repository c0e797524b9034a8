/**
 * Tensors of the raw channels: a `.npy` request of an image with a render step and no op holds the
 * selected channels' resampled samples (HWC, in `c` order; padding 0), not their rendering. By `dtype`:
 * `native` (the default there) the source's sample type; `float32` the values as float32, normalized per
 * channel when asked ((x − mean) / std on the raw values); `int8` that float tensor quantized as
 * pipeline/tensor.ts defines; `uint8` each channel's 8-bit intensity under its window and stretch.
 */
import type { Raster } from "../core/raster.ts";
import { arrayTypeFor } from "../core/raster.ts";
import { renderIntensities } from "../kernels/render.ts";
import type { TileRequest } from "./tile_request.ts";
import { encodeNpy, quantizeInt8, type TensorSpec } from "./tensor.ts";
import { type QuantInfo } from "../core/tile_notes.ts";
import { badRequest } from "../errors.ts";
import type { Placement } from "./render.ts";

/** True when a request's tensor holds the raw channels (a render, no op, `.npy`). */
export function isRawTensor(req: Pick<TileRequest, "format" | "render" | "op">): boolean {
  return req.format === "npy" && !!req.render && req.op.name === "none";
}

/**
 * The tensor parameters of a request: a raw-channel tensor (`raw`) is in the source's sample type unless
 * `dtype=` says otherwise; `dtype=native` is for those only (400).
 */
export function tensorFor(spec: TensorSpec, raw: boolean): TensorSpec {
  if (raw && spec.implicit) return { dtype: "native" };
  if (!raw && spec.dtype === "native") {
    throw badRequest(
      "dtype=native is for tensors of an image's raw channels (a multichannel or high-bit-depth image, no op)",
    );
  }
  const { implicit: _, ...rest } = spec;
  return rest;
}

/** The `.npy` of the raw channels (`resampled`: the selected channels over `placement`), padded to the output. */
export function encodeRawTensor(
  resampled: Raster,
  placement: Placement,
  req: TileRequest,
): { bytes: Uint8Array; quant?: QuantInfo } {
  const spec = req.tensor ?? { dtype: "native" as const };
  const src = spec.dtype === "uint8" ? renderIntensities(resampled, req.render!) : resampled;
  const W = req.outWidth, H = req.outHeight, ch = src.channels;
  const padded = new (arrayTypeFor(src.type))(W * H * ch);
  for (let y = 0; y < src.height; y++) {
    padded.set(
      src.data.subarray(y * src.width * ch, (y + 1) * src.width * ch) as never,
      ((placement.outY + y) * W + placement.outX) * ch,
    );
  }
  const shape = [H, W, ch];
  if (spec.dtype === "native" || spec.dtype === "uint8") return { bytes: encodeNpy(padded, shape) };
  const x = new Float32Array(padded.length);
  const norm = spec.normalize;
  for (let i = 0; i < x.length; i++) {
    const c = i % ch;
    x[i] = norm
      ? (padded[i] - norm.mean[Math.min(c, norm.mean.length - 1)]) / norm.std[Math.min(c, norm.std.length - 1)]
      : padded[i];
  }
  if (spec.dtype === "float32") return { bytes: encodeNpy(x, shape) };
  const { q, info } = quantizeInt8(x, ch, spec.quant === "channel");
  return { bytes: encodeNpy(q, shape), quant: info };
}

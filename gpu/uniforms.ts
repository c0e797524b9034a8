/**
 * A job's uniform parameters and palette as the kernels' WGSL reads them (`Params` in
 * kernels/common.wgsl): one layout for every kernel. Pure: no device here.
 */
import type { KernelJob } from "../kernels/kernel.ts";

/** Bytes of the uniform parameter block (13 u32, padded). */
export const PARAMS_BYTES = 64;

/** The uniform parameters of a job (layout of `Params` in kernels/common.wgsl). */
export function jobParams(job: KernelJob): Uint32Array {
  const { width: w, height: h, channels: ch } = job.input;
  const v = job.valid ?? { x: 0, y: 0, w, h };
  const p = new Uint32Array(PARAMS_BYTES / 4);
  p.set([
    w,
    h,
    ch,
    v.x,
    v.x + v.w - 1,
    v.y,
    v.y + v.h - 1,
    job.t ?? 0,
    job.invert ? 1 : 0,
    job.levels ?? 0,
    job.palette ? job.palette.length / 3 : 0,
    Math.ceil(w / 2),
    Math.ceil(h / 2),
  ]);
  return p;
}

/** The palette as one packed word per entry (r | g << 8 | b << 16). */
export function packPalette(palette: Uint8Array | undefined): Uint32Array {
  const k = palette ? palette.length / 3 : 0;
  const out = new Uint32Array(Math.max(1, k));
  for (let i = 0; i < k; i++) out[i] = palette![i * 3] | (palette![i * 3 + 1] << 8) | (palette![i * 3 + 2] << 16);
  return out;
}

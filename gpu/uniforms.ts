/**
 * A job's uniform parameters and palette as its module's WGSL reads them: the `Params` struct is the
 * geometry every job has, then the module's own parameters (`ShaderModule.params`), one u32 each, in that
 * order — declared once, by the kernel; gpu/shaders.ts writes the struct from the same list. Pure: no device.
 */
import type { Kernel, KernelJob, ShaderModule } from "../kernels/kernel.ts";

/** Bytes of the uniform parameter block (at most 16 u32). */
export const PARAMS_BYTES = 64;

/** The geometry every job's `Params` starts with. */
export const GEOMETRY = ["width", "height", "channels", "valid_x0", "valid_x1", "valid_y0", "valid_y1"] as const;

/** The fields of a module's `Params`, in order; throws when they do not fit `PARAMS_BYTES`. */
export function paramFields(module: ShaderModule): string[] {
  const fields = [...GEOMETRY, ...(module.params ?? [])];
  if (fields.length * 4 > PARAMS_BYTES || new Set(fields).size !== fields.length) {
    throw new Error(`kernel module "${module.file}": its parameters do not fit one Params block, or repeat`);
  }
  return fields;
}

/** The uniform parameters of a job of `kernel` (layout of its module's `Params`). */
export function jobParams(job: KernelJob, kernel: Kernel): Uint32Array {
  const { width: w, height: h, channels: ch } = job.input;
  const v = job.valid ?? { x: 0, y: 0, w, h };
  const own = kernel.uniforms?.(job) ?? {};
  const geometry: Record<string, number> = {
    width: w,
    height: h,
    channels: ch,
    valid_x0: v.x,
    valid_x1: v.x + v.w - 1,
    valid_y0: v.y,
    valid_y1: v.y + v.h - 1,
  };
  const p = new Uint32Array(PARAMS_BYTES / 4);
  paramFields(kernel.shader).forEach((f, i) => (p[i] = geometry[f] ?? own[f] ?? 0));
  return p;
}

/** The palette as one packed word per entry (r | g << 8 | b << 16). */
export function packPalette(palette: Uint8Array | undefined): Uint32Array {
  const k = palette ? palette.length / 3 : 0;
  const out = new Uint32Array(Math.max(1, k));
  for (let i = 0; i < k; i++) out[i] = palette![i * 3] | (palette![i * 3 + 1] << 8) | (palette![i * 3 + 2] << 16);
  return out;
}

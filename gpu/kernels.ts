/**
 * What the GPU can compute, and how: each kernel is a list of passes (entry points of kernels/*.wgsl) over
 * one job's buffers, the size of its scratch planes and of its output. Pure: no device here.
 */
import type { Raster8 } from "../core/raster.ts";
import type { Rect } from "../core/rect.ts";
import type { EntryPoint } from "./shaders.ts";

/** The kernels the GPU runs (the CPU definitions are in kernels/*.ts). */
export type GpuKernel =
  | "gray"
  | "threshold"
  | "mask"
  | "maskSaturation"
  | "maskFromSaturation"
  | "levels"
  | "palette"
  | "downsample2x"
  | "histogram";

/** One unit of GPU work: a kernel on an 8-bit raster, with its parameters. */
export interface GpuJob {
  kernel: GpuKernel;
  input: Raster8;
  /** threshold and mask: the threshold. */
  t?: number;
  /** threshold: flip the output. */
  invert?: boolean;
  /** levels: N. */
  levels?: number;
  /** palette: RGB triples. */
  palette?: Uint8Array;
  /** Neighbourhood kernels (mask): the part of the input inside the image. */
  valid?: Rect;
}

/** What a job gives back: 8-bit output, or a histogram. */
export type GpuResult = Raster8 | Uint32Array;

/** How one job runs: passes in order, each over `items` invocations. */
export interface KernelPlan {
  passes: { entry: EntryPoint; items: number }[];
  /** Bytes of each of the two scratch planes (one u32 per pixel), 0 when unused. */
  planeBytes: number;
  /** Output bytes; the output raster's shape (null for a histogram). */
  outBytes: number;
  outShape: { width: number; height: number; channels: number } | null;
  /** Zero the output before the passes (histograms accumulate into it). */
  clearOutput: boolean;
}

const words = (bytes: number) => Math.ceil(bytes / 4);

/** The plan of a job. */
export function planJob(job: GpuJob): KernelPlan {
  const { width: w, height: h, channels: ch } = job.input;
  const n = w * h;
  const gray = { width: w, height: h, channels: 1 };
  const onePass = (entry: EntryPoint, outBytes: number, outShape: KernelPlan["outShape"]): KernelPlan => ({
    passes: [{ entry, items: words(outBytes) }],
    planeBytes: 0,
    outBytes,
    outShape,
    clearOutput: false,
  });
  switch (job.kernel) {
    case "gray":
      return onePass("gray.gray", n, gray);
    case "threshold":
      return onePass("threshold.threshold", n, gray);
    case "levels":
      return onePass("quantize.levels", n * ch, { width: w, height: h, channels: ch });
    case "palette":
      return onePass("quantize.palette_map", n, gray);
    case "downsample2x": {
      const ow = Math.ceil(w / 2), oh = Math.ceil(h / 2);
      return onePass("downsample2x.downsample2x", ow * oh * ch, { width: ow, height: oh, channels: ch });
    }
    case "histogram":
      return {
        ...onePass("histogram.histogram", 1024, null),
        passes: [{ entry: "histogram.histogram", items: words(n) }],
        clearOutput: true,
      };
    case "mask":
    case "maskSaturation":
    case "maskFromSaturation": {
      const median: KernelPlan["passes"] = [{ entry: "mask.saturation", items: n }, {
        entry: "mask.median7",
        items: n,
      }];
      const close: KernelPlan["passes"] = [
        { entry: "mask.dilate_h", items: n },
        { entry: "mask.dilate_v", items: n },
        { entry: "mask.erode_h", items: n },
        { entry: "mask.erode_v", items: words(n) },
      ];
      const passes = job.kernel === "mask"
        ? [...median, ...close]
        : job.kernel === "maskSaturation"
        ? [...median, { entry: "mask.median_out" as const, items: words(n) }]
        : [{ entry: "mask.load_b" as const, items: n }, ...close];
      return {
        passes,
        planeBytes: n * 4,
        outBytes: n,
        outShape: gray,
        clearOutput: false,
      };
    }
  }
}

/** Bytes of the uniform parameter block (13 u32, padded). */
export const PARAMS_BYTES = 64;

/** The uniform parameters of a job (layout of `Params` in kernels/common.wgsl). */
export function jobParams(job: GpuJob): Uint32Array {
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

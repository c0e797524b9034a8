/**
 * The kernel unit: one pure computation on an 8-bit raster, declared once beside its WGSL twin with its
 * CPU function, its GPU plan (entry points, scratch planes, output) and an example job for the start-up
 * self-test. Tile ops and the image statistics run kernels; the CPU backends call `cpu`, the WebGPU
 * executor runs `plan`'s passes, and both take the same `KernelJob`. Pure: no device, no I/O.
 */
import type { Raster8 } from "../core/raster.ts";
import type { Rect } from "../core/rect.ts";

/** One unit of kernel work: a kernel (by name) on an 8-bit raster, with its parameters. */
export interface KernelJob {
  kernel: string;
  input: Raster8;
  /** threshold and mask: the threshold. */
  t?: number;
  /** threshold: flip the output. */
  invert?: boolean;
  /** levels: N. */
  levels?: number;
  /** palette: RGB triples. */
  palette?: Uint8Array;
  /** A kernel's other parameters, by the names its module declares (`ShaderModule.params`). */
  u?: Readonly<Record<string, number>>;
  /** Neighbourhood kernels: the part of the input inside the image (reads clamp to it). */
  valid?: Rect;
}

/** What a job gives back: 8-bit output, or a histogram. */
export type KernelResult = Raster8 | Uint32Array;

/**
 * A WGSL module `<file>.wgsl` (in `dir`, default kernels/) and its entry points. gpu/shaders.ts builds its
 * source: the `Params` struct (the geometry every job has, then `params`), kernels/common.wgsl, the file,
 * and each `packed` entry point as the shared loop that writes four output bytes a word.
 */
export interface ShaderModule {
  file: string;
  entries: readonly string[];
  /** The folder of the `.wgsl` file (a kernel outside kernels/: a test's). */
  dir?: URL;
  /** Its kernels' own u32 parameters, in `Params` after the geometry; each kernel's `uniforms` fills them. */
  params?: readonly string[];
  /**
   * Entry points generated as the four-bytes-a-word loop: output byte `i` is `byte(i)` (a WGSL function of
   * the file), for `i` below the count of pixels, RGB bytes, input samples or `out_width·out_height·channels`.
   */
  packed?: Readonly<Record<string, { byte: string; count: "pixels" | "rgb" | "samples" | "out-samples" }>>;
}

/** How one job runs on the GPU: passes in order, each over `items` invocations. */
export interface KernelPlan {
  /** Entry points named `file.entry`. */
  passes: { entry: string; items: number }[];
  /** Bytes of each of the two scratch planes (one u32 per pixel), 0 when unused. */
  planeBytes: number;
  /** Output bytes; the output raster's shape (null for a histogram). */
  outBytes: number;
  outShape: { width: number; height: number; channels: number } | null;
  /** Zero the output before the passes (histograms accumulate into it). */
  clearOutput: boolean;
}

/**
 * `op`: computes a tile op (the `auto` backend measures and routes these one by one); `support`: image
 * statistics and derived levels (on the GPU with the `mask` kernel).
 */
export type KernelRole = "op" | "support";

/** The parameters of a job, without its input (what an op asks for; the pipeline adds the input). */
export type KernelParams = Omit<KernelJob, "input" | "valid">;

/** One kernel: its CPU definition and its GPU twin. */
export interface Kernel {
  readonly name: string;
  readonly role: KernelRole;
  /** The WGSL module holding its entry points. */
  readonly shader: ShaderModule;
  /** The definition: what both backends must produce, byte for byte. */
  cpu(job: KernelJob): KernelResult;
  /** The GPU passes of a job. */
  plan(job: KernelJob): KernelPlan;
  /** A job of this kernel on `input` (any channel count), for the self-test and the `auto` measurement. */
  example(input: Raster8, valid: Rect): KernelJob;
  /** The values of its module's `params` for a job (0 for any it leaves out). */
  uniforms?(job: KernelJob): Readonly<Record<string, number>>;
}

/** 4-byte words holding `bytes` bytes. */
export const words = (bytes: number): number => Math.ceil(bytes / 4);

/** A plan of one pass writing `outBytes` (one invocation per output word), without scratch planes. */
export function onePass(entry: string, outBytes: number, outShape: KernelPlan["outShape"]): KernelPlan {
  return { passes: [{ entry, items: words(outBytes) }], planeBytes: 0, outBytes, outShape, clearOutput: false };
}

/** The one-channel shape of a job's input. */
export function grayShape(job: KernelJob): { width: number; height: number; channels: number } {
  return { width: job.input.width, height: job.input.height, channels: 1 };
}

/** The threshold of a job whose op parameters were resolved; throws when one is still global (`otsu`). */
export function resolvedT(params: Record<string, unknown>): number {
  const t = Number(params.t);
  if (!Number.isInteger(t)) throw new Error("t must be resolved before the kernel runs");
  return t;
}

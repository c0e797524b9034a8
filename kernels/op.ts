/**
 * The op unit, after titiler's algorithms: an op parses its parameters (400 naming a bad one), resolves
 * its global ones against the image statistics, says how many halo pixels it needs around a tile, turns
 * the resampled tile — in the source's own sample type, so ops can rescale 16-bit and float data — into
 * its 8-bit input, and names the kernel job (kernels/kernel.ts) that computes it on either backend, with
 * the kernels it declares beside their WGSL. The registry (kernels/index.ts) lists the ops.
 */
import { type Raster, type Raster8, toUint8 } from "../core/raster.ts";
import type { ImageStats } from "../core/image_stats.ts";
import type { Kernel, KernelJob, KernelParams } from "./kernel.ts";

/** An op with its parameters resolved (e.g. `{ name: "threshold", params: { t: 172 } }`). */
export interface OpSpec {
  name: string;
  params: Record<string, string | number | boolean>;
}

/** Canonical form of an op: `name` or `name:k=v,k=v` with keys sorted. */
export function canonicalOp(op: OpSpec): string {
  const keys = Object.keys(op.params).sort();
  if (keys.length === 0) return op.name;
  return `${op.name}:${keys.map((k) => `${k}=${op.params[k]}`).join(",")}`;
}

/** What an op produces: 8-bit pixels, and how a PNG should store them. */
export interface OpOutput {
  raster: Raster8;
  /** 1 for binary output (1-bit gray PNG); 8 otherwise. */
  pngBitDepth?: 1 | 8;
  /** RGB triples for indexed output (the raster then holds indices). */
  palette?: Uint8Array;
  /** Parameters resolved while computing (reported in `X-Op`). */
  resolved?: Record<string, string | number>;
}

/** Image-level statistics, computed once per image version, fetched only when an op asks. */
export interface StatsProvider {
  get(): Promise<ImageStats>;
  /** The median-cut palette with `k` colours (RGB triples), on the stats level rendered with `rescale`. */
  palette(k: number, rescale?: string): Promise<Uint8Array>;
}

/** An op's parameters as given (strings by name, from a URL's query or anywhere else). */
export type OpArgs = Readonly<Record<string, string>>;

/** One op: parsing, global-parameter resolution, halo, its kernel job and its output. */
export interface TileOp {
  readonly name: string;
  /** The kernels this op declares (beside their WGSL); the registry collects them for both backends. */
  readonly kernels?: readonly Kernel[];
  /** The parameters it takes, by name (`t`, `invert`): the route layer reads these keys and no others. */
  readonly params: readonly string[];
  /** Its parameters from the values given (only keys of `params`); throws a 400 naming the parameter. */
  parse(raw: OpArgs): OpSpec["params"];
  /**
   * Replaces global parameters (`t=otsu`, `palette=K`, `rescale=auto`) by their values for this image
   * version, before the request is keyed and dispatched. Absent for ops without global parameters.
   */
  resolve?(params: OpSpec["params"], stats: StatsProvider): Promise<OpSpec["params"]>;
  /**
   * True when the kernel reads only Y (`gray`, `threshold`): sources whose level has a luma plane (YCbCr
   * JPEG tiles) then give that plane instead of RGB, and the kernel passes 1-channel input through.
   */
  readonly readsLuma?: boolean;
  /** Pixels of context needed on each side of the tile, in output pixels (0 for pointwise ops). */
  halo(params: OpSpec["params"]): number;
  /**
   * The resampled tile (any sample type) as the 8-bit input of the kernel: `quantize` rescales, the others
   * render by type range (`toUint8`, the default). Runs on the CPU before either backend's kernel.
   */
  input8?(input: Raster, params: OpSpec["params"]): Raster8;
  /**
   * The kernel job computing the op (resolved `params` → the kernel's name and parameters); the pipeline
   * adds the input and its valid rectangle. Absent for ops without a kernel (`none`), which `apply`.
   */
  kernelJob?(params: OpSpec["params"]): KernelParams;
  /** The op's output from its job's result (default: the raster as is). */
  output?(job: KernelJob, result: Raster8): OpOutput;
  /** Ops without a kernel: 8-bit input → 8-bit output on the CPU. Pure, no I/O. */
  apply?(input: Raster8, params: OpSpec["params"]): OpOutput;
  /**
   * A request for exactly one stored JPEG tile may be answered from the file's bytes: `as-is` (the pixels
   * unchanged), `gray-transcode` (the lossless DCT-domain luma of a YCbCr tile, where the codec can).
   */
  readonly storedJpeg?: "as-is" | "gray-transcode";
  /** Binary, level or palette output that a lossy format would corrupt (TileJSON then defaults to PNG). */
  readonly exactOutput?: boolean;
  /** Resolved parameters left out of `X-Op` and manifests (too long: a palette's colours, see /stats). */
  readonly hiddenParams?: readonly string[];
}

/** The 8-bit input of `op` for a resampled raster. */
export function opInput8(op: TileOp, input: Raster, params: OpSpec["params"]): Raster8 {
  return op.input8 ? op.input8(input, params) : toUint8(input);
}

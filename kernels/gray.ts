/**
 * `gray`: Y = (77·R + 150·G + 29·B + 128) >> 8 on 8-bit RGB; gray input passes through; alpha dropped.
 * Levels stored as YCbCr JPEG give their decoded luma plane as the input (DESIGN: gray of YCbCr JPEG
 * sources), which passes through like any gray input.
 */
import type { TileOp } from "./op.ts";
import type { Raster8 } from "../core/raster.ts";
import { grayShape, type Kernel, onePass } from "./kernel.ts";

/** Y of the 8-bit RGB sample at `j` of `s`: the one definition every CPU kernel computes luma with. */
export function lumaAt(s: Uint8Array, j: number): number {
  return (77 * s[j] + 150 * s[j + 1] + 29 * s[j + 2] + 128) >> 8;
}

/** Luma of an 8-bit raster, one channel. */
export function grayKernel(src: Raster8): Raster8 {
  const { width, height, channels: ch, data: s } = src;
  const n = width * height;
  const out = new Uint8Array(n);
  if (ch === 1) {
    out.set(s.subarray(0, n)); // a luma plane: one copy (0.07 ms a 256² tile by the loop below; CPU profile)
  } else if (ch < 3) {
    for (let i = 0; i < n; i++) out[i] = s[i * ch];
  } else {
    for (let i = 0, j = 0; i < n; i++, j += ch) out[i] = lumaAt(s, j);
  }
  return { width, height, channels: 1, type: "uint8", data: out };
}

/** The gray kernel: `grayKernel`, and `gray.wgsl`'s one pass (four pixels per invocation). */
export const GRAY_KERNEL: Kernel = {
  name: "gray",
  role: "op",
  shader: { file: "gray", entries: ["gray"], packed: { gray: { byte: "gray_byte", count: "pixels" } } },
  cpu: (job) => grayKernel(job.input),
  plan: (job) => onePass("gray.gray", job.input.width * job.input.height, grayShape(job)),
  example: (input) => ({ kernel: "gray", input }),
};

/** The gray op. */
export const grayOp: TileOp = {
  name: "gray",
  readsLuma: true,
  storedJpeg: "gray-transcode",
  kernels: [GRAY_KERNEL],
  params: [],
  parse: () => ({}),
  halo: () => 0,
  kernelJob: () => ({ kernel: "gray" }),
};

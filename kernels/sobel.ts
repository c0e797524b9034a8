/**
 * `sobel`: edge magnitude of Y (the gray op's luma). With Y read at clamped coordinates (outside the
 * valid rectangle, the nearest edge pixel, as the mask does), Gx and Gy are the 3×3 Sobel responses
 * (1 2 1 smoothing, −1 0 1 difference) and out = ⌊√((Gx² + Gy²) / 32)⌋: scikit-image's `filters.sobel`
 * (kernels scaled by ¼, magnitude √((gx² + gy²) / 2)) on 0..255 samples, floored, which never exceeds
 * 255. A tile is computed with a halo of 1 pixel, so tiles are crops of the whole level's edge map.
 * Output: 8-bit gray.
 */
import type { Raster8 } from "../core/raster.ts";
import type { Rect } from "../core/rect.ts";
import { grayKernel } from "./gray.ts";
import { grayShape, type Kernel, onePass } from "./kernel.ts";
import type { TileOp } from "./op.ts";

/** The Sobel edge magnitude of an 8-bit raster's luma, reads clamped to `valid`. */
export function sobelKernel(src: Raster8, valid?: Rect): Raster8 {
  const { width: w, height: h } = src;
  const Y = grayKernel(src).data;
  const x0 = valid?.x ?? 0, x1 = valid ? valid.x + valid.w - 1 : w - 1;
  const y0 = valid?.y ?? 0, y1 = valid ? valid.y + valid.h - 1 : h - 1;
  const cx = new Int32Array(w + 2), cy = new Int32Array(h + 2);
  for (let x = -1; x <= w; x++) cx[x + 1] = x < x0 ? x0 : x > x1 ? x1 : x;
  for (let y = -1; y <= h; y++) cy[y + 1] = (y < y0 ? y0 : y > y1 ? y1 : y) * w;
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const up = cy[y], mid = cy[y + 1], down = cy[y + 2];
    for (let x = 0; x < w; x++) {
      const l = cx[x], c = cx[x + 1], r = cx[x + 2];
      const a = Y[up + l], b = Y[up + c], cc = Y[up + r];
      const d = Y[mid + l], f = Y[mid + r];
      const g = Y[down + l], hh = Y[down + c], i = Y[down + r];
      const gx = cc + 2 * f + i - (a + 2 * d + g);
      const gy = g + 2 * hh + i - (a + 2 * b + cc);
      // Math.sqrt is correctly rounded: its floor is the integer square root.
      out[y * w + x] = Math.floor(Math.sqrt(Math.floor((gx * gx + gy * gy) / 32)));
    }
  }
  return { width: w, height: h, channels: 1, type: "uint8", data: out };
}

/** The Sobel kernel: `sobelKernel`, and `sobel.wgsl`'s one pass (four pixels per invocation). */
export const SOBEL_KERNEL: Kernel = {
  name: "sobel",
  role: "op",
  shader: { file: "sobel", entries: ["sobel"], packed: { sobel: { byte: "edge", count: "pixels" } } },
  cpu: (job) => sobelKernel(job.input, job.valid),
  plan: (job) => onePass("sobel.sobel", job.input.width * job.input.height, grayShape(job)),
  example: (input, valid) => ({ kernel: "sobel", input, valid }),
};

/** The sobel op. */
export const sobelOp: TileOp = {
  name: "sobel",
  readsLuma: true,
  kernels: [SOBEL_KERNEL],
  params: [],
  parse: () => ({}),
  halo: () => 1,
  kernelJob: () => ({ kernel: "sobel" }),
};

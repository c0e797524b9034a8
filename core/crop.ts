/** Cropping and pasting rectangles of rasters. */
import type { Raster } from "./raster.ts";

/** A copy of the rectangle (`x`, `y`, `w`, `h`) of `src`, which must lie inside it. */
export function cropRaster<R extends Raster>(src: R, x: number, y: number, w: number, h: number): R {
  if (x === 0 && y === 0 && w === src.width && h === src.height) return src;
  const ch = src.channels;
  const Ctor = src.data.constructor as new (n: number) => R["data"];
  const out = new Ctor(w * h * ch);
  for (let row = 0; row < h; row++) {
    const from = ((y + row) * src.width + x) * ch;
    out.set(src.data.subarray(from, from + w * ch) as never, row * w * ch);
  }
  return { ...src, width: w, height: h, data: out };
}

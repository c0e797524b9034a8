/** Orientation step: mirror (on the vertical axis) then rotate clockwise by 0/90/180/270 degrees. */
import type { Raster8 } from "../core/raster.ts";

/** Right-angle rotations. */
export type Rotation = 0 | 90 | 180 | 270;

/** `src` mirrored (when `mirror`) and then rotated `rotate` degrees clockwise. */
export function orientRaster(src: Raster8, rotate: Rotation, mirror: boolean): Raster8 {
  if (rotate === 0 && !mirror) return src;
  const { width: w, height: h, channels: ch, data } = src;
  const swap = rotate === 90 || rotate === 270;
  const ow = swap ? h : w, oh = swap ? w : h;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sx = mirror ? w - 1 - x : x; // the mirrored image's pixel (x, y) is the source's (sx, y)
      let ox: number, oy: number;
      if (rotate === 0) [ox, oy] = [x, y];
      else if (rotate === 90) [ox, oy] = [h - 1 - y, x];
      else if (rotate === 180) [ox, oy] = [w - 1 - x, h - 1 - y];
      else [ox, oy] = [y, w - 1 - x];
      const from = (y * w + sx) * ch, to = (oy * ow + ox) * ch;
      for (let c = 0; c < ch; c++) out[to + c] = data[from + c];
    }
  }
  return { width: ow, height: oh, channels: ch, type: "uint8", data: out };
}

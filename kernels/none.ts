/**
 * `none`: the pixels as resampled, rendered to 8 bits by type range. Sources with more than 4 channels
 * show their first three as RGB.
 */
import type { TileOp } from "./op.ts";
import type { Raster8 } from "../core/raster.ts";

/** At most 4 displayable channels: gray, gray+alpha, RGB, RGBA; more → the first three. */
export function displayChannels(r: Raster8): Raster8 {
  if (r.channels <= 4) return r;
  const n = r.width * r.height, ch = r.channels;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[i * 3 + c] = r.data[i * ch + c];
  return { width: r.width, height: r.height, channels: 3, type: "uint8", data: out };
}

/** The identity op. */
export const noneOp: TileOp = {
  name: "none",
  storedJpeg: "as-is",
  params: [],
  parse: () => ({}),
  halo: () => 0,
  apply: (input) => ({ raster: displayChannels(input) }),
};

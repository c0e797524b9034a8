/**
 * The pad step's arithmetic: the op's output placed in the full output size (transparent padding for PNG
 * and WebP, the background colour for JPEG and tensors), palettes expanded, alpha added or flattened.
 */
import type { OpOutput } from "../kernels/op.ts";
import { arrayTypeFor, type Raster, type Raster8 } from "../core/raster.ts";
import { backgroundSamples, flattenAlpha } from "./encode.ts";
import type { TileRequest } from "./tile_request.ts";

/** Where the computed pixels land in the output; the rest is padding. */
export interface Placement {
  outX: number;
  outY: number;
  outW: number;
  outH: number;
}

/** Formats without alpha: JPEG, and tensors (fixed channels whatever the padding). */
function opaqueFormat(req: TileRequest): boolean {
  return req.format === "jpeg" || req.format === "npy";
}

/**
 * Places the op's output in the full output size. Padding is transparent for PNG and WebP and the
 * background colour for JPEG; JPEG output never carries alpha.
 */
export function padToOutput(inner: OpOutput | null, plan: Placement | null, req: TileRequest): OpOutput {
  const W = req.outWidth, H = req.outHeight;
  const jpeg = opaqueFormat(req);
  const covers = inner && plan && plan.outX === 0 && plan.outY === 0 && plan.outW === W && plan.outH === H;
  const bg = req.format === "jpeg" ? req.background : undefined;
  if (covers) return jpeg && !inner!.palette ? { ...inner!, raster: flattenAlpha(inner!.raster, bg) } : inner!;
  // Expand the inner raster to gray/RGB + alpha (or flat for JPEG), then paste it.
  let src: Raster8 | null = inner ? expandPalette(inner) : null;
  const baseCh = src ? (src.channels <= 2 ? 1 : 3) : 3;
  const ch = jpeg ? baseCh : baseCh + 1;
  if (src && jpeg) src = flattenAlpha(src, bg);
  if (src && !jpeg) src = withAlpha(src);
  const data = new Uint8Array(W * H * ch);
  if (jpeg) {
    const back = backgroundSamples(ch, bg);
    if (back.every((v) => v === back[0])) data.fill(back[0]);
    else for (let i = 0; i < data.length; i += ch) data.set(back, i);
  }
  if (src && plan) {
    for (let y = 0; y < src.height; y++) {
      data.set(src.data.subarray(y * src.width * ch, (y + 1) * src.width * ch), ((plan.outY + y) * W + plan.outX) * ch);
    }
  }
  return { raster: { width: W, height: H, channels: ch, type: "uint8", data }, resolved: inner?.resolved };
}

/** An indexed output as RGB (its palette applied); other outputs as they are. */
export function expandPalette(o: OpOutput): Raster8 {
  if (!o.palette) return o.raster;
  const { width, height, data } = o.raster;
  const out = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) out.set(o.palette.subarray(data[i] * 3, data[i] * 3 + 3), i * 3);
  return { width, height, channels: 3, type: "uint8", data: out };
}

function withAlpha(r: Raster8): Raster8 {
  if (r.channels === 2 || r.channels === 4) return r;
  const ch = r.channels, n = r.width * r.height;
  const out = new Uint8Array(n * (ch + 1));
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < ch; c++) out[i * (ch + 1) + c] = r.data[i * ch + c];
    out[i * (ch + 1) + ch] = 255;
  }
  return { width: r.width, height: r.height, channels: ch + 1, type: "uint8", data: out };
}

/** `src` placed at (`x`, `y`) on a zero canvas of `w` × `h` (same sample type and channels). */
export function placeRaster(src: Raster, w: number, h: number, x: number, y: number): Raster {
  if (x === 0 && y === 0 && src.width === w && src.height === h) return src;
  const ch = src.channels;
  const data = new (arrayTypeFor(src.type))(w * h * ch);
  for (let row = 0; row < src.height; row++) {
    data.set(src.data.subarray(row * src.width * ch, (row + 1) * src.width * ch) as never, ((y + row) * w + x) * ch);
  }
  return { width: w, height: h, channels: ch, type: src.type, data };
}

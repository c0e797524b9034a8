/**
 * 2× area downsample, the one definition used for derived pyramid levels and the stats level:
 * out(x, y) = round-half-up mean of the existing pixels among (2x..2x+1, 2y..2y+1); at an odd right or
 * bottom edge the block has 2 or 1 pixels. Output size ceil(w/2) × ceil(h/2). Interleaved, any sample type
 * (the GPU twin: 8-bit).
 */
import { arrayTypeFor, type Raster, type Raster8 } from "../core/raster.ts";
import { type Kernel, onePass } from "./kernel.ts";

/** The 2× area-averaged raster (8-bit). */
export function downsample2x(src: Raster8): Raster8 {
  return downsample2xSamples(src) as Raster8;
}

/**
 * The 2× area average on any sample type (derived levels keep the source's samples, so the render
 * step windows real values): integers round half up, floor((sum + n/2) / n); floats are the plain mean.
 */
export function downsample2xSamples(src: Raster): Raster {
  const { width: sw, height: sh, channels: ch, data: s } = src;
  const w = Math.ceil(sw / 2), h = Math.ceil(sh / 2);
  const out = new (arrayTypeFor(src.type))(w * h * ch);
  const isFloat = src.type === "float32" || src.type === "float64";
  // Sums of 8- and 16-bit samples fit 32-bit shifts (arithmetic: a floor for negative sums too).
  const shifts = !isFloat && arrayTypeFor(src.type).BYTES_PER_ELEMENT <= 2;
  const rowStride = sw * ch;
  for (let y = 0; y < h; y++) {
    const y0 = 2 * y, twoRows = y0 + 1 < sh;
    const r0 = y0 * rowStride, r1 = twoRows ? r0 + rowStride : r0;
    for (let x = 0; x < w; x++) {
      const x0 = 2 * x, twoCols = x0 + 1 < sw;
      const n = (twoRows ? 2 : 1) * (twoCols ? 2 : 1);
      const a = x0 * ch, b = twoCols ? a + ch : a;
      const o = (y * w + x) * ch;
      for (let c = 0; c < ch; c++) {
        let sum = s[r0 + a + c];
        if (twoCols) sum += s[r0 + b + c];
        if (twoRows) {
          sum += s[r1 + a + c];
          if (twoCols) sum += s[r1 + b + c];
        }
        out[o + c] = shifts
          ? (n === 4 ? (sum + 2) >> 2 : n === 2 ? (sum + 1) >> 1 : sum)
          : isFloat
          ? sum / n
          : Math.floor((sum + (n >> 1)) / n);
      }
    }
  }
  return { width: w, height: h, channels: ch, type: src.type, data: out };
}

/** The 2× downsample kernel (derived levels are built on the CPU; the GPU twin is checked at start-up). */
export const DOWNSAMPLE2X_KERNEL: Kernel = {
  name: "downsample2x",
  role: "support",
  shader: {
    file: "downsample2x",
    entries: ["downsample2x"],
    params: ["out_width", "out_height"],
    packed: { downsample2x: { byte: "down_byte", count: "out-samples" } },
  },
  uniforms: (job) => ({ out_width: Math.ceil(job.input.width / 2), out_height: Math.ceil(job.input.height / 2) }),
  cpu: (job) => downsample2x(job.input),
  plan: (job) => {
    const { width: w, height: h, channels } = job.input;
    const width = Math.ceil(w / 2), height = Math.ceil(h / 2);
    return onePass("downsample2x.downsample2x", width * height * channels, { width, height, channels });
  },
  example: (input) => ({ kernel: "downsample2x", input }),
};

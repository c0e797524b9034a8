/**
 * Resampling on an exact output grid, separably per axis: output pixel `o` covers the source interval
 * [from + o·scale, from + (o+1)·scale). Area average (box) on an axis that shrinks (scale > 1), over the
 * part of the interval inside the source (so an image's last, partial pixel averages only real pixels);
 * bilinear at the pixel centre on an axis that enlarges. Any sample type; integer types are rounded half
 * up and clamped. Every tile of a level uses the same grid, so tiles are exact crops of the whole level.
 */
import { arrayTypeFor, type Raster } from "../core/raster.ts";

/** Source pixel indices and weights for each output index along one axis. */
interface AxisWeights {
  start: Int32Array;
  count: Int32Array;
  index: Int32Array;
  weight: Float64Array;
}

function axisWeights(srcLen: number, from: number, scale: number, outLen: number): AxisWeights {
  const start = new Int32Array(outLen), count = new Int32Array(outLen);
  const idx: number[] = [], wts: number[] = [];
  for (let o = 0; o < outLen; o++) {
    start[o] = idx.length;
    if (scale > 1) {
      // Box: overlap of [a, b) with each source pixel [k, k+1).
      const a = from + o * scale, b = from + (o + 1) * scale;
      let total = 0;
      const first = idx.length;
      for (let k = Math.max(0, Math.floor(a)); k < Math.min(srcLen, Math.ceil(b)); k++) {
        const wgt = Math.min(b, k + 1) - Math.max(a, k);
        if (wgt <= 1e-12) continue;
        idx.push(k);
        wts.push(wgt);
        total += wgt;
      }
      for (let i = first; i < idx.length; i++) wts[i] /= total;
    } else {
      // Bilinear at the output pixel's centre.
      let c = from + (o + 0.5) * scale - 0.5;
      c = Math.min(Math.max(c, 0), srcLen - 1);
      const k0 = Math.floor(c), f = c - k0;
      if (f < 1e-12 || k0 + 1 >= srcLen) {
        idx.push(k0);
        wts.push(1);
      } else {
        idx.push(k0, k0 + 1);
        wts.push(1 - f, f);
      }
    }
    count[o] = idx.length - start[o];
  }
  return { start, count, index: Int32Array.from(idx), weight: Float64Array.from(wts) };
}

/**
 * Resamples `src` onto an `outW` × `outH` grid whose pixel (ox, oy) covers
 * [sx + ox·scaleX, sx + (ox+1)·scaleX) × [sy + oy·scaleY, …) in src pixels; keeps the sample type.
 */
export function resample(
  src: Raster,
  sx: number,
  sy: number,
  scaleX: number,
  scaleY: number,
  outW: number,
  outH: number,
): Raster {
  const ch = src.channels;
  // Identity: integer offset, unit scale, inside the source.
  if (
    scaleX === 1 && scaleY === 1 && Number.isInteger(sx) && Number.isInteger(sy) && sx >= 0 && sy >= 0 &&
    sx + outW <= src.width && sy + outH <= src.height
  ) {
    if (sx === 0 && sy === 0 && outW === src.width && outH === src.height) return src;
    const Ctor = arrayTypeFor(src.type);
    const out = new Ctor(outW * outH * ch);
    for (let y = 0; y < outH; y++) {
      const from = ((sy + y) * src.width + sx) * ch;
      out.set(src.data.subarray(from, from + outW * ch) as never, y * outW * ch);
    }
    return { width: outW, height: outH, channels: ch, type: src.type, data: out };
  }
  const wx = axisWeights(src.width, sx, scaleX, outW);
  const wy = axisWeights(src.height, sy, scaleY, outH);
  // Rows of the source that any output row uses.
  let rowMin = src.height, rowMax = -1;
  for (let i = 0; i < wy.index.length; i++) {
    rowMin = Math.min(rowMin, wy.index[i]);
    rowMax = Math.max(rowMax, wy.index[i]);
  }
  const rows = rowMax - rowMin + 1;
  // Horizontal pass into a float buffer of `rows` × outW.
  const tmp = new Float64Array(rows * outW * ch);
  const s = src.data;
  for (let r = 0; r < rows; r++) {
    const srcRow = (rowMin + r) * src.width * ch;
    const tRow = r * outW * ch;
    for (let o = 0; o < outW; o++) {
      const st = wx.start[o], n = wx.count[o];
      for (let c = 0; c < ch; c++) {
        let acc = 0;
        for (let k = 0; k < n; k++) acc += s[srcRow + wx.index[st + k] * ch + c] * wx.weight[st + k];
        tmp[tRow + o * ch + c] = acc;
      }
    }
  }
  // Vertical pass.
  const Ctor = arrayTypeFor(src.type);
  const out = new Ctor(outW * outH * ch);
  const isFloat = src.type === "float32" || src.type === "float64";
  const max = maxOf(src.type), min = minOf(src.type);
  const rowLen = outW * ch;
  for (let o = 0; o < outH; o++) {
    const st = wy.start[o], n = wy.count[o];
    const dst = o * rowLen;
    for (let i = 0; i < rowLen; i++) {
      let acc = 0;
      for (let k = 0; k < n; k++) acc += tmp[(wy.index[st + k] - rowMin) * rowLen + i] * wy.weight[st + k];
      if (isFloat) out[dst + i] = acc;
      else {
        const v = Math.floor(acc + 0.5 + 1e-9);
        out[dst + i] = v < min ? min : v > max ? max : v;
      }
    }
  }
  return { width: outW, height: outH, channels: ch, type: src.type, data: out };
}

function maxOf(t: Raster["type"]): number {
  return { uint8: 255, int8: 127, uint16: 65535, int16: 32767, uint32: 4294967295, int32: 2147483647 }[
    t as "uint8"
  ] ?? Infinity;
}

function minOf(t: Raster["type"]): number {
  return { int8: -128, int16: -32768, int32: -2147483648 }[t as "int8"] ?? 0;
}

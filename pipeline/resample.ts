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
  const rowLen = outW * ch;
  // Horizontal pass row by row, on demand, into a ring of the few rows one output row spans (rows only
  // move forward as output rows do), instead of a float buffer of the whole region.
  let span = 1;
  for (let o = 0; o < outH; o++) {
    const st = wy.start[o], n = wy.count[o];
    if (n > 0) span = Math.max(span, wy.index[st + n - 1] - wy.index[st] + 1);
  }
  const ring = new Float64Array(span * rowLen);
  const ringRow = new Int32Array(span).fill(-1);
  const rowOf = (r: number): number => {
    const slot = r % span, off = slot * rowLen;
    if (ringRow[slot] !== r) {
      ringRow[slot] = r;
      const srcRow = r * src.width * ch;
      if (src.data instanceof Uint8Array) horizontalU8(src.data, srcRow, ch, outW, wx, ring, off);
      else horizontalAny(src.data, srcRow, ch, outW, wx, ring, off);
    }
    return off;
  };
  const Ctor = arrayTypeFor(src.type);
  const out = new Ctor(outW * outH * ch);
  const isFloat = src.type === "float32" || src.type === "float64";
  const min = minOf(src.type), max = maxOf(src.type);
  const acc = new Float64Array(rowLen);
  for (let o = 0; o < outH; o++) {
    const st = wy.start[o], end = st + wy.count[o];
    acc.fill(0);
    for (let k = st; k < end; k++) accumulate(ring, rowOf(wy.index[k]), wy.weight[k], acc);
    if (out instanceof Uint8Array) roundU8(acc, out, o * rowLen);
    else store(acc, out, o * rowLen, isFloat, min, max);
  }
  return { width: outW, height: outH, channels: ch, type: src.type, data: out };
}

type Samples = Raster["data"];

// The horizontal pass is written twice, once for Uint8Array only: V8 then compiles monomorphic element
// access for the common 8-bit case (about 2× faster than the shared loop, which sees every array type).
// Each output sample sums its taps in the same order in both, so the results are the same bits.

/** One source row (starting at sample `srcRow`) resampled along x into `dst` at `off`; 8-bit source. */
function horizontalU8(
  s: Uint8Array,
  srcRow: number,
  ch: number,
  outW: number,
  wx: AxisWeights,
  dst: Float64Array,
  off: number,
): void {
  const { start, count, index, weight } = wx;
  if (ch === 3) {
    for (let o = 0; o < outW; o++) {
      const st = start[o], end = st + count[o];
      let a0 = 0, a1 = 0, a2 = 0;
      for (let k = st; k < end; k++) {
        const i = srcRow + index[k] * 3, w = weight[k];
        a0 += s[i] * w;
        a1 += s[i + 1] * w;
        a2 += s[i + 2] * w;
      }
      const t = off + o * 3;
      dst[t] = a0;
      dst[t + 1] = a1;
      dst[t + 2] = a2;
    }
    return;
  }
  for (let o = 0; o < outW; o++) {
    const st = start[o], end = st + count[o];
    for (let c = 0; c < ch; c++) {
      let a = 0;
      for (let k = st; k < end; k++) a += s[srcRow + index[k] * ch + c] * weight[k];
      dst[off + o * ch + c] = a;
    }
  }
}

/** `horizontalU8` for any sample type. */
function horizontalAny(
  s: Samples,
  srcRow: number,
  ch: number,
  outW: number,
  wx: AxisWeights,
  dst: Float64Array,
  off: number,
): void {
  const { start, count, index, weight } = wx;
  for (let o = 0; o < outW; o++) {
    const st = start[o], end = st + count[o];
    for (let c = 0; c < ch; c++) {
      let a = 0;
      for (let k = st; k < end; k++) a += s[srcRow + index[k] * ch + c] * weight[k];
      dst[off + o * ch + c] = a;
    }
  }
}

/** acc += w · ring[off …]: one tap of the vertical pass over a whole output row. */
function accumulate(ring: Float64Array, off: number, w: number, acc: Float64Array): void {
  for (let i = 0; i < acc.length; i++) acc[i] += ring[off + i] * w;
}

/** An accumulated row rounded half up and clamped into 8-bit samples. */
function roundU8(acc: Float64Array, out: Uint8Array, dst: number): void {
  for (let i = 0; i < acc.length; i++) {
    const v = Math.floor(acc[i] + 0.5 + 1e-9);
    out[dst + i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
}

/** An accumulated row stored as it is (float types) or rounded half up and clamped (integer types). */
function store(acc: Float64Array, out: Samples, dst: number, isFloat: boolean, min: number, max: number): void {
  for (let i = 0; i < acc.length; i++) {
    if (isFloat) out[dst + i] = acc[i];
    else {
      const v = Math.floor(acc[i] + 0.5 + 1e-9);
      out[dst + i] = v < min ? min : v > max ? max : v;
    }
  }
}

function maxOf(t: Raster["type"]): number {
  return { uint8: 255, int8: 127, uint16: 65535, int16: 32767, uint32: 4294967295, int32: 2147483647 }[
    t as "uint8"
  ] ?? Infinity;
}

function minOf(t: Raster["type"]): number {
  return { int8: -128, int16: -32768, int32: -2147483648 }[t as "int8"] ?? 0;
}

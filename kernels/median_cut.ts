/**
 * Median-cut palettes (Heckbert), the one definition behind `quantize&palette=K`:
 * 1. Count the RGB pixels in a 32×32×32 grid of cells (5 bits per channel), with per-cell colour sums.
 * 2. Start from one box: the bounding box of the occupied cells.
 * 3. While there are fewer than K boxes: take the splittable box (more than one cell on some axis) with
 *    the most pixels (ties: the earliest box); cut it across its longest axis (ties: R, then G, then B) at
 *    the first plane where the pixels at or below it reach half the box's pixels (kept so both sides have
 *    cells); shrink both halves to their occupied cells. The lower half keeps the box's place, the upper
 *    half is appended.
 * 4. Each box's colour is the mean of its pixels, rounded half up.
 * Pixels map to the nearest entry by squared RGB distance, ties to the lowest index.
 */
import type { Raster8 } from "../core/raster.ts";

interface Box {
  lo: [number, number, number];
  hi: [number, number, number];
  count: number;
}

/** The palette (RGB triples, at most `k` entries) of an 8-bit raster (gray is R = G = B; alpha ignored). */
export function medianCutPalette(src: Raster8, k: number): Uint8Array {
  const ch = src.channels, n = src.width * src.height;
  const count = new Uint32Array(32768), sum = new Float64Array(32768 * 3);
  for (let i = 0; i < n; i++) {
    const r = src.data[i * ch], g = ch >= 3 ? src.data[i * ch + 1] : r, b = ch >= 3 ? src.data[i * ch + 2] : r;
    const cell = ((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3);
    count[cell]++;
    sum[cell * 3] += r;
    sum[cell * 3 + 1] += g;
    sum[cell * 3 + 2] += b;
  }
  const cellOf = (c: [number, number, number]) => (c[0] << 10) | (c[1] << 5) | c[2];
  const shrink = (lo: number[], hi: number[]): Box | null => {
    const nlo: [number, number, number] = [32, 32, 32], nhi: [number, number, number] = [-1, -1, -1];
    let total = 0;
    for (let r = lo[0]; r <= hi[0]; r++) {
      for (let g = lo[1]; g <= hi[1]; g++) {
        for (let b = lo[2]; b <= hi[2]; b++) {
          const c = count[cellOf([r, g, b])];
          if (!c) continue;
          total += c;
          const p = [r, g, b];
          for (let a = 0; a < 3; a++) {
            nlo[a] = Math.min(nlo[a], p[a]);
            nhi[a] = Math.max(nhi[a], p[a]);
          }
        }
      }
    }
    return total ? { lo: nlo, hi: nhi, count: total } : null;
  };
  const first = shrink([0, 0, 0], [31, 31, 31]);
  if (!first) return new Uint8Array(0);
  const boxes: Box[] = [first];
  while (boxes.length < k) {
    let pick = -1;
    for (let i = 0; i < boxes.length; i++) {
      const b = boxes[i];
      const splittable = b.hi[0] > b.lo[0] || b.hi[1] > b.lo[1] || b.hi[2] > b.lo[2];
      if (splittable && (pick < 0 || b.count > boxes[pick].count)) pick = i;
    }
    if (pick < 0) break;
    const box = boxes[pick];
    const len = [0, 1, 2].map((a) => box.hi[a] - box.lo[a]);
    const axis = len[0] >= len[1] && len[0] >= len[2] ? 0 : len[1] >= len[2] ? 1 : 2;
    // Pixels per plane along the axis.
    const planes = new Float64Array(32);
    for (let r = box.lo[0]; r <= box.hi[0]; r++) {
      for (let g = box.lo[1]; g <= box.hi[1]; g++) {
        for (let b = box.lo[2]; b <= box.hi[2]; b++) planes[[r, g, b][axis]] += count[cellOf([r, g, b])];
      }
    }
    let cut = box.lo[axis], acc = planes[cut];
    while (cut < box.hi[axis] - 1 && acc < box.count / 2) acc += planes[++cut];
    const loHi = [...box.hi], hiLo = [...box.lo];
    loHi[axis] = cut;
    hiLo[axis] = cut + 1;
    const lower = shrink(box.lo, loHi), upper = shrink(hiLo, box.hi);
    boxes[pick] = lower!;
    boxes.push(upper!);
  }
  const palette = new Uint8Array(boxes.length * 3);
  boxes.forEach((box, i) => {
    const s = [0, 0, 0];
    for (let r = box.lo[0]; r <= box.hi[0]; r++) {
      for (let g = box.lo[1]; g <= box.hi[1]; g++) {
        for (let b = box.lo[2]; b <= box.hi[2]; b++) {
          const c = cellOf([r, g, b]);
          s[0] += sum[c * 3];
          s[1] += sum[c * 3 + 1];
          s[2] += sum[c * 3 + 2];
        }
      }
    }
    for (let a = 0; a < 3; a++) palette[i * 3 + a] = Math.floor(s[a] / box.count + 0.5);
  });
  return palette;
}

/** Index of the nearest palette entry for every pixel (squared RGB distance, ties to the lowest index). */
export function mapToPalette(src: Raster8, palette: Uint8Array): Raster8 {
  const ch = src.channels, n = src.width * src.height, k = palette.length / 3;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = src.data[i * ch], g = ch >= 3 ? src.data[i * ch + 1] : r, b = ch >= 3 ? src.data[i * ch + 2] : r;
    let best = 0, bestD = Infinity;
    for (let j = 0; j < k; j++) {
      const dr = r - palette[j * 3], dg = g - palette[j * 3 + 1], db = b - palette[j * 3 + 2];
      const d = dr * dr + dg * dg + db * db;
      if (d < bestD) {
        bestD = d;
        best = j;
      }
    }
    out[i] = best;
  }
  return { width: src.width, height: src.height, channels: 1, type: "uint8", data: out };
}

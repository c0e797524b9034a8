/**
 * The tissue listing's geometry (pure): a grid of `size` output pixels at `downsample` (a power of two, or
 * any ratio ≥ 1 of a physical scale), stepping by `stride`, from the image origin, in level-0 pixels and
 * clipped to the image. Cell i starts at ⌊i·stride·downsample⌋ (whole level-0 pixels, the same as i·step
 * for a power of two) and spans size·downsample level-0 pixels, fractional or not; each cell's
 * tissue fraction is the tissue share of the tissue map inside its footprint, by area (map pixels cut by
 * the footprint count by the part inside).
 */
import { yieldToEventLoop } from "../core/yield.ts";

/** One grid cell: footprint in level-0 pixels and its tissue fraction. */
export interface TissueCell {
  x: number;
  y: number;
  w: number;
  h: number;
  tissue: number;
}

/** Grid parameters. */
export interface TissueGridParams {
  downsample: number;
  size: number;
  stride: number;
}

/** Area integrals of a binary map (255 = tissue) at fractional map coordinates. */
export class TissueIntegral {
  #sat: Float64Array;
  constructor(readonly map: Uint8Array, readonly width: number, readonly height: number) {
    const sat = new Float64Array((width + 1) * (height + 1));
    for (let y = 0; y < height; y++) {
      let row = 0;
      for (let x = 0; x < width; x++) {
        row += map[y * width + x] ? 1 : 0;
        sat[(y + 1) * (width + 1) + x + 1] = sat[y * (width + 1) + x + 1] + row;
      }
    }
    this.#sat = sat;
  }

  #s(i: number, j: number): number {
    return this.#sat[j * (this.width + 1) + i];
  }

  /** Tissue area in [0, u) × [0, v) (map pixels², fractional coordinates). */
  integral(u: number, v: number): number {
    u = Math.min(Math.max(u, 0), this.width);
    v = Math.min(Math.max(v, 0), this.height);
    const i = Math.min(Math.floor(u), this.width - 1), j = Math.min(Math.floor(v), this.height - 1);
    const fu = u - i, fv = v - j;
    const base = this.#s(i, j);
    const col = this.#s(i + 1, j) - base; // cells of column i above row j
    const row = this.#s(i, j + 1) - base; // cells of row j left of column i
    const cell = this.#s(i + 1, j + 1) - this.#s(i, j + 1) - this.#s(i + 1, j) + base;
    return base + fu * col + fv * row + fu * fv * cell;
  }

  /** Tissue share of the rectangle [u0, u1) × [v0, v1) (map coordinates). */
  fraction(u0: number, v0: number, u1: number, v1: number): number {
    const area = (u1 - u0) * (v1 - v0);
    if (area <= 0) return 0;
    const t = this.integral(u1, v1) - this.integral(u0, v1) - this.integral(u1, v0) + this.integral(u0, v0);
    return Math.min(1, Math.max(0, t / area));
  }
}

/** Every grid cell of a `width` × `height` image, row-major, with its tissue fraction. */
export function* tissueGrid(
  width: number,
  height: number,
  integral: TissueIntegral,
  p: TissueGridParams,
): Generator<TissueCell> {
  const span = p.size * p.downsample, step = p.stride * p.downsample;
  // Level-0 → map coordinates.
  const mx = integral.width / width, my = integral.height / height;
  const cols = Math.ceil(width / step), rows = Math.ceil(height / step);
  for (let j = 0; j < rows; j++) {
    const y = Math.floor(j * step + 1e-9);
    for (let i = 0; i < cols; i++) {
      const x = Math.floor(i * step + 1e-9);
      const w = Math.min(span, width - x), h = Math.min(span, height - y);
      const tissue = integral.fraction(x * mx, y * my, (x + w) * mx, (y + h) * my);
      yield { x, y, w, h, tissue: Math.round(tissue * 1e6) / 1e6 };
    }
  }
}

/** Most grid cells a listing or an export may walk (400 past it: raise size, stride or downsample). */
export const MAX_GRID_CELLS = 4_000_000;
/** Cells walked between yields to the event loop (a few ms of work at most). */
const CELLS_PER_SLICE = 8192;

/** The number of cells of the grid (without walking it). */
export function gridCellCount(width: number, height: number, p: TissueGridParams): number {
  const step = p.stride * p.downsample;
  return Math.ceil(width / step) * Math.ceil(height / step);
}

/**
 * The cells with tissue ≥ `min`, row-major, walked lazily and in slices: it pauses for the event loop
 * every few thousand cells, so a 4-million-cell grid never blocks the thread, and it stops when `signal`
 * aborts or the consumer stops.
 */
export async function* tissueCells(
  width: number,
  height: number,
  integral: TissueIntegral,
  p: TissueGridParams & { min: number },
  signal?: AbortSignal,
): AsyncGenerator<TissueCell> {
  let walked = 0;
  for (const cell of tissueGrid(width, height, integral, p)) {
    if (++walked % CELLS_PER_SLICE === 0) {
      await yieldToEventLoop();
      if (signal?.aborted) return;
    }
    if (cell.tissue >= p.min) yield cell;
  }
}

/** Counts the cells with tissue ≥ `min` (in slices, as `tissueCells`), stopping early past `limit`. */
export async function countTissueCells(
  width: number,
  height: number,
  integral: TissueIntegral,
  p: TissueGridParams & { min: number },
  limit = Infinity,
  signal?: AbortSignal,
): Promise<number> {
  let n = 0;
  for await (const _ of tissueCells(width, height, integral, p, signal)) if (++n > limit) break;
  return n;
}

const integrals = new WeakMap<Uint8Array, TissueIntegral>();

/** The area integrals of a tissue map, built once per map (a map's integral is up to 32 MiB). */
export function tissueIntegralOf(map: Uint8Array, width: number, height: number): TissueIntegral {
  let integral = integrals.get(map);
  if (!integral) integrals.set(map, integral = new TissueIntegral(map, width, height));
  return integral;
}

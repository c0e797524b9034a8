/**
 * Whole-slide patch export: every grid cell of the tissue listing whose tissue fraction ≥ min, rendered by
 * the one pipeline (any op, PNG/JPEG/npy) at `size` × `size` output pixels, in row-major order. Patches
 * are computed in parallel on the backend with at most `window` in flight, and produced only as fast as
 * the consumer takes them (HTTP backpressure, or the CLI's writes); when the consumer stops, no more are
 * started. Shared by `GET /images/{id}/patches.tar|ndjson` and `deno task extract`.
 */
import { requestRender, type ResolvedRender, resolveRender } from "../kernels/render.ts";
import { tensorFor } from "../pipeline/raw_tensor.ts";
import type { ImageRegistry, ResolvedImage } from "../sources/registry.ts";
import type { StatsService } from "../stats/service.ts";
import type { TileBackend } from "../workers/backend.ts";
import { opLabel, resolveOpSpec } from "../kernels/index.ts";
import { canonicalOp, type OpSpec, type TileFormat, type TileRequest } from "../pipeline/tile_request.ts";
import { tileRequestOf } from "../service/tile_service.ts";
import type { TensorSpec } from "../pipeline/tensor.ts";
import {
  countTissueCells,
  gridCellCount,
  MAX_GRID_CELLS,
  type TissueCell,
  tissueCells,
  type TissueIntegral,
  tissueIntegralOf,
} from "../stats/tissue_grid.ts";
import { badRequest } from "../errors.ts";

/** What to export. */
export interface PatchParams {
  downsample: number;
  size: number;
  stride: number;
  min: number;
  format: TileFormat;
  op: OpSpec;
  quality: number;
  tensor?: TensorSpec;
  /** The query's render parameters (c, color, window, …), parsed against the image when the export is planned. */
  renderQuery?: string;
}

/** One line of the manifest. */
export interface PatchEntry {
  file: string;
  x: number;
  y: number;
  w: number;
  h: number;
  tissue: number;
  op: string;
  [key: string]: unknown;
}

/** One exported patch. */
export interface Patch {
  entry: PatchEntry;
  bytes: Uint8Array;
}

/** Counters of an export (for tests, progress and metrics). */
export interface PatchProgress {
  total: number;
  started: number;
  done: number;
  maxInFlight: number;
}

const EXT: Record<TileFormat, string> = { jpeg: "jpg", png: "png", webp: "webp", npy: "npy", zarr: "bin" };

/** Most patches one export may hold (its manifest is kept to the end of a tar: ≤ ~40 MB). */
export const MAX_PATCHES = 200_000;

/** What an export will do, checked before anything is streamed. */
export interface PatchPlan {
  image: ResolvedImage;
  op: OpSpec;
  /** The render step of every patch (windows resolved), for images rendered or render parameters given. */
  render?: ResolvedRender;
  integral: TissueIntegral;
  /** Patches the export will hold. */
  total: number;
}

/**
 * Resolves the image, its statistics and the op, and checks the export before it starts: 400 past
 * `MAX_GRID_CELLS` grid cells or `MAX_PATCHES` patches, 413 when one patch's samples exceed
 * `MAX_OUTPUT_BYTES`. Counting walks the grid lazily, in slices (the thread is never blocked for long).
 */
export async function planPatchExport(
  ctx: { registry: ImageRegistry; stats: StatsService },
  id: string,
  p: PatchParams,
  signal?: AbortSignal,
): Promise<PatchPlan> {
  const image = await ctx.registry.resolve(id);
  const { width, height } = image.info;
  const cells = gridCellCount(width, height, p);
  if (cells > MAX_GRID_CELLS) {
    throw badRequest(
      `the grid has ${cells} cells, more than ${MAX_GRID_CELLS}: raise size, stride or downsample`,
    );
  }
  const { render: spec, op: renderedOp } = requestRender(new URLSearchParams(p.renderQuery ?? ""), image.info, p.op);
  p.op = renderedOp;
  const plane = spec ? { z: spec.z, t: spec.t } : undefined;
  const computed = await ctx.stats.get(image.source, plane);
  const render = spec ? resolveRender(spec, computed.stats.percentiles) : undefined;
  if (p.tensor) p.tensor = tensorFor(p.tensor, !!render && p.op.name === "none");
  patchRequest(image, p.op, p, { x: 0, y: 0 }, render); // 413 now when one patch is too large
  const op = await resolveOpSpec(p.op, ctx.stats.provider(image.source, plane));
  const { tissue } = computed.stats;
  const integral = tissueIntegralOf(computed.tissueMap, tissue.width, tissue.height);
  const total = await countTissueCells(width, height, integral, p, MAX_PATCHES, signal);
  if (total > MAX_PATCHES) {
    throw badRequest(`the export has more than ${MAX_PATCHES} patches: raise min, size, stride or downsample`);
  }
  return { image, op, integral, total, ...(render ? { render } : {}) };
}

/** The request of the patch at level-0 (`x`, `y`); 413 when its output is too large. */
function patchRequest(
  image: ResolvedImage,
  op: OpSpec,
  p: PatchParams,
  at: { x: number; y: number },
  render?: ResolvedRender,
): TileRequest {
  const span = p.size * p.downsample;
  const region = { x: at.x, y: at.y, w: span, h: span };
  return tileRequestOf(
    {
      image,
      region,
      outWidth: p.size,
      outHeight: p.size,
      format: p.format,
      op,
      quality: p.quality,
      tensor: p.tensor,
    },
    op,
    render,
  );
}

/**
 * The patches of a planned export, in row-major order, computed `window` at a time; the grid is walked
 * lazily (never held whole).
 */
export async function* exportPatches(
  ctx: { backend: TileBackend },
  plan: PatchPlan,
  p: PatchParams,
  progress: PatchProgress = { total: 0, started: 0, done: 0, maxInFlight: 0 },
  window = 8,
  signal?: AbortSignal,
): AsyncGenerator<Patch> {
  const { image, op, render: rendering } = plan;
  const { width, height } = image.info;
  const cells = tissueCells(width, height, plan.integral, p, signal);
  progress.total = plan.total;
  let inFlight = 0;
  const render = (c: TissueCell): Promise<Patch> => {
    const request = patchRequest(image, op, p, c, rendering);
    progress.started++;
    inFlight++;
    progress.maxInFlight = Math.max(progress.maxInFlight, inFlight);
    const patch = ctx.backend.run(image.source, { kind: "tile", request }, signal).then((tile) => {
      inFlight--;
      progress.done++;
      const entry: PatchEntry = {
        file: `${c.x}_${c.y}.${EXT[p.format]}`,
        x: c.x,
        y: c.y,
        w: c.w,
        h: c.h,
        tissue: c.tissue,
        op: canonicalOp(opLabel(op)),
      };
      if (tile.headers?.["X-Quant-Scale"]) {
        entry.quantScale = tile.headers["X-Quant-Scale"].split(",").map(Number);
        entry.quantZeroPoint = tile.headers["X-Quant-Zero-Point"].split(",").map(Number);
        entry.sqnrDb = Number(tile.headers["X-Quant-SQNR"]);
      }
      return { entry, bytes: tile.bytes };
    }, (err) => {
      inFlight--;
      throw err;
    });
    // Marked handled now: a consumer that goes away without finishing this generator (a client that left
    // before its body was read) leaves patches in flight whose rejection (cancelled) nobody awaits.
    patch.catch(() => {});
    return patch;
  };
  const queue: Promise<Patch>[] = [];
  const nextCell = async () => {
    const n = await cells.next();
    return n.done ? null : n.value;
  };
  try {
    for (let c; queue.length < window && (c = await nextCell());) queue.push(render(c));
    while (queue.length > 0) {
      const patch = await queue.shift()!;
      const c = await nextCell();
      if (c) queue.push(render(c));
      yield patch;
    }
  } finally {
    // The consumer stopped (or an error): nothing more is started; the few in flight finish unobserved.
    for (const q of queue) q.catch(() => {});
    await cells.return(undefined);
  }
}

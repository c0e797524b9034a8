/**
 * Whole-slide patch export: every grid cell of the tissue listing whose tissue fraction ≥ min, rendered by
 * the one pipeline (any op, PNG/JPEG/npy) at `size` × `size` output pixels, in row-major order. Patches
 * are computed in parallel on the backend with at most `window` in flight, and produced only as fast as
 * the consumer takes them (HTTP backpressure, or the CLI's writes); when the consumer stops, no more are
 * started. Shared by `GET /images/{id}/patches.tar|ndjson` and `deno task extract`.
 */
import type { AppContext } from "../routes/context.ts";
import { resolveOpSpec } from "../kernels/index.ts";
import { canonicalOp, type OpSpec, type TileFormat, type TileRequest } from "../pipeline/tile_request.ts";
import type { TensorSpec } from "../pipeline/tensor.ts";
import { tissueGrid, TissueIntegral } from "../stats/tissue_grid.ts";

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

const EXT: Record<TileFormat, string> = { jpeg: "jpg", png: "png", webp: "webp", npy: "npy" };

/** The patches of image `id`, in row-major order, computed `window` at a time. */
export async function* exportPatches(
  ctx: Pick<AppContext, "registry" | "stats" | "backend">,
  id: string,
  p: PatchParams,
  progress: PatchProgress = { total: 0, started: 0, done: 0, maxInFlight: 0 },
  window = 8,
): AsyncGenerator<Patch> {
  const image = await ctx.registry.resolve(id);
  const computed = await ctx.stats.get(image.source);
  const op = await resolveOpSpec(p.op, ctx.stats.provider(image.source));
  const { width, height } = image.info;
  const integral = new TissueIntegral(computed.tissueMap, computed.stats.tissue.width, computed.stats.tissue.height);
  const cells = [...tissueGrid(width, height, integral, p)].filter((c) => c.tissue >= p.min);
  progress.total = cells.length;
  const span = p.size * p.downsample;
  let inFlight = 0;
  const render = (i: number): Promise<Patch> => {
    const c = cells[i];
    const request: TileRequest = {
      image: image.id,
      version: image.source.version,
      region: { x: c.x, y: c.y, w: span, h: span },
      outWidth: p.size,
      outHeight: p.size,
      op,
      format: p.format,
      quality: p.format === "jpeg" || p.format === "webp" ? p.quality : 0,
      ...(p.tensor ? { tensor: p.tensor } : {}),
    };
    progress.started++;
    inFlight++;
    progress.maxInFlight = Math.max(progress.maxInFlight, inFlight);
    return ctx.backend.run(image.source, { kind: "tile", request }).then((tile) => {
      inFlight--;
      progress.done++;
      const entry: PatchEntry = {
        file: `${c.x}_${c.y}.${EXT[p.format]}`,
        x: c.x,
        y: c.y,
        w: c.w,
        h: c.h,
        tissue: c.tissue,
        op: canonicalOp({
          name: op.name,
          params: Object.fromEntries(Object.entries(op.params).filter(([k]) => k !== "colors")),
        }),
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
  };
  const queue: Promise<Patch>[] = [];
  let next = 0;
  try {
    while (queue.length < window && next < cells.length) queue.push(render(next++));
    while (queue.length > 0) {
      const patch = await queue.shift()!;
      if (next < cells.length) queue.push(render(next++));
      yield patch;
    }
  } finally {
    // The consumer stopped (or an error): nothing more is started; the few in flight finish unobserved.
    for (const q of queue) q.catch(() => {});
  }
}

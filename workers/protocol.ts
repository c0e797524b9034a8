/** Messages between the backends and `tile_worker.ts`: a task on a source, and its result. */
import type { SourceDescriptor } from "../sources/open.ts";
import type { TileRequest } from "../pipeline/tile_request.ts";
import type { ErrorShape } from "../errors.ts";
import type { RenderedTile } from "../pipeline/render.ts";
import type { ComputedStats } from "../stats/types.ts";

/** Work a backend can do on an image. */
export type Task =
  | { kind: "tile"; request: TileRequest }
  | { kind: "stats" }
  | { kind: "palette"; k: number; rescale?: string };

/** The result type of each task kind. */
export interface TaskResults {
  tile: RenderedTile;
  stats: ComputedStats;
  palette: Uint8Array;
}

/** A job: which source, which task. */
export interface WorkerJob {
  id: number;
  source: SourceDescriptor;
  task: Task;
}

/** The answer to a job: its result, or an error. */
export type WorkerReply =
  | { id: number; ok: true; result: TaskResults[Task["kind"]] }
  | { id: number; ok: false; error: ErrorShape };

/** Messages between `WorkerPool` and `tile_worker.ts`. */
import type { SourceDescriptor } from "../sources/open.ts";
import type { TileRequest } from "../pipeline/tile_request.ts";
import type { ErrorShape } from "../errors.ts";

/** A job: which source, which tile. */
export interface WorkerJob {
  id: number;
  source: SourceDescriptor;
  request: TileRequest;
}

/** The answer to a job: the encoded tile, or an error. */
export type WorkerReply =
  | {
    id: number;
    ok: true;
    bytes: Uint8Array;
    contentType: string;
    resolved?: Record<string, string | number>;
    timings: Record<string, number>;
  }
  | { id: number; ok: false; error: ErrorShape };

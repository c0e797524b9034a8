/**
 * Compute backends: where the pipeline runs. `workers` runs it in a pool of module workers; `inline`
 * runs it on the calling thread (Deno Deploy has no `Worker`). Both take plain data and return bytes.
 */
import type { SourceDescriptor } from "../sources/open.ts";
import type { TileRequest } from "../pipeline/tile_request.ts";
import type { RenderedTile } from "../pipeline/render.ts";
import { renderTile } from "../pipeline/render.ts";
import { SourceCache } from "../sources/source_cache.ts";
import { HttpError, toHttpError } from "../errors.ts";

/** A backend that computes tiles. */
export interface TileBackend {
  readonly name: "workers" | "inline";
  render(source: SourceDescriptor, request: TileRequest): Promise<RenderedTile>;
  /** Jobs waiting or running. */
  readonly pending: number;
  close(): Promise<void>;
}

/** Runs the pipeline on this thread, with its own open-source cache. */
export class InlineBackend implements TileBackend {
  readonly name = "inline";
  #pending = 0;
  constructor(private sources = new SourceCache()) {}

  get pending(): number {
    return this.#pending;
  }

  async render(source: SourceDescriptor, request: TileRequest): Promise<RenderedTile> {
    this.#pending++;
    try {
      const s = await this.sources.get(source);
      return await renderTile(s, request);
    } catch (err) {
      if (!(err instanceof HttpError)) console.error("inline backend: unexpected error:", err);
      throw toHttpError(err, "source");
    } finally {
      this.#pending--;
    }
  }

  close(): Promise<void> {
    return this.sources.close();
  }
}

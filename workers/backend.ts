/**
 * Compute backends: where the pipeline runs. `workers` runs tasks in a pool of module workers; `inline`
 * runs them on the calling thread (where there is no `Worker`). Both take plain data and return results.
 */
import type { SourceDescriptor } from "../sources/open.ts";
import { SourceCache } from "../sources/source_cache.ts";
import { HttpError, toHttpError } from "../errors.ts";
import type { Task, TaskResults } from "./protocol.ts";
import { runTask } from "./tasks.ts";
import { errorText, log } from "../telemetry/log.ts";

/** A backend that runs tasks (tiles, statistics, palettes) on images. */
export interface TileBackend {
  readonly name: "workers" | "inline" | "webgpu";
  /**
   * Runs a task; `source` may be undefined for tasks that carry their input (`SOURCELESS_TASKS`). When
   * `signal` aborts before the task starts, it is dropped (rejected with 499 `cancelled`). Tasks given the
   * same `affinity` run on the same worker (number `affinity` modulo the pool's size), where they share its
   * decoded blocks; without one a task goes to the least busy worker.
   */
  run<K extends Task["kind"]>(
    source: SourceDescriptor | undefined,
    task: Extract<Task, { kind: K }>,
    signal?: AbortSignal,
    affinity?: number,
  ): Promise<TaskResults[K]>;
  /** Jobs waiting or running. */
  readonly pending: number;
  close(): Promise<void>;
}

/** Runs tasks on this thread, with its own open-source cache. */
export class InlineBackend implements TileBackend {
  readonly name = "inline";
  #pending = 0;
  constructor(private sources = new SourceCache()) {}

  get pending(): number {
    return this.#pending;
  }

  async run<K extends Task["kind"]>(
    source: SourceDescriptor | undefined,
    task: Extract<Task, { kind: K }>,
    signal?: AbortSignal,
  ): Promise<TaskResults[K]> {
    if (signal?.aborted) throw new HttpError(499, "cancelled", "the request was abandoned");
    this.#pending++;
    try {
      return await runTask(this.sources, source, task) as TaskResults[K];
    } catch (err) {
      // Readers report their own failures (422, sources/source_cache.ts); anything else is a bug: 500.
      if (!(err instanceof HttpError)) log().error("inline backend: unexpected error", { error: errorText(err) });
      throw toHttpError(err);
    } finally {
      this.#pending--;
    }
  }

  close(): Promise<void> {
    return this.sources.close();
  }
}

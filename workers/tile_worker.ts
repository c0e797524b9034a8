/**
 * Worker entry: runs tasks (tiles, image statistics, palettes) posted by `WorkerPool` and transfers the
 * result buffers back. `onmessage` is set before any top-level await, so no early message is lost.
 */
/// <reference lib="deno.worker" />
import type { WorkerInit, WorkerJob, WorkerReply } from "./protocol.ts";
import { initCodecs } from "../codecs/tier.ts";
import { joinProcessBudget, SharedBudget } from "../cache/budget.ts";
import { runTask, transferablesOf } from "./tasks.ts";
import { SourceCache } from "../sources/source_cache.ts";
import { HttpError, toErrorShape, toHttpError } from "../errors.ts";

const sources = new SourceCache();

self.onmessage = async (e: MessageEvent<WorkerJob | WorkerInit | { sabotage: "crash" | "hang" }>) => {
  if ("init" in e.data) {
    const budget = e.data.init.budget;
    if (budget) joinProcessBudget(new SharedBudget(budget.buffer), budget.thread);
    // The main thread loaded the same library with the same permissions, so this cannot fail in practice;
    // if it did, the worker would still answer (WASM), and say so.
    try {
      initCodecs(e.data.init.codecs);
    } catch (err) {
      console.error(`tile worker: codecs ${e.data.init.codecs} unavailable (${(err as Error).message}); using wasm`);
      initCodecs("wasm");
    }
    return;
  }
  // Test hook for the pool's self-healing (only the pool can post here): crash or hang this worker.
  if ("sabotage" in e.data) {
    if (e.data.sabotage === "crash") {
      setTimeout(() => {
        throw new Error("sabotaged");
      });
    } else while (true) { /* hang */ }
    return;
  }
  const { id, source, task } = e.data;
  try {
    const result = await runTask(sources, source, task);
    const reply: WorkerReply = { id, ok: true, result };
    self.postMessage(reply, transferablesOf(result));
  } catch (err) {
    if (!(err instanceof HttpError)) console.error("tile worker: unexpected error:", err);
    const reply: WorkerReply = { id, ok: false, error: toErrorShape(toHttpError(err, "source")) };
    self.postMessage(reply);
  }
};

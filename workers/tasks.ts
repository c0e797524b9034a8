/** Runs one task on a source: the single code path behind the worker and the inline backend. */
import { renderTile } from "../pipeline/render.ts";
import { computePalette, computeStats } from "../stats/compute.ts";
import type { SourceDescriptor } from "../sources/open.ts";
import type { SourceCache } from "../sources/source_cache.ts";
import type { Task, TaskResults } from "./protocol.ts";

/** The result of `task` on the source `d` (opened through `sources`). */
export async function runTask(
  sources: SourceCache,
  d: SourceDescriptor,
  task: Task,
): Promise<TaskResults[Task["kind"]]> {
  const source = await sources.get(d);
  switch (task.kind) {
    case "tile":
      return await renderTile(source, task.request);
    case "stats":
      return await computeStats(source);
    case "palette":
      return await computePalette(source, task.k, task.rescale);
  }
}

/** The buffers of a result that can be transferred instead of copied. */
export function transferablesOf(result: TaskResults[Task["kind"]]): ArrayBuffer[] {
  const whole = (a: Uint8Array) => a.byteOffset === 0 && a.byteLength === a.buffer.byteLength;
  const list: Uint8Array[] = result instanceof Uint8Array
    ? [result]
    : "bytes" in result
    ? [result.bytes]
    : [result.tissueMap, result.tissuePng];
  return list.filter(whole).map((a) => a.buffer as ArrayBuffer);
}

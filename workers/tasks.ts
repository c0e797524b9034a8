/** Runs one task: the single code path behind the worker and the inline backend. */
import { finishTile, prepareTile, renderTile } from "../pipeline/render.ts";
import { computePalette, computeStats, finishStats, prepareStats } from "../stats/compute.ts";
import { ownsBuffer } from "../core/lease.ts";
import { runOnCpu } from "../kernels/index.ts";
import type { SourceDescriptor } from "../sources/open.ts";
import type { SourceCache } from "../sources/source_cache.ts";
import type { Task, TaskResults } from "./protocol.ts";

/** The result of `task`, on the source `d` (opened through `sources`) where the task needs one. */
export async function runTask(
  sources: SourceCache,
  d: SourceDescriptor | undefined,
  task: Task,
): Promise<TaskResults[Task["kind"]]> {
  switch (task.kind) {
    case "tile-finish":
      return await finishTile(sources.runtime, task.request, task.stage, task.output);
    case "kernel":
      return runOnCpu(task.job);
    case "stats-finish":
      return finishStats(task.input, task.kernels);
  }
  if (!d) throw new Error(`a ${task.kind} task needs a source`);
  const source = await sources.get(d);
  switch (task.kind) {
    case "tile":
      return await renderTile(source, task.request);
    case "tile-input":
      return await prepareTile(source, task.request, task.deferBlend);
    case "stats":
      return await computeStats(source, task.plane);
    case "stats-input":
      return await prepareStats(source, task.plane);
    case "palette":
      return await computePalette(source, task.k, task.rescale);
  }
}

/** The buffers of a result that can be transferred instead of copied. */
export function transferablesOf(result: TaskResults[Task["kind"]]): ArrayBuffer[] {
  const whole = (a: ArrayBufferView) => a.byteOffset === 0 && a.byteLength === a.buffer.byteLength;
  const list: ArrayBufferView[] = ArrayBuffer.isView(result)
    ? [result]
    : "bytes" in result
    ? [result.bytes]
    : "tile" in result
    ? [result.tile.bytes]
    : "stage" in result
    // The op input may be a source's cached pixels (a flat image read whole, a cached block): copied unless
    // made for this tile alone (a render's intensities or RGB, a region read for it alone), then transferred.
    ? (ownsBuffer(result.stage.input) ? [result.stage.input.data] : [])
    : "px" in result
    ? []
    : "data" in result
    ? [result.data]
    : [result.tissueMap, result.tissuePng];
  return list.filter(whole).map((a) => a.buffer as ArrayBuffer);
}

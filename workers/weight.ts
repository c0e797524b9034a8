/**
 * How much memory a task may hold at its peak, estimated from the task alone: the pool admits large work by
 * these bytes (not only by the number of jobs), and recycles workers that did large work once idle. An
 * estimate, kept on the high side: a 4000² IIIF image of a 4-channel render holds its read, its intensity
 * planes, RGB, the op's output and the encoder's buffers at once.
 */
import type { Task } from "./protocol.ts";

/** Bytes from which a task is large: admitted against the pool's large-work budget (a 1024² output). */
export const LARGE_TASK_BYTES = 16 << 20;

/** A statistics task reads its stats level (longer side ≤ 2048) and computes its planes. */
const STATS_TASK_BYTES = 2048 * 2048 * 16;

/** The estimated peak bytes of `task`. */
export function taskWeight(task: Task): number {
  switch (task.kind) {
    case "tile":
    case "tile-input": {
      const r = task.request;
      // Samples an output pixel holds (a render: its intensity planes and RGB; else up to RGBA), twice (the op's
      // input and output), and the read and encoder behind them (~8 bytes a pixel).
      const perPixel = r.render ? r.render.c.length + 3 : 4;
      return r.outWidth * r.outHeight * (2 * perPixel + 8);
    }
    case "stats":
    case "stats-input":
    case "palette":
      return STATS_TASK_BYTES;
    default:
      return 0; // sourceless steps carry their input, already counted by the task that made it
  }
}

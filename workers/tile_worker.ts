/**
 * Worker entry: runs tasks (tiles, image statistics, palettes) posted by `WorkerPool` and transfers the
 * result buffers back. `onmessage` is set before any top-level await, so no early message is lost.
 */
/// <reference lib="deno.worker" />
import { HEARTBEAT_MS, type WorkerCancel, type WorkerInit, type WorkerJob, type WorkerReply } from "./protocol.ts";
import { chooseCodec } from "../codecs/tier.ts";
import { createRuntime } from "../cache/runtime.ts";
import { runTask, transferablesOf } from "./tasks.ts";
import { SourceCache } from "../sources/source_cache.ts";
import { HttpError, toErrorShape, toHttpError } from "../errors.ts";
import { configureLog, errorText, log } from "../telemetry/log.ts";
import { yieldToEventLoop } from "../core/yield.ts";

/** This worker's open sources, with its runtime (made at the init message, which comes before any job). */
let sources = new SourceCache();
/** Jobs received and waiting for their turn, and those of them cancelled meanwhile (ids). */
const waiting = new Set<number>();
const cancelled = new Set<number>();

// The heartbeat: it stops when a job blocks this thread (a hung decoder), which is how the pool tells a
// hung worker from a busy one: a job's time waiting in queues never counts.
setInterval(() => {
  const { heapTotal, heapUsed, external } = Deno.memoryUsage();
  self.postMessage({ alive: true, memory: { heapTotal, heapUsed, external } } satisfies WorkerReply);
}, HEARTBEAT_MS);

/** Set by the pool's test hook: the next job's arrival crashes this worker, or starts endless async work. */
let crashOnNextJob = false;
let runawayOnNextJob = false;

/**
 * The "runaway" test hook's job: async work that never ends and holds 512 MiB (allocated and written in
 * 16 MiB steps), as a read looping over a million blocks did; the heartbeat goes on all the while.
 */
async function runaway(): Promise<never> {
  const held: Uint8Array[] = [];
  while (true) {
    if (held.length < 32) held.push(new Uint8Array(16 << 20).fill(1));
    await new Promise((r) => setTimeout(r, 10));
  }
}

self.onmessage = async (
  e: MessageEvent<WorkerJob | WorkerInit | WorkerCancel | { sabotage: "crash" | "hang" | "runaway" }>,
) => {
  if ("cancel" in e.data) {
    // A job's message always arrives before its cancel: one not waiting has started (it runs to its end).
    if (waiting.has(e.data.cancel)) cancelled.add(e.data.cancel);
    return;
  }
  if ("init" in e.data) {
    configureLog(e.data.init.log.level, e.data.init.log.format);
    const { budget, caches, codecs } = e.data.init;
    // The main thread loaded the same library with the same permissions, so this cannot fail in practice;
    // if it did, the worker would still answer (WASM), and say so.
    let codec;
    try {
      codec = chooseCodec(codecs);
    } catch (err) {
      log().error(`tile worker: codecs ${codecs} unavailable (${(err as Error).message}); using wasm`);
      codec = chooseCodec("wasm");
    }
    sources = new SourceCache(createRuntime({ codecs: codec, caches, ...(budget ? { budget } : {}) }));
    return;
  }
  // Test hook for the pool's self-healing (only the pool can post here): hang this worker now, or crash it with
  // the next job in hand (so the crash always finds work to retry, however fast the jobs are).
  if ("sabotage" in e.data) {
    if (e.data.sabotage === "crash") crashOnNextJob = true;
    else if (e.data.sabotage === "runaway") runawayOnNextJob = true;
    else while (true) { /* hang */ }
    return;
  }
  if (crashOnNextJob) {
    // An uncaught error, as a bug would throw; this job and any after it are left to the pool to retry.
    setTimeout(() => {
      throw new Error("sabotaged");
    });
    return;
  }
  if (runawayOnNextJob) {
    runawayOnNextJob = false;
    await runaway();
  }
  const { id, source, task } = e.data;
  // A turn of the event loop before each job: the heartbeat gets out between jobs (jobs whose awaits
  // resolve at once would otherwise run back to back as one long task), and so do later cancel messages.
  waiting.add(id);
  await yieldToEventLoop();
  waiting.delete(id);
  if (cancelled.delete(id)) {
    self.postMessage({ id, ok: false, error: { status: 499, code: "cancelled", message: "cancelled" } });
    return;
  }
  try {
    const result = await runTask(sources, source, task);
    const reply: WorkerReply = { id, ok: true, result };
    self.postMessage(reply, transferablesOf(result));
  } catch (err) {
    if (!(err instanceof HttpError)) log().error("tile worker: unexpected error", { error: errorText(err) });
    // Readers report their own failures (422, sources/source_cache.ts); anything else is a bug: 500.
    const reply: WorkerReply = { id, ok: false, error: toErrorShape(toHttpError(err)) };
    self.postMessage(reply);
  }
};

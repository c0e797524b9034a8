/**
 * One thread's runtime: everything a thread keeps for the pixel work it does — its JPEG codec (the tier the
 * process chose), its pixel caches under the process budget, its place in that budget and the read limit it
 * sets, its byte pool. Built once per thread by `createRuntime` (the main thread in service/build.ts, each
 * worker from its init message) and passed to what reads and renders: no module keeps such state.
 */
import { chooseCodec, type CodecChoice, type CodecStatus, type JpegCodec } from "../codecs/tier.ts";
import { BytePool } from "../core/byte_pool.ts";
import { readLimitOf, SharedBudget, type ThreadBudget } from "./budget.ts";
import { PixelCaches } from "./pixel_caches.ts";
import { type CacheSizes, DEFAULT_CACHE_SIZES } from "./sizes.ts";

/** A thread's runtime. */
export interface Runtime {
  readonly codec: JpegCodec;
  readonly codecStatus: CodecStatus;
  readonly caches: PixelCaches;
  /** Its place in the process budget (null: a thread outside one — tests, tools). */
  readonly budget: ThreadBudget | null;
  /** The most decoded bytes one read may hold (cache/budget.ts `readLimitOf`). */
  readonly readLimitBytes: number;
  readonly pool: BytePool;
}

/** What a runtime is built from. */
export interface RuntimeOptions {
  /** The codec tier to use (a worker is told the main thread's choice), or a chosen codec. */
  codecs?: CodecChoice | { codec: JpegCodec; status: CodecStatus };
  /** The process budget and this thread's number in it. */
  budget?: { budget: SharedBudget; thread: number } | { buffer: SharedArrayBuffer; thread: number };
  caches?: CacheSizes;
}

/** A thread's runtime (defaults: the `auto` tier, no process budget, the default cache sizes). */
export function createRuntime(opts: RuntimeOptions = {}): Runtime {
  const chosen = typeof opts.codecs === "object" ? opts.codecs : chooseCodec(opts.codecs ?? "auto");
  const b = opts.budget;
  const budget = !b ? null : "budget" in b ? b : { budget: new SharedBudget(b.buffer), thread: b.thread };
  return {
    codec: chosen.codec,
    codecStatus: chosen.status,
    caches: new PixelCaches(opts.caches ?? DEFAULT_CACHE_SIZES, budget),
    budget,
    readLimitBytes: readLimitOf(budget),
    pool: new BytePool(),
  };
}

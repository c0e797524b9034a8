/**
 * WebGPU against the workers, in one run on this machine's adapter (llvmpipe here; a real GPU when the
 * device machine is lent):
 *  1. kernels: each kernel on 32 real 270² RGB windows of the benchmark slide, as jobs/s and input GB/s
 *     for one CPU thread, the worker pool (2 workers, `kernel` tasks), and the GPU (one batch of 32 per
 *     submission; wall time including upload and readback, and the compute pass alone by timestamp query
 *     where the adapter has them);
 *  2. tiles: distinct full-resolution Deep Zoom tiles per op from `server.ts` with BACKEND=workers and
 *     BACKEND=webgpu, 16 in flight (batching needs concurrency), bounded in seconds.
 *
 *   deno task bench:gpu [--seconds 8] [--concurrency 16] [--rounds 5]
 */
import { BENCH_SLIDE_ID, BENCH_SLIDE_SIDE, makeBenchSlide } from "./make_slide.ts";
import { benchArgs, load, type Result, resultTable, startServer } from "./lib.ts";
import { GpuExecutor } from "../gpu/executor.ts";
import { kernelNamed, KERNELS, runOnCpu } from "../kernels/index.ts";
import type { KernelJob } from "../kernels/kernel.ts";
import { WorkerPool } from "../workers/pool.ts";
import { openSource } from "../sources/open.ts";
import { type Raster8, toUint8 } from "../core/raster.ts";
import { DeepZoomGeometry } from "../pyramid/deepzoom.ts";

const { seconds: SECONDS, concurrency: CONCURRENCY, rounds: ROUNDS } = benchArgs({
  seconds: 8,
  concurrency: 16,
  rounds: 5,
});

interface KernelRow {
  kernel: string;
  cpu1: number;
  workers: number;
  gpu: number;
  gpuPassOnly: number | null;
  inputBytes: number;
}

/** Best jobs/s of `rounds` runs of all `jobs` through `run`, and GPU ns of the best round when measured. */
async function rate(jobs: KernelJob[], run: (j: KernelJob) => Promise<unknown>, rounds: number): Promise<number> {
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    await Promise.all(jobs.map(run));
    best = Math.max(best, jobs.length / ((performance.now() - t0) / 1000));
  }
  return best;
}

async function kernelBench(slide: string): Promise<{ rows: KernelRow[]; adapter: string } | null> {
  const executor = await GpuExecutor.create({ timestamps: true, maxBatchJobs: 32 });
  if (!executor) return null;
  const source = await openSource({ path: slide, version: "bench", maxPixels: 1e8 });
  const tiles: Raster8[] = [];
  for (let i = 0; i < 32; i++) {
    const x = (i % 8) * 1900 + 300, y = Math.floor(i / 8) * 3100 + 500;
    tiles.push(toUint8(await source.readRegion(0, x, y, 270, 270)));
  }
  await source.close?.();
  // Each kernel's own example job (the self-test's), on real tiles.
  const make = (kernel: string): KernelJob[] =>
    tiles.map((input) => kernelNamed(kernel).example(input, { x: 0, y: 0, w: 270, h: 270 }));
  const pool = new WorkerPool({ size: 2 });
  const rows: KernelRow[] = [];
  try {
    for (const kernel of KERNELS.keys()) {
      const jobs = make(kernel);
      const inputBytes = jobs.reduce((s, j) => s + j.input.data.length, 0) / jobs.length;
      const cpu1 = await rate(jobs, (j) => Promise.resolve(runOnCpu(j)), ROUNDS);
      const workers = await rate(jobs, (j) => pool.run(undefined, { kind: "kernel", job: j }), ROUNDS);
      await Promise.all(jobs.map((j) => executor.run(j))); // compile / JIT on first use
      const ns0 = executor.counters.gpuNanoseconds, b0 = executor.counters.submissions;
      const gpu = await rate(jobs, (j) => executor.run(j), ROUNDS);
      const batches = executor.counters.submissions - b0, ns = executor.counters.gpuNanoseconds - ns0;
      const gpuPassOnly = ns > 0 ? (jobs.length * batches) / (ns / 1e9) : null;
      rows.push({ kernel, cpu1, workers, gpu, gpuPassOnly, inputBytes });
      console.log(`  ${kernel}: cpu ${cpu1.toFixed(0)}/s, workers ${workers.toFixed(0)}/s, gpu ${gpu.toFixed(0)}/s`);
    }
  } finally {
    await pool.close();
    executor.close();
  }
  return { rows, adapter: `${executor.adapterName}${executor.software ? " (software adapter)" : ""}` };
}

function kernelTable(rows: KernelRow[]): string {
  const gbs = (jobsPerSec: number, bytes: number) => ((jobsPerSec * bytes) / 1e9).toFixed(3);
  const out = [
    "| kernel | 1 CPU thread jobs/s (GB/s) | workers ×2 jobs/s (GB/s) | webgpu jobs/s (GB/s) | webgpu pass only jobs/s (GB/s) | webgpu / workers |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of rows) {
    const pass = r.gpuPassOnly ? `${r.gpuPassOnly.toFixed(0)} (${gbs(r.gpuPassOnly, r.inputBytes)})` : "n/a";
    out.push(
      `| ${r.kernel} | ${r.cpu1.toFixed(0)} (${gbs(r.cpu1, r.inputBytes)}) | ${r.workers.toFixed(0)} (${
        gbs(r.workers, r.inputBytes)
      }) | ${r.gpu.toFixed(0)} (${gbs(r.gpu, r.inputBytes)}) | ${pass} | ${(r.gpu / r.workers).toFixed(2)}× |`,
    );
  }
  return out.join("\n");
}

if (import.meta.main) {
  const slide = await makeBenchSlide();
  const dir = slide.slice(0, slide.lastIndexOf("/"));
  console.log("kernels: 32 windows of 270² RGB from the benchmark slide, best of", ROUNDS, "rounds");
  const kernels = await kernelBench(slide);
  if (!kernels) console.log("no WebGPU adapter: kernel comparison skipped");
  const geo = new DeepZoomGeometry(BENCH_SLIDE_SIDE, BENCH_SLIDE_SIDE, 254, 1);
  const top = geo.levelCount - 1;
  const [cols] = geo.tLevelCounts[top];
  const ops = ["gray", "threshold", "mask", "quantize&levels=8", "quantize&palette=16"];
  const results: Result[] = [];
  if (kernels) {
    for (const [i, op] of ops.entries()) {
      for (const backend of ["workers", "webgpu"]) {
        const server = await startServer({ BACKEND: backend, WORKERS: "2", IMAGES_DIR: dir, KV_PATH: "off" });
        try {
          for (let k = 0; k < 100 && (await fetch(`${server.url}/ready`)).status !== 200; k++) {
            await new Promise((r) => setTimeout(r, 100));
          }
          // Both backends get the same tiles (each server is a fresh process: no decode is shared), each op
          // its own rows; the warm-up (stats, codecs, pipelines) uses a row no case measures.
          const url = (col: number, row: number) =>
            `${server.url}/dzi/${BENCH_SLIDE_ID}_files/${top}/${col}_${row}.png?op=${op}`;
          await load("warm-up", Array.from({ length: 16 }, (_, k) => url(k, 60)), SECONDS, 4);
          const urls = Array.from({ length: 4 * cols }, (_, k) => url(k % cols, 4 * i + Math.floor(k / cols)));
          results.push(await load(`${op}, ${backend}`, urls, SECONDS, CONCURRENCY));
        } finally {
          await server.stop();
        }
      }
    }
  }
  const lines = [
    `adapter: ${kernels?.adapter ?? "none"}`,
    "",
    kernels ? kernelTable(kernels.rows) : "",
    "",
    results.length ? resultTable(results, results[0].name) : "",
  ];
  console.log("\n" + lines.join("\n"));
  await Deno.mkdir(new URL("./out/", import.meta.url), { recursive: true });
  await Deno.writeTextFile(
    new URL("./out/gpu.json", import.meta.url),
    JSON.stringify({ adapter: kernels?.adapter, kernels: kernels?.rows, tiles: results }, null, 2),
  );
}

/**
 * The WebGPU backend on this machine's adapter (a software one in CI): every kernel's bytes equal its CPU
 * definition on real images; `BACKEND=webgpu` and `BACKEND=workers` serve identical tiles for every op and
 * every readable sample, and the same image statistics; jobs are batched; a device lost mid-batch fails no request; `auto` keeps the
 * faster backend and `/ready` is 503 until warm-up is done.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, get, SAMPLES, startServer, type TestServer } from "./helpers.ts";
import { GpuExecutor } from "../gpu/executor.ts";
import { runOnCpu } from "../kernels/index.ts";
import { WebGpuBackend } from "../gpu/backend.ts";
import { sameResult } from "../gpu/self_test.ts";
import type { KernelJob } from "../kernels/kernel.ts";
import { openSource } from "../sources/open.ts";
import { readStatsLevel } from "../stats/compute.ts";
import { toUint8 } from "../core/raster.ts";
import { grayKernel } from "../kernels/gray.ts";
import { maskSaturation } from "../kernels/mask.ts";
import { DEFAULT_COLORS, renderIntensities, renderPalette } from "../kernels/render.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const hasAdapter = !!(await (navigator as Navigator & { gpu?: GPU }).gpu?.requestAdapter());
const gpuOpts = { ...opts, ignore: !hasAdapter && Deno.env.get("CI") !== "true" };

const OPS = [
  "op=gray",
  "op=threshold",
  "op=threshold&t=200&invert=1",
  "op=mask",
  "op=quantize&levels=6",
  "op=quantize&palette=8&rescale=auto",
  "op=sobel",
  "c=0&stretch=sqrt&colormap=viridis&op=threshold",
  "op=none",
  "c=0&color=ff00ff&window=auto&stretch=asinh&op=none",
  "stretch=log&op=mask",
];

function gpuBackend(s: TestServer): WebGpuBackend {
  return s.service.context.backend as WebGpuBackend;
}

async function startBoth(env: Record<string, string>): Promise<[TestServer, TestServer]> {
  const gpu = startServer({ BACKEND: "webgpu", WORKERS: "2", ...env });
  const cpu = startServer({ BACKEND: "workers", WORKERS: "2", ...env });
  await gpuBackend(gpu).started;
  assertEquals(gpuBackend(gpu).report().state, "ready", JSON.stringify(gpuBackend(gpu).report()));
  return [gpu, cpu];
}

/** Fetches `paths` from both servers, a few at a time, and asserts byte equality and who computed them. */
/** `get`, retried as a client told `Retry-After` does (a busy machine may shed a statistics job: 503). */
async function getPatiently(url: string) {
  for (let attempt = 0;; attempt++) {
    const r = await get(url);
    if (r.status !== 503 || !r.headers.has("retry-after") || attempt === 10) return r;
    await new Promise((ok) => setTimeout(ok, 1000 * Number(r.headers.get("retry-after"))));
  }
}

async function compareServers(gpu: TestServer, cpu: TestServer, paths: string[]) {
  for (let i = 0; i < paths.length; i += 8) {
    await Promise.all(
      paths.slice(i, i + 8).map(async (p) => {
        const [a, b] = await Promise.all([getPatiently(gpu.url + p), getPatiently(cpu.url + p)]);
        assertEquals(a.status, 200, `${p}: ${new TextDecoder().decode(a.body.slice(0, 200))}`);
        assertEquals(b.status, 200, p);
        assert(a.body.length === b.body.length && a.body.every((v, k) => v === b.body[k]), `${p}: bytes differ`);
        // Without a kernel only a render's blend runs on the GPU (X-Render says one ran).
        const computed = !p.includes("op=none") || a.headers.has("x-render");
        const expected = !computed || a.headers.get("x-pass-through") ? "workers" : "webgpu";
        assertEquals(a.headers.get("x-backend"), expected, p);
      }),
    );
  }
}

Deno.test("every GPU kernel gives the CPU kernel's bytes on the stats level of real images", gpuOpts, async () => {
  const executor = (await GpuExecutor.create())!;
  try {
    for (const file of ["CMU-1-Small-Region.svs", "rocket.jpg", "coffee.png"]) {
      const source = await openSource({ path: `${SAMPLES}${file}`, version: "t", maxPixels: 1e8 });
      const { raster } = await readStatsLevel(source);
      await source.close?.();
      const px = toUint8(raster);
      // A tile-sized window with a halo, and the whole level (the stats-level path).
      const w = Math.min(270, px.width), h = Math.min(270, px.height);
      const win = new Uint8Array(w * h * px.channels);
      for (let y = 0; y < h; y++) {
        win.set(px.data.subarray(y * px.width * px.channels, (y * px.width + w) * px.channels), y * w * px.channels);
      }
      const tile = { ...px, width: w, height: h, data: win };
      const valid = { x: 7, y: 3, w: w - 14, h: h - 10 };
      const palette = Uint8Array.from([250, 250, 250, 200, 120, 180, 120, 60, 140, 20, 20, 20, 240, 200, 220]);
      const jobs: KernelJob[] = [];
      // A tiny input too: batched after a histogram it once failed validation (kernels/histogram.wgsl).
      const tiny = { ...tile, width: 4, height: 2, data: tile.data.slice(0, 8 * tile.channels) };
      for (const input of [tile, px, tiny]) {
        jobs.push(
          { kernel: "gray", input },
          { kernel: "threshold", input, t: 180 },
          { kernel: "threshold", input, t: 60, invert: true },
          { kernel: "mask", input, t: 20 },
          { kernel: "mask", input, t: 12, valid },
          { kernel: "maskSaturation", input },
          { kernel: "maskFromSaturation", input: maskSaturation(input), t: 15 },
          { kernel: "levels", input, levels: 4 },
          { kernel: "levels", input, levels: 256 },
          { kernel: "palette", input, palette },
          { kernel: "sobel", input },
          { kernel: "sobel", input, valid },
          { kernel: "downsample2x", input },
          { kernel: "histogram", input: grayKernel(input) },
          { kernel: "histogram", input: maskSaturation(input) },
        );
      }
      const results = await Promise.all(jobs.map((j) => executor.run(j)));
      jobs.forEach((job, i) => {
        const where = `${file} ${job.kernel} ${job.input.width}×${job.input.height}×${job.input.channels}`;
        assert(sameResult(results[i], runOnCpu(job)), `${where}: GPU ≠ CPU`);
      });
      // Not a vacuous comparison: the outputs carry information.
      const mask = results[3] as { data: Uint8Array };
      assert(mask.data.some((v) => v === 255) || file !== "CMU-1-Small-Region.svs", "tissue found on the slide");
    }
    assert(executor.counters.submissions < executor.counters.jobs, "jobs were batched");
    // A small output batched right after a histogram (this once failed wgpu's validation).
    const tiny = { width: 4, height: 2, channels: 3, type: "uint8" as const, data: new Uint8Array(24).fill(9) };
    await new Promise((r) => setTimeout(r, 0)); // the last batch's bookkeeping done: the GPU is idle
    const s0 = executor.counters.submissions;
    const [, hist, gray] = await Promise.all([
      executor.run({ kernel: "gray", input: tiny }), // an idle GPU starts this one alone
      executor.run({ kernel: "histogram", input: grayKernel(tiny) }), // these two queue, then go together
      executor.run({ kernel: "gray", input: tiny }),
    ]);
    assertEquals(executor.counters.submissions - s0, 2);
    assertEquals((hist as Uint32Array)[9], 8);
    assertEquals(Array.from((gray as { data: Uint8Array }).data), new Array(8).fill(9));
  } finally {
    executor.close();
  }
});

Deno.test(
  "the blend on the GPU gives the CPU's bytes: real OME intensities of 1, 4 and 16 channels",
  gpuOpts,
  async () => {
    const executor = (await GpuExecutor.create())!;
    try {
      const source = await openSource({
        path: `${DATA}generated__tcga-hed-4ch-uint16_ome_pyramid.tif`,
        version: "t",
        maxPixels: 1e8,
      });
      const region = await source.readRegion(1, 100, 50, 270, 260, "samples", { c: [0, 1, 2, 3], z: 0, t: 0 });
      await source.close();
      const windows = [[1000, 47000], [1000, 54000], [2000, 53000], [15000, 61000]] as [number, number][];
      const four = renderIntensities(region, { window: windows, stretch: "sqrt" });
      // 16 channels: the four, each window shifted (different intensities per channel).
      const sixteen = renderIntensities(
        {
          ...region,
          channels: 16,
          data: Uint16Array.from(
            { length: region.data.length * 4 },
            (_, i) => region.data[Math.floor(i / 16) * 4 + (i % 4)],
          ),
        },
        {
          window: Array.from({ length: 16 }, (_, k) => [windows[k % 4][0] + 900 * k, windows[k % 4][1]]),
          stretch: "linear",
        },
      );
      const one = { ...four, channels: 1, data: four.data.filter((_, i) => i % 4 === 2) };
      const colors = (k: number) =>
        renderPalette({ color: Array.from({ length: k }, (_, i) => DEFAULT_COLORS[i % 6]) });
      const jobs: KernelJob[] = [
        { kernel: "blend", input: four, palette: colors(4) },
        { kernel: "blend", input: sixteen, palette: colors(16) },
        { kernel: "blend", input: one, palette: renderPalette({ color: [], colormap: "turbo" }) },
        { kernel: "blend", input: one, palette: colors(1) },
      ];
      const results = await Promise.all(jobs.map((j) => executor.run(j)));
      jobs.forEach((job, i) => assert(sameResult(results[i], runOnCpu(job)), `blend ${job.input.channels} channels`));
      // Sums past 255 clip: the 16-channel composite has saturated and unsaturated samples.
      const d = (results[1] as { data: Uint8Array }).data;
      assert(d.some((v) => v === 255) && d.some((v) => v < 200), "the composite carries information");
    } finally {
      executor.close();
    }
  },
);

Deno.test(
  "BACKEND=webgpu and BACKEND=workers serve identical bytes for every op and every readable sample",
  gpuOpts,
  async () => {
    const [gpu, cpu] = await startBoth({ IMAGES_DIR: DATA });
    try {
      const list = JSON.parse(new TextDecoder().decode((await get(`${cpu.url}/images`)).body));
      list.images = list.images.filter((i: { supported: boolean }) => i.supported);
      assert(list.images.length >= 5, "several readable samples");
      const paths: string[] = [];
      for (const img of list.images) {
        const id = encodeURIComponent(img.id);
        const top = Math.ceil(Math.log2(Math.max(img.width, img.height)));
        const cols = Math.ceil(img.width / 254), rows = Math.ceil(img.height / 254);
        for (const q of OPS) {
          paths.push(
            `/dzi/${id}_files/${top}/${cols - 1}_${rows - 1}.png?${q}`, // edge tile: halo clamped at the border
            `/dzi/${id}_files/${top}/${Math.floor(cols / 2)}_${Math.floor(rows / 2)}.png?${q}`,
            `/dzi/${id}_files/${Math.max(0, top - 3)}/0_0.png?${q}`,
          );
        }
        paths.push(`/iiif/3/${id}/full/^128,/90/gray.jpg`, `/iiif/3/${id}/full/max/!180/bitonal.png`);
      }
      await compareServers(gpu, cpu, paths);
      // Image statistics (histograms, Otsu, tissue map) were computed with the GPU's kernels: the same.
      for (const img of list.images) {
        for (const what of ["stats", "tissue.png"]) {
          const p = `/images/${encodeURIComponent(img.id)}/${what}`;
          const [a, b] = await Promise.all([get(gpu.url + p), get(cpu.url + p)]);
          assertEquals([a.status, b.status], [200, 200], p);
          assertEquals(a.body, b.body, p);
        }
      }
      const r = gpuBackend(gpu).report();
      assertEquals([r.fallbacks, r.failures], [0, 0]);
    } finally {
      await gpu.close();
      await cpu.close();
    }
  },
);

Deno.test("concurrent tiles are batched: fewer GPU submissions than jobs", gpuOpts, async () => {
  const [gpu, cpu] = await startBoth({ IMAGES_DIR: SAMPLES });
  try {
    const before = gpuBackend(gpu).report();
    const paths = Array.from(
      { length: 48 },
      (_, i) => `/dzi/CMU-1-Small-Region.svs_files/12/${i % 8}_${Math.floor(i / 8)}.png?op=mask&t=20`,
    );
    await Promise.all(paths.map(async (p) => assertEquals((await get(gpu.url + p)).status, 200)));
    const after = gpuBackend(gpu).report();
    const jobs = after.jobs - before.jobs, submissions = after.submissions - before.submissions;
    assertEquals(jobs, 48);
    assert(submissions < jobs / 2, `${submissions} submissions for ${jobs} jobs`);
    assert(after.largestBatch > 1);
    const metrics = new TextDecoder().decode((await get(`${gpu.url}/metrics`)).body);
    assert(metrics.includes(`edgetile_gpu_submissions_total ${after.submissions}`), "submissions in /metrics");
    assert(/edgetile_backend_info\{backend="webgpu"\} 1/.test(metrics));
    await compareServers(gpu, cpu, paths.slice(0, 8));
  } finally {
    await gpu.close();
    await cpu.close();
  }
});

Deno.test(
  "a GPU device lost mid-batch: every request still answers the right bytes, then the device comes back",
  gpuOpts,
  async () => {
    const [gpu, cpu] = await startBoth({ IMAGES_DIR: SAMPLES });
    try {
      const backend = gpuBackend(gpu);
      const paths = Array.from(
        { length: 40 },
        (_, i) => `/dzi/CMU-1-Small-Region.svs_files/12/${i % 8}_${Math.floor(i / 8)}.png?op=mask&t=25`,
      );
      const s0 = backend.report().submissions;
      const answers = Promise.all(paths.map((p) => get(gpu.url + p)));
      // Lose the device once a batch is on the GPU.
      while (backend.report().submissions === s0) await new Promise((r) => setTimeout(r, 1));
      backend.loseDevice();
      const results = await answers;
      for (const r of results) assertEquals(r.status, 200);
      const r = backend.report();
      assertEquals(r.failures, 1);
      assert(r.fallbacks >= 1, "jobs were rerun on the workers");
      assert(results.some((x) => x.headers.get("x-backend") === "workers"), "some tiles came from the workers");
      for (let i = 0; i < paths.length; i++) {
        const want = await get(cpu.url + paths[i]);
        assert(want.body.every((v, k) => v === results[i].body[k]) && want.body.length === results[i].body.length);
      }
      // The device is recreated in the background and serves again.
      const deadline = Date.now() + 20_000;
      while (backend.report().deviceRecreations === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assertEquals(backend.report().deviceRecreations, 1);
      const again = await get(`${gpu.url}/dzi/CMU-1-Small-Region.svs_files/11/0_0.png?op=gray`);
      assertEquals(again.headers.get("x-backend"), "webgpu");
    } finally {
      await gpu.close();
      await cpu.close();
    }
  },
);

/**
 * BACKEND=auto: the start-up measurement on this machine's adapter, and a software adapter left unused.
 */
import { assert, assertEquals } from "./assert.ts";
import { get, SAMPLES, startServer, type TestServer } from "./helpers.ts";
import { WebGpuBackend } from "../gpu/backend.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const hasAdapter = !!(await (navigator as Navigator & { gpu?: GPU }).gpu?.requestAdapter());
const gpuOpts = { ...opts, ignore: !hasAdapter && Deno.env.get("CI") !== "true" };

function gpuBackend(s: TestServer): WebGpuBackend {
  return s.service.context.backend as WebGpuBackend;
}

Deno.test(
  "BACKEND=auto: /ready is 503 during warm-up, then the measured faster backend is kept and reported",
  gpuOpts,
  async () => {
    // GPU_SOFTWARE=measure: llvmpipe (this machine's adapter) is measured like a GPU, as a real one is.
    const s = startServer({ BACKEND: "auto", GPU_SOFTWARE: "measure", WORKERS: "2", IMAGES_DIR: SAMPLES });
    try {
      const early = await get(`${s.url}/ready`);
      assertEquals(early.status, 503);
      assert(new TextDecoder().decode(early.body).includes("WebGPU warm-up"));
      // Requests during warm-up are served (by the workers).
      const during = await get(`${s.url}/dzi/CMU-1-Small-Region.svs_files/11/1_1.png?op=mask`);
      assertEquals([during.status, during.headers.get("x-backend")], [200, "workers"]);
      await gpuBackend(s).started;
      const ready = await get(`${s.url}/ready`);
      assertEquals(ready.status, 200);
      const health = JSON.parse(new TextDecoder().decode((await get(`${s.url}/health`)).body));
      const m = health.gpu.measured;
      assert(m.webgpuJobsPerSecond > 0 && m.cpuJobsPerSecond > 0, JSON.stringify(health.gpu));
      // Each op kernel goes where it measured faster; the GPU is in use when it won any.
      const won = ["gray", "threshold", "mask", "levels", "palette", "sobel"].filter((k) =>
        m.kernels[k].webgpu > m.kernels[k].cpu
      );
      assertEquals(health.gpu.gpuKernels, won);
      assertEquals(health.backend, won.length ? "webgpu" : "workers");
      assertEquals(health.gpu.using, health.backend);
      for (
        const [op, kernel] of [["gray", "gray"], ["mask", "mask"], ["quantize&palette=8", "palette"], [
          "sobel",
          "sobel",
        ]]
      ) {
        const tile = await get(`${s.url}/dzi/CMU-1-Small-Region.svs_files/11/2_1.png?op=${op}`);
        assertEquals(tile.headers.get("x-backend"), won.includes(kernel) ? "webgpu" : "workers", op);
      }
    } finally {
      await s.close();
    }
  },
);

Deno.test(
  "BACKEND=auto on a software adapter keeps the workers without compiling a pipeline (GPU_SOFTWARE=skip)",
  gpuOpts,
  async () => {
    const s = startServer({ BACKEND: "auto", WORKERS: "1", IMAGES_DIR: SAMPLES });
    try {
      await gpuBackend(s).started;
      const r = gpuBackend(s).report();
      if (!r.softwareAdapter) {
        // A hardware adapter (the device machine): measured as usual.
        assert(r.measured !== undefined, JSON.stringify(r));
        return;
      }
      assertEquals([r.state, r.using, r.pipelinesCompiled, r.measured], ["ready", "workers", 0, undefined]);
      assert(/software/.test(r.reason ?? ""), r.reason);
      assertEquals((await get(`${s.url}/ready`)).status, 200);
      const tile = await get(`${s.url}/dzi/CMU-1-Small-Region.svs_files/11/2_1.png?op=mask`);
      assertEquals([tile.status, tile.headers.get("x-backend")], [200, "workers"]);
    } finally {
      await s.close();
    }
  },
);

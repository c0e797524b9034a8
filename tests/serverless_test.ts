/**
 * The strictest serverless shape (edge runtimes; the new Deno Deploy has workers, FFI and a disk):
 * `deno serve main.ts` (default export `fetch`) with workers disabled, FFI denied and no writable disk. The
 * inline backend and the WASM / pure-JS codecs must serve every route.
 */
import { assert, assertEquals } from "./assert.ts";
import { freePort, jpegSize, pngHeader, SAMPLES } from "./helpers.ts";
import { createBackend } from "../service/build.ts";
import { WebGpuBackend } from "../gpu/backend.ts";
import { loadConfig } from "../config.ts";

Deno.test("BACKEND=auto: inline on an edge runtime (no Worker, no WebGPU), workers, or WebGPU over workers", async () => {
  const config = loadConfig({ BACKEND: "auto", WORKERS: "1" });
  const onDeploy = createBackend(config, false, false);
  assertEquals(onDeploy.name, "inline");
  await onDeploy.close();
  const local = createBackend(config, true, false);
  assertEquals(local.name, "workers");
  await local.close();
  const withGpu = createBackend(config, true, true);
  assert(withGpu instanceof WebGpuBackend, "auto measures WebGPU where the runtime exposes it");
  assertEquals(withGpu.cpu.name, "workers");
  await withGpu.close();
  for (const [env, hasWorker, hasGpu] of [["workers", false, true], ["webgpu", true, false]] as const) {
    let refused = false;
    try {
      createBackend(loadConfig({ BACKEND: env }), hasWorker, hasGpu);
    } catch {
      refused = true;
    }
    assert(refused, `BACKEND=${env} where the runtime lacks it is a start-up error`);
  }
});

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test("deno serve main.ts, workers disabled (inline backend), --deny-ffi: every route serves", opts, async () => {
  const port = freePort();
  const root = new URL("..", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "serve",
      "--quiet",
      `--port=${port}`,
      "--host=127.0.0.1",
      "--deny-ffi",
      `--allow-read=${root}`,
      "--allow-env",
      "main.ts",
    ],
    cwd: root,
    // No KV file (no write permission here, as on a platform without a disk): KV in memory.
    env: { EDGETILE_BACKEND: "inline", EDGETILE_IMAGES_DIR: SAMPLES, EDGETILE_KV_PATH: ":memory:" },
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    const url = `http://127.0.0.1:${port}`;
    let up = false;
    for (let i = 0; i < 150 && !up; i++) {
      try {
        const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
        await res.body?.cancel();
        up = res.ok;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert(up, "server came up");
    const health = await (await fetch(`${url}/health`)).json();
    assertEquals(health.backend, "inline");
    // CODECS=auto with FFI denied: the WASM tier, and /health says why.
    assertEquals([health.codecs.tier, health.codecs.requested], ["wasm", "auto"]);
    assert(/FFI not allowed/.test(health.codecs.reason), health.codecs.reason);
    const checks: [string, string, (b: Uint8Array) => unknown][] = [
      ["/dzi/CMU-1-Small-Region.svs_files/12/2_3.jpeg", "image/jpeg", (b) => assertEquals(jpegSize(b), [256, 256])],
      [
        "/dzi/CMU-1-Small-Region.svs_files/11/0_0.png?op=gray",
        "image/png",
        (b) => assertEquals(pngHeader(b).colorType, 0),
      ],
      ["/dzi/coffee.png_files/9/0_0.webp", "image/webp", (b) => assert(b.length > 100)],
      ["/xyz/rocket.jpg/1/1/0.png", "image/png", (b) => assertEquals(pngHeader(b).width, 256)],
      ["/thumbnail/CMU-1-Small-Region.svs.jpg?width=128", "image/jpeg", (b) => assertEquals(jpegSize(b)[0], 128)],
      ["/images/CMU-1-Small-Region.svs/associated/label.jpg", "image/jpeg", (b) => assert(b.length > 100)],
      [
        "/images",
        "application/json",
        (b) =>
          assertEquals(
            JSON.parse(new TextDecoder().decode(b)).images.filter((i: { supported: boolean }) => i.supported).length,
            3,
          ),
      ],
    ];
    for (const [path, type, check] of checks) {
      const res = await fetch(url + path);
      const body = new Uint8Array(await res.arrayBuffer());
      assertEquals(res.status, 200, `${path}: ${new TextDecoder().decode(body.slice(0, 200))}`);
      assert(res.headers.get("content-type")?.startsWith(type), path);
      if (res.headers.has("x-backend")) assertEquals(res.headers.get("x-backend"), "inline");
      check(body);
    }
  } finally {
    child.kill();
    await child.status;
  }
});

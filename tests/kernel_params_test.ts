/**
 * A kernel's parameters are declared once (issue 39): a test-only kernel with a parameter of its own,
 * written only in tests/fixtures/gain.ts and gain.wgsl — nothing in kernels/ or gpu/ names it — runs on
 * the GPU equal to its CPU definition (the self-test), its `Params` field and packed loop generated.
 */
import { assert, assertEquals } from "./assert.ts";
import { GpuExecutor } from "../gpu/executor.ts";
import { sameResult, selfTest } from "../gpu/self_test.ts";
import { shaderSource } from "../gpu/shaders.ts";
import { GAIN_KERNEL } from "./fixtures/gain.ts";

const hasAdapter = !!(await (navigator as Navigator & { gpu?: GPU }).gpu?.requestAdapter().catch(() => null));
const opts = { sanitizeResources: false, sanitizeOps: false, ignore: !hasAdapter && Deno.env.get("CI") !== "true" };

Deno.test("a kernel's WGSL Params and packed loop come from its declaration", async () => {
  const source = await shaderSource(GAIN_KERNEL.shader);
  assert(/struct Params \{[^}]*valid_y1: u32,\s*gain: u32,\s*\}/.test(source), "Params ends with its own `gain`");
  assert(/fn gain\(@builtin\(global_invocation_id\)/.test(source), "the packed entry point is generated");
  assert(/out\[k\] = gained\(i\);/.test(source), "writing its byte function");
});

Deno.test("a test-only kernel with a new parameter passes the CPU = GPU self-test", opts, async () => {
  const executor = await GpuExecutor.create({ kernels: [GAIN_KERNEL] });
  assert(executor, "a WebGPU adapter");
  try {
    assertEquals(await selfTest(executor, [GAIN_KERNEL]), null);
    // And with other gains, on an input whose size is no multiple of four bytes.
    const data = Uint8Array.from({ length: 7 * 5 * 3 }, (_, i) => (i * 37) & 255);
    for (const gain of [0, 16, 5, 255]) {
      const job = {
        kernel: "gain",
        input: { width: 7, height: 5, channels: 3, type: "uint8" as const, data },
        u: { gain },
      };
      assert(sameResult(await executor.run(job), GAIN_KERNEL.cpu(job)), `gain ${gain}`);
    }
  } finally {
    executor.close();
  }
});

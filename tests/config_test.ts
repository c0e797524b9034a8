/**
 * Settings: `EDGETILE_*` variables only (Docker and Kubernetes set `HOSTNAME` to the container's name, which
 * made the image exit at start when it was read as the listen address), flags in `--kebab-case` or
 * `--UPPER_CASE`, and clear errors for bad values and unknown flags.
 */
import { assert, assertEquals } from "./assert.ts";
import { loadConfig } from "../config.ts";
import { startTask } from "./helpers.ts";

Deno.test("flags: --port=9000, --images-dir x, --PORT 9001; unknown flags and bad values name the variable", () => {
  const c = loadConfig({ PORT: "8001" }, ["--port=9000", "--images-dir", "/srv/slides", "--pixel-cache-mb=128"]);
  assertEquals([c.port, c.imagesDir, c.pixelCacheBytes], [9000, "/srv/slides", 128 * 2 ** 20]);
  assertEquals(loadConfig({}, ["--PORT", "9001"]).port, 9001);
  assertEquals(loadConfig({ PORT: "8001" }).port, 8001);
  const message = (fn: () => unknown) => {
    try {
      fn();
      return "";
    } catch (err) {
      return (err as Error).message;
    }
  };
  assert(/unknown flag --prot/.test(message(() => loadConfig({}, ["--prot=1"]))));
  assert(/^EDGETILE_WORKERS must be an integer/.test(message(() => loadConfig({ WORKERS: "many" }))));
});

Deno.test("deno task start reads EDGETILE_* only: a pod's HOSTNAME and PORT do not matter", async () => {
  const { url, child } = await startTask({
    HOSTNAME: "edgetile-5c6b9d-8x7kq", // what Kubernetes sets; read as the listen address, it failed
    PORT: "1", // not ours
    EDGETILE_KV_PATH: "off",
    EDGETILE_WORKERS: "1",
  });
  try {
    const status = await fetch(`${url}/health`).then(async (r) => (await r.body?.cancel(), r.status)).catch(() => 0);
    assertEquals(status, 200, "serving on EDGETILE_PORT");
  } finally {
    child.kill("SIGTERM");
    await child.output();
  }
});

Deno.test("SIGTERM drains: an export in flight completes, then the process exits 0 and says so", async () => {
  const { url, child } = await startTask({ EDGETILE_KV_PATH: "off", EDGETILE_WORKERS: "1" });
  // A streamed export: headers first, then patches for a while.
  const res = await fetch(`${url}/images/CMU-1-Small-Region.svs/patches.tar?size=128&min=0&format=png`);
  assertEquals(res.status, 200);
  child.kill("SIGTERM");
  const body = new Uint8Array(await res.arrayBuffer());
  const tail = new TextDecoder().decode(body.subarray(Math.max(0, body.length - 8192)));
  assert(/"patches": \d+/.test(tail), "the export finished: its summary.json is at the end");
  const out = await child.output();
  assertEquals(out.code, 0);
  const log = new TextDecoder().decode(out.stdout);
  assert(/SIGTERM: draining/.test(log) && /stopped after \d+ ms/.test(log), log);
  // Nothing listens any more.
  assertEquals(await fetch(`${url}/health`).then(() => "answered").catch(() => "refused"), "refused");
});

Deno.test("a bad setting or an unknown flag stops the start with one line and exit code 2", async () => {
  const root = new URL("../", import.meta.url).pathname;
  for (
    const [env, args, message] of [
      [{ EDGETILE_WORKERS: "many" }, [], /^edgetile: EDGETILE_WORKERS must be an integer in 1\.\.256, got "many"$/],
      [{}, ["--prot=1"], /^edgetile: unknown flag --prot$/],
    ] as const
  ) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "start", ...args],
      cwd: root,
      env: { ...env, EDGETILE_PORT: "0", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(out.code, 2);
    // The task runner echoes its command line first; then the service's one line, and nothing else.
    const lines = new TextDecoder().decode(out.stderr).split("\n").filter((l) => l && !l.startsWith("Task "));
    assertEquals(lines.length, 1, lines.join("\n"));
    assert(message.test(lines[0]), lines[0]);
  }
});

/**
 * Settings: `EDGETILE_*` variables only (Docker and Kubernetes set `HOSTNAME` to the container's name, which
 * made the image exit at start when it was read as the listen address), flags in `--kebab-case` or
 * `--UPPER_CASE`, and clear errors for bad values and unknown flags.
 */
import { assert, assertEquals } from "./assert.ts";
import { CONFIG_VARIABLES, envName, loadConfig } from "../config.ts";
import { startTask } from "./helpers.ts";
import { envFlag, permissionList } from "../cli/permissions.ts";

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
  const { url, child, output } = await startTask({
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
    await output();
  }
});

Deno.test("SIGTERM drains: an export in flight completes, then the process exits 0 and says so", async () => {
  const { url, child, output } = await startTask({ EDGETILE_KV_PATH: "off", EDGETILE_WORKERS: "1" });
  // A streamed export: headers first, then patches for a while.
  const res = await fetch(`${url}/images/CMU-1-Small-Region.svs/patches.tar?size=128&min=0&format=png`);
  assertEquals(res.status, 200);
  child.kill("SIGTERM");
  const body = new Uint8Array(await res.arrayBuffer());
  const tail = new TextDecoder().decode(body.subarray(Math.max(0, body.length - 8192)));
  assert(/"patches": \d+/.test(tail), "the export finished: its summary.json is at the end");
  const out = await output();
  assertEquals(out.code, 0);
  const log = out.stdout;
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
      [
        { EDGETILE_IMAGES_DIR: "/nonexistent/slides" },
        [],
        /^edgetile: EDGETILE_IMAGES_DIR: cannot open \/nonexistent\/slides: No such file/,
      ],
      [{ EDGETILE_IMAGES_DIR: "deno.json" }, [], /^edgetile: EDGETILE_IMAGES_DIR: deno\.json is not a folder$/],
      // A folder outside the project named only by a flag was never granted: the variable grants it.
      [{}, ["--images-dir=/etc"], /^edgetile: no permission to read \/etc: set EDGETILE_IMAGES_DIR=\/etc /],
      // A KV file that cannot be created is a start-up error, not a silently uncached service.
      [
        { EDGETILE_KV_PATH: "deno.json/cache.kv" },
        [],
        /^edgetile: EDGETILE_KV_PATH=deno\.json\/cache\.kv: cannot open the KV cache: .*\(or set it to off\)$/,
      ],
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

Deno.test("deno task start and serve: images and the KV file in folders outside the project, the port from EDGETILE_PORT", async () => {
  const images = await Deno.makeTempDir({ prefix: "edgetile-images-" });
  const kvDir = await Deno.makeTempDir({ prefix: "edgetile-kv-" });
  try {
    await Deno.copyFile(new URL("../samples/coffee.png", import.meta.url), `${images}/beans.png`);
    for (const task of ["start", "serve"]) {
      const kvPath = `${kvDir}/${task}/tiles.kv`;
      const { url, child, output } = await startTask({ EDGETILE_IMAGES_DIR: images, EDGETILE_KV_PATH: kvPath }, task);
      try {
        const list = await fetch(`${url}/images`).then((r) => r.json());
        assertEquals(list.images.map((i: { id: string }) => i.id), ["beans.png"], task);
        const tile = await fetch(`${url}/dzi/beans.png_files/0/0_0.jpeg`);
        assertEquals([tile.status, tile.headers.get("content-type")], [200, "image/jpeg"], task);
        await tile.body?.cancel();
        // The KV file is where the setting says (the folder was created).
        assert((await Deno.stat(kvPath)).isFile, `${task}: ${kvPath}`);
      } finally {
        child.kill("SIGTERM");
        // Both drain and exit 0 (deno serve waited for ever: the workers kept the process alive).
        const out = await output();
        assertEquals(out.code, 0, task);
        assert(/stopped after \d+ ms/.test(out.stdout), task);
      }
    }
  } finally {
    await Deno.remove(images, { recursive: true });
    await Deno.remove(kvDir, { recursive: true });
  }
});

Deno.test("the start task's permissions: the project, the images folder and the KV file's folder, nothing wider", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assertEquals(permissionList("read", env({})), ".,./samples,./data");
  assertEquals(permissionList("write", env({})), "./data");
  const mine = env({ EDGETILE_IMAGES_DIR: "/srv/slides", EDGETILE_KV_PATH: "/var/cache/edgetile/tiles.kv" });
  assertEquals(permissionList("read", mine), ".,/srv/slides,/var/cache/edgetile");
  assertEquals(permissionList("write", mine), "/var/cache/edgetile");
  // KV off, in memory or remote: no KV folder (the write grant stays the harmless ./data, never empty: an
  // empty --allow-write= is refused by Deno, and a failing script leaves it empty, so the task fails closed).
  for (const kv of ["off", ":memory:", "https://kv.example.org/db"]) {
    assertEquals(permissionList("read", env({ EDGETILE_KV_PATH: kv })), ".,./samples");
    assertEquals(permissionList("write", env({ EDGETILE_KV_PATH: kv })), "./data");
  }
  assertEquals(permissionList("address", env({ EDGETILE_PORT: "9000", EDGETILE_HOSTNAME: "::1" })), "tcp:[::1]:9000");
  assertEquals(
    permissionList("net", env({ EDGETILE_HOSTNAME: "10.0.0.5" })),
    "0.0.0.0,127.0.0.1,localhost,[::],10.0.0.5",
  );
  const remote = env({
    EDGETILE_ALLOWED_ORIGINS: "https://slides.example.org,http://10.1.2.3:9000",
    EDGETILE_SOURCE_PREFIXES: "s3://b/=https://b.s3.example.com/",
  });
  assertEquals(
    permissionList("net", remote),
    "0.0.0.0,127.0.0.1,localhost,[::],slides.example.org:443,10.1.2.3:9000,b.s3.example.com:443",
  );
  // S3: each bucket's virtual host in its region (or the one path-style endpoint); the AWS shared files.
  const s3 = { EDGETILE_S3_BUCKETS: "lab-a,lab-b", AWS_REGION: "eu-west-1", HOME: "/home/svc" };
  assertEquals(
    permissionList("net", env(s3)),
    "0.0.0.0,127.0.0.1,localhost,[::],lab-a.s3.eu-west-1.amazonaws.com:443,lab-b.s3.eu-west-1.amazonaws.com:443",
  );
  const swift = { ...s3, EDGETILE_S3_FORCE_PATH_STYLE: "true", AWS_ENDPOINT_URL_S3: "http://10.0.0.9:8080" };
  assertEquals(permissionList("net", env(swift)), "0.0.0.0,127.0.0.1,localhost,[::],10.0.0.9:8080");
  assertEquals(permissionList("read", env(s3)), ".,./samples,./data,/home/svc/.aws/credentials,/home/svc/.aws/config");
  let message = "";
  try {
    permissionList("read", env({ EDGETILE_IMAGES_DIR: "/a,/etc" }));
  } catch (err) {
    message = (err as Error).message;
  }
  assert(/comma/.test(message), "a comma would widen the grant");
});

Deno.test("every setting is documented in the README and readable by both tasks (--allow-env)", async () => {
  const root = new URL("../", import.meta.url);
  const readme = await Deno.readTextFile(new URL("README.md", root));
  const tasks = JSON.parse(await Deno.readTextFile(new URL("deno.json", root))).tasks;
  for (const task of ["start", "serve"]) {
    assert(/"\$\(deno run [^)]*cli\/permissions\.ts env\)" (?:server|main)\.ts/.test(tasks[task]), task);
  }
  const allowEnv = envFlag(() => undefined).replace("--allow-env=", "").split(",");
  for (const name of Object.keys(CONFIG_VARIABLES)) {
    assert(new RegExp(`^\\| \`${envName(name)}\` +\\|`, "m").test(readme), `${envName(name)} in the README's table`);
    assert(allowEnv.includes(envName(name)), `${envName(name)} readable by the start and serve tasks`);
  }
  for (const name of ["AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AZURE_STORAGE_SAS_TOKEN", "DENO_KV_ACCESS_TOKEN"]) {
    assert(allowEnv.includes(name), name);
  }
  assertEquals(envFlag((n) => (n === "AZURE_STORAGE_KEY" ? "k" : undefined)), "--allow-env", "the SDK lists all");
});

/**
 * What an operator meets (issue 37): the Kubernetes manifest's settings start the service as they stand; no
 * filesystem path in a public answer; Aperio properties without a trailing NUL; every log line JSON in
 * JSON mode, the access log with the client (the proxy's word under TRUST_PROXY) and its user agent; an
 * install that warns of no ignored build script.
 */
import { assert, assertEquals } from "./assert.ts";
import { get, startTask, withServer } from "./helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const ROOT = new URL("../", import.meta.url).pathname;
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** The `env` entries of deploy/kubernetes.yaml's container (`- { name: X, value: "Y" }`). */
async function manifestEnv(): Promise<Record<string, string>> {
  const yaml = await Deno.readTextFile(`${ROOT}deploy/kubernetes.yaml`);
  const env: Record<string, string> = {};
  for (const m of yaml.matchAll(/-\s*\{\s*name:\s*(\w+),\s*value:\s*"([^"]*)"\s*\}/g)) env[m[1]] = m[2];
  return env;
}

Deno.test(
  "the Kubernetes manifest: marked where to change it, a pull policy for a local image, its env starts",
  opts,
  async () => {
    const yaml = await Deno.readTextFile(`${ROOT}deploy/kubernetes.yaml`);
    const image = /^\s*image:\s*(\S+)/m.exec(yaml)?.[1] ?? "";
    assert(!image.endsWith(":latest") && image.includes(":"), `a pinned tag, not latest (${image})`);
    assertEquals(/imagePullPolicy:\s*(\w+)/.exec(yaml)?.[1], "IfNotPresent");
    for (const what of ["image:", "EDGETILE_PUBLIC_URL", "claimName"]) {
      const line = yaml.split("\n").findIndex((l) => l.includes(what));
      const around = yaml.split("\n").slice(Math.max(0, line - 2), line + 1).join("\n");
      assert(/CHANGE/.test(around), `${what} is marked as one to change`);
    }
    // The service started with exactly the manifest's environment (the slides volume is ./samples here).
    const env = await manifestEnv();
    assert(env.EDGETILE_PUBLIC_URL && env.EDGETILE_IMAGES_DIR, JSON.stringify(env));
    // Its Redis (edgetile-redis) is tests/deploy_test.ts's: here the pod runs uncached.
    const { url, child, output } = await startTask(
      { ...env, EDGETILE_KV_PATH: "off", EDGETILE_CACHE_URL: "" },
      "start",
    );
    try {
      assertEquals((await get(`${url}/ready`)).status, 200);
      const list = JSON.parse(text((await get(`${url}/images`)).body));
      const cmu = list.images.find((i: { id: string }) => i.id === "CMU-1-Small-Region.svs");
      assert(cmu.urls.dzi.startsWith(`${env.EDGETILE_PUBLIC_URL}/dzi/`), cmu.urls.dzi);
      const health = JSON.parse(text((await get(`${url}/health`)).body));
      assertEquals(health.workers, Number(env.EDGETILE_WORKERS));
      assertEquals(health.memory.pixelCacheLimitBytes, Number(env.EDGETILE_PIXEL_CACHE_MB) * 2 ** 20);
    } finally {
      child.kill("SIGTERM");
      await output();
    }
  },
);

Deno.test("no filesystem path in /health or /ready; Aperio properties end without a NUL", opts, async () => {
  await withServer({ KV_PATH: "off" }, async (s) => {
    for (const path of ["/health", "/ready"]) {
      const body = text((await get(s.url + path)).body);
      assert(!body.includes(ROOT.slice(0, -1)) && !/"\/|\s\/\w/.test(body), `${path}: ${body}`);
    }
    const health = JSON.parse(text((await get(`${s.url}/health`)).body));
    if (health.codecs.tier === "native") assert(/^libturbojpeg/.test(health.codecs.library), health.codecs.library);
    const info = JSON.parse(text((await get(`${s.url}/images/CMU-1-Small-Region.svs`)).body));
    const values = Object.values(info.properties) as string[];
    assert(values.length > 10 && values.every((v) => !v.includes("\u0000")), JSON.stringify(info.properties));
    assertEquals(info.properties["aperio.OriginalHeight"], "32914");
  });
});

Deno.test(
  "JSON logs are JSON on every line (deno serve's listening line too); access lines name the client",
  opts,
  async () => {
    for (const task of ["serve", "start"]) {
      const { url, child, output } = await startTask({
        EDGETILE_LOG_FORMAT: "json",
        EDGETILE_KV_PATH: "off",
        EDGETILE_TRUST_PROXY: task === "start" ? "true" : "false",
      }, task);
      try {
        const plain = await fetch(`${url}/health`, { headers: { "User-Agent": "operator-test/1" } });
        await plain.body?.cancel();
        if (task === "start") {
          const proxied = await fetch(`${url}/health`, {
            headers: { "User-Agent": "behind-proxy/2", "X-Forwarded-For": "203.0.113.9, 10.0.0.1" },
          });
          await proxied.body?.cancel();
        }
      } finally {
        child.kill("SIGTERM");
      }
      const { stdout, stderr } = await output();
      const lines = stdout.split("\n").filter(Boolean);
      for (const line of lines) JSON.parse(line); // every line of the log is JSON
      // stderr: deno task's own "Task …" line, then JSON only (no plain "Listening on").
      for (const line of stderr.split("\n").filter((l) => l && !l.slice(0, 24).includes("Task"))) JSON.parse(line);
      assert(lines.some((l) => JSON.parse(l).msg.startsWith("edgetile on http://")), `${task}: the listening line`);
      const access = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "request" && l.path === "/health");
      const direct = access.find((l) => l.ua === "operator-test/1");
      assertEquals(direct?.client, "127.0.0.1", `${task}: the client's own address, through the guard too`);
      if (task === "start") {
        assertEquals(access.find((l) => l.ua === "behind-proxy/2")?.client, "203.0.113.9", "the proxy's client");
      }
    }
  },
);

Deno.test(
  "installing the dependencies warns of no ignored build script (jpeg-turbo's is denied: prebuilt)",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      for (const f of ["deno.json", "deno.lock"]) await Deno.copyFile(`${ROOT}${f}`, `${dir}/${f}`);
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["install"],
        cwd: dir,
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const said = text(out.stdout) + text(out.stderr);
      assertEquals(out.code, 0, said);
      assert(!/Ignored build scripts/.test(said), said);
      assert(
        (await Deno.stat(`${dir}/node_modules/@julusian/jpeg-turbo/prebuilds`)).isDirectory,
        "its prebuilt library",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

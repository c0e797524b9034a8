/**
 * The fleet's deployment files, read and run where no container engine is needed (issue 40, part 3):
 * `deploy/kubernetes.yaml` and `deploy/docker-compose.yml` are parsed (npm `yaml`); their Redis runs here
 * as Debian's redis-server with the files' own arguments, their edgetile containers as `deno task start`
 * with the files' own environment (only the Redis host becomes 127.0.0.1 and its port the test's), and the
 * compose file's nginx, where Debian's nginx is installed, with its own configuration (the upstream's
 * hosts become the two local instances).
 */
import { parse, parseAllDocuments } from "yaml";
import { assert, assertEquals } from "./assert.ts";
import { get, type StartedTask, startTask, withServer } from "./helpers.ts";
import { startRedis } from "./redis.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const ROOT = new URL("../", import.meta.url).pathname;
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const has = (cmd: string) =>
  new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`] }).output().then((o) => o.success, () => false);
const redisOpts = { ...opts, ignore: !(await has("redis-server")) && Deno.env.get("CI") !== "true" };

// deno-lint-ignore no-explicit-any
type Doc = any;

/** A redis:// URL with its host and port replaced by the test's Redis on 127.0.0.1. */
function local(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = "127.0.0.1";
  u.port = String(port);
  return u.href;
}

async function stop(tasks: StartedTask[]) {
  for (const t of tasks) t.child.kill("SIGTERM");
  await Promise.all(tasks.map((t) => t.output()));
}

Deno.test(
  "kubernetes.yaml: its Redis and its pods' environment run; the HPA, Services and labels agree",
  redisOpts,
  async () => {
    const docs: Doc[] = parseAllDocuments(await Deno.readTextFile(`${ROOT}deploy/kubernetes.yaml`)).map((d) =>
      d.toJS()
    );
    const find = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);
    const app = find("Deployment", "edgetile"), cache = find("Deployment", "edgetile-redis");
    const hpa = find("HorizontalPodAutoscaler", "edgetile");
    assert(app && cache && hpa, `the documents: ${docs.map((d) => `${d.kind}/${d.metadata.name}`)}`);
    assertEquals(hpa.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: "edgetile" });
    assert(hpa.spec.minReplicas >= 2 && hpa.spec.metrics[0].resource.name === "cpu", "a fleet, scaled on CPU");
    for (const [svc, dep] of [["edgetile", app], ["edgetile-redis", cache]]) {
      const selector = find("Service", svc).spec.selector;
      for (const [k, v] of Object.entries(selector)) assertEquals(dep.spec.template.metadata.labels[k], v, svc);
    }
    const container = app.spec.template.spec.containers[0];
    const env: Record<string, string> = Object.fromEntries(container.env.map((e: Doc) => [e.name, e.value]));
    const cacheUrl = new URL(env.EDGETILE_CACHE_URL);
    assertEquals(cacheUrl.hostname, "edgetile-redis", "the pods reach Redis by its Service");
    const redisArgs: string[] = cache.spec.template.spec.containers[0].args;
    assertEquals(
      redisArgs.slice(redisArgs.indexOf("--maxmemory-policy"), 2 + redisArgs.indexOf("--maxmemory-policy")),
      [
        "--maxmemory-policy",
        "allkeys-lru",
      ],
    );
    const redis = await startRedis(redisArgs);
    const pods = [] as StartedTask[];
    try {
      const config = await new Deno.Command("redis-cli", {
        args: ["-p", String(redis.port), "config", "get", "maxmemory*"],
      })
        .output();
      assert(/allkeys-lru/.test(text(config.stdout)), text(config.stdout));
      for (let i = 0; i < 2; i++) {
        pods.push(
          await startTask({ ...env, EDGETILE_CACHE_URL: local(cacheUrl.href, redis.port) }),
        );
      }
      const ready = JSON.parse(text((await get(`${pods[0].url}/ready`)).body));
      assertEquals(ready.cache, { engine: "redis", reachable: true });
      const tile = "/dzi/CMU-1-Small-Region.svs_files/11/1_1.jpeg?op=gray";
      assertEquals((await get(pods[0].url + tile)).headers.get("x-cache"), "miss");
      for (let i = 0; i < 100 && (await redis.keys("*tile:*")).length === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assertEquals((await get(pods[1].url + tile)).headers.get("x-cache"), "hit", "one pod's tile, a hit on another");
    } finally {
      await stop(pods);
      await redis.stop();
    }
  },
);

Deno.test(
  "docker-compose.yml: two instances and its Redis run; its nginx config balances over both",
  redisOpts,
  async () => {
    const compose: Doc = parse(await Deno.readTextFile(`${ROOT}deploy/docker-compose.yml`));
    const instances = Object.keys(compose.services).filter((s) => compose.services[s].image.startsWith("edgetile:"));
    assertEquals(instances.length, 2);
    const redisArgs: string[] = compose.services.redis.command;
    assert(redisArgs.includes("allkeys-lru"), redisArgs.join(" "));
    const redis = await startRedis(redisArgs);
    const servers = [] as StartedTask[];
    const dir = await Deno.makeTempDir();
    let nginx: Deno.ChildProcess | undefined;
    try {
      for (const name of instances) {
        const env: Record<string, string> = compose.services[name].environment;
        assertEquals(new URL(env.EDGETILE_CACHE_URL).hostname, "redis");
        servers.push(await startTask({ ...env, EDGETILE_CACHE_URL: local(env.EDGETILE_CACHE_URL, redis.port) }));
      }
      // nginx's own file: the upstream names both instances at the port they listen on.
      let conf: string = compose.configs.nginx.content.replaceAll("$$", "$");
      for (const [i, name] of instances.entries()) {
        const at = `server ${name}:${compose.services[name].environment.EDGETILE_PORT};`;
        assert(conf.includes(at), `the upstream has ${at}`);
        conf = conf.replace(at, `server 127.0.0.1:${servers[i].port};`);
      }
      if (!(await has("nginx"))) { // the files and both instances checked; nginx itself where installed (CI installs it)
        assert(Deno.env.get("CI") !== "true", "nginx is not installed");
        return;
      }
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (l.addr as Deno.NetAddr).port;
      l.close();
      conf = conf.replace("listen 80;", `listen 127.0.0.1:${port};`);
      await Deno.writeTextFile(
        `${dir}/nginx.conf`,
        `daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;\nevents {}\nhttp {\naccess_log off;\n` +
          ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `${t}_temp_path ${dir}/${t};\n`).join("") +
          `${conf}\n}\n`,
      );
      nginx = new Deno.Command("nginx", {
        args: ["-c", `${dir}/nginx.conf`, "-e", `${dir}/error.log`],
        stderr: "piped",
      })
        .spawn();
      const front = `http://127.0.0.1:${port}`;
      for (
        let i = 0;
        i < 100 && !(await fetch(`${front}/health`).then((r) => (r.body?.cancel(), r.ok), () => false));
        i++
      ) {
        await new Promise((r) => setTimeout(r, 100));
      }
      // Through nginx: both instances answer in turn, the tile computed once and a hit wherever it lands.
      const tile = "/dzi/CMU-1-Small-Region.svs_files/12/2_3.png?op=threshold";
      const answers = [];
      for (let i = 0; i < 6; i++) {
        answers.push(await get(front + tile));
        if (i === 0) {
          for (let k = 0; k < 100 && (await redis.keys("*tile:*")).length === 0; k++) {
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      }
      assertEquals(answers.map((a) => a.status), [200, 200, 200, 200, 200, 200]);
      assertEquals(answers.map((a) => a.headers.get("x-cache")), ["miss", "hit", "hit", "hit", "hit", "hit"]);
      const links = JSON.parse(text((await get(`${front}/images`)).body)).images[0].urls.dzi as string;
      assert(links.startsWith(`${compose.services[instances[0]].environment.EDGETILE_PUBLIC_URL}/`), links);
      const counts = await Promise.all(servers.map(async (s) => {
        const m = text((await get(`${s.url}/metrics`)).body);
        const sum = (re: RegExp) => [...m.matchAll(re)].reduce((n, x) => n + Number(x[1]), 0);
        return [
          sum(/^edgetile_pipeline_runs_total(?:\{[^}]*\})? (\d+)/gm),
          sum(/^edgetile_http_requests_total\{[^}]*dzi[^}]*\} (\d+)/gm),
        ];
      }));
      assertEquals(counts[0][0] + counts[1][0], 1, `computed once over the fleet: ${counts}`);
      assert(counts.every(([, tiles]) => tiles >= 2), `round-robin reached both instances: ${counts}`);
    } finally {
      nginx?.kill("SIGTERM");
      await nginx?.output();
      await stop(servers);
      await redis.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/** Every file under `dir` (relative path → bytes). */
async function filesUnder(dir: string, at = ""): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for await (const e of Deno.readDir(`${dir}/${at}`)) {
    const rel = at ? `${at}/${e.name}` : e.name;
    if (e.isDirectory) { for (const [k, v] of await filesUnder(dir, rel)) out.set(k, v); }
    else out.set(rel, await Deno.readFile(`${dir}/${rel}`));
  }
  return out;
}

Deno.test(
  "export-job.yaml: its container run for each Job index gives shards that are the unsharded export",
  opts,
  async () => {
    const job: Doc = parse(await Deno.readTextFile(`${ROOT}deploy/export-job.yaml`));
    assertEquals([job.kind, job.spec.completionMode], ["Job", "Indexed"]);
    const container = job.spec.template.spec.containers[0];
    const env: Record<string, string> = Object.fromEntries(container.env.map((e: Doc) => [e.name, e.value]));
    assertEquals(container.volumeMounts[0].mountPath, env.OUT_DIR, "the shards land on the volume");
    await withServer({}, async (s) => {
      const dir = await Deno.makeTempDir();
      try {
        // The manifest's export, in shards small enough that the bundled slide gives several.
        const shardSize = "7";
        const first = await fetch(
          `${s.url}/images/${env.IMAGE}/patches.tar?${env.QUERY}&shard_size=${shardSize}&shard=0`,
        );
        await first.body?.cancel();
        const shards = Number(first.headers.get("x-shard-count"));
        assert(shards >= 3, `${shards} shards`);
        await Deno.mkdir(`${dir}/out`);
        for (let index = 0; index < shards; index++) {
          const out = await new Deno.Command(container.command[0], {
            args: container.command.slice(1),
            env: {
              ...env,
              EDGETILE_URL: s.url,
              SHARD_SIZE: shardSize,
              OUT_DIR: `${dir}/out`,
              JOB_COMPLETION_INDEX: `${index}`,
            },
            stderr: "piped",
          }).output();
          assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
        }
        const written = [...Deno.readDirSync(`${dir}/out`)].map((e) => e.name).sort();
        assertEquals(
          written,
          Array.from({ length: shards }, (_, k) => `${env.IMAGE}-${String(k).padStart(6, "0")}.tar`),
        );
        // Unpacked together, the shards are the unsharded export: the same samples, byte for byte.
        await Deno.writeFile(
          `${dir}/whole.tar`,
          (await get(`${s.url}/images/${env.IMAGE}/patches.tar?${env.QUERY}`)).body,
        );
        for (
          const [tar, into] of [[`${dir}/whole.tar`, "whole"], ...written.map((n) => [`${dir}/out/${n}`, "union"])]
        ) {
          await Deno.mkdir(`${dir}/${into}`, { recursive: true });
          const x = await new Deno.Command("tar", { args: ["-xf", tar, "-C", `${dir}/${into}`] }).output();
          assertEquals(x.code, 0);
        }
        const [whole, union] = [await filesUnder(`${dir}/whole`), await filesUnder(`${dir}/union`)];
        assert(whole.size > shards * 7 * 2 - 14, `${whole.size} files`);
        assertEquals([...union.keys()].sort(), [...whole.keys()].sort());
        for (const [name, bytes] of whole) assertEquals(union.get(name), bytes, name);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
);

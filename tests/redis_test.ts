/**
 * One cache for a fleet (issue 40, part 2): two edgetile instances on one real Redis (Debian's
 * `redis-server`, started here on a free loopback port). A tile computed on A is a hit on B with the same
 * ETag and bytes; a tile of megabytes round-trips; with Redis gone every tile is still served (uncached,
 * counted, /ready degraded), and once it is back the cache is shared again.
 */
import { assert, assertEquals } from "./assert.ts";
import { get, SAMPLES, startServer, type TestServer } from "./helpers.ts";
import { startRedis } from "./redis.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const hasRedis = await new Deno.Command("sh", { args: ["-c", "command -v redis-server"] }).output()
  .then((o) => o.success, () => false);
const redisOpts = { ...opts, ignore: !hasRedis && Deno.env.get("CI") !== "true" };

/** Waits (a hang guard: 20 s) until `check` holds. */
async function until(check: () => Promise<boolean>, what: string) {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting: ${what}`);
}

Deno.test(
  "two instances share one Redis cache: a tile made on A is a hit on B; Redis down, tiles still served",
  redisOpts,
  async () => {
    const redis = await startRedis();
    const env = { IMAGES_DIR: SAMPLES, BACKEND: "workers", WORKERS: "1", CACHE_URL: redis.url, CACHE_PREFIX: "t1:" };
    const servers: TestServer[] = [startServer(env), startServer(env)];
    const [a, b] = servers;
    try {
      const tile = "/dzi/CMU-1-Small-Region.svs_files/12/3_5.png?op=gray";
      const first = await get(a.url + tile);
      assertEquals([first.status, first.headers.get("x-cache")], [200, "miss"]);
      await until(async () => (await redis.keys("t1:tile:*")).length > 0, "the tile written to Redis");
      const onB = await get(b.url + tile);
      assertEquals([onB.status, onB.headers.get("x-cache")], [200, "hit"], "computed on A, a hit on B");
      assertEquals(onB.headers.get("etag"), first.headers.get("etag"));
      assertEquals(onB.body, first.body);
      // A tile of megabytes (a whole-slide PNG) round-trips through Redis.
      const big = "/thumbnail/CMU-1-Small-Region.svs.png?width=2220&height=2967";
      const keys = (await redis.keys("t1:tile:*")).length;
      const bigA = await get(a.url + big);
      assert(bigA.body.length > 2_000_000, `a large tile: ${bigA.body.length} bytes`);
      await until(async () => (await redis.keys("t1:tile:*")).length > keys, "the large tile written");
      const bigB = await get(b.url + big);
      assertEquals(bigB.headers.get("x-cache"), "hit");
      assertEquals(bigB.body, bigA.body);
      // Redis gone: every tile is still an answer (computed, uncached), /ready says so.
      await redis.stop();
      const down = await Promise.all(
        [0, 1, 2, 3].map((i) => get(`${(i % 2 ? b : a).url}/dzi/CMU-1-Small-Region.svs_files/12/${i}_2.jpeg`)),
      );
      assertEquals(down.map((r) => r.status), [200, 200, 200, 200]);
      const ready = JSON.parse(new TextDecoder().decode((await get(`${a.url}/ready`)).body));
      assert(ready.degraded.some((d: string) => /Redis/.test(d)), JSON.stringify(ready));
      assertEquals(ready.cache, { engine: "redis", reachable: false });
      const metrics = new TextDecoder().decode((await get(`${a.url}/metrics`)).body);
      assert(/edgetile_kv_errors_total\{op="(get|set)"\} [1-9]/.test(metrics), "the failures are counted");
      // Back: the client reconnects by itself, and the cache is shared again (each probe a tile not asked yet).
      await redis.restart();
      let probe = "";
      for (let i = 0; (await redis.keys("t1:tile:*")).length === 0; i++) {
        if (i === 200) throw new Error("timed out waiting: caching resumed after Redis came back");
        probe = `/dzi/CMU-1-Small-Region.svs_files/12/${i % 8}_${Math.floor(i / 8) % 11}.png?op=threshold&t=${i % 256}`;
        assertEquals((await get(a.url + probe)).status, 200);
        await new Promise((r) => setTimeout(r, 100));
      }
      assertEquals((await get(b.url + probe)).headers.get("x-cache"), "hit", "shared again");
    } finally {
      for (const s of servers) await s.close();
      await redis.stop().catch(() => {});
    }
  },
);

/** The pipeline runs an instance counted so far (`edgetile_pipeline_runs_total`). */
async function pipelineRuns(s: TestServer): Promise<number> {
  const text = new TextDecoder().decode((await get(`${s.url}/metrics`)).body);
  return Number(/^edgetile_pipeline_runs_total (\d+)/m.exec(text)?.[1] ?? NaN);
}

Deno.test(
  "single-flight across instances: concurrent requests for one new tile on two instances compute it once",
  redisOpts,
  async () => {
    const redis = await startRedis();
    const env = { IMAGES_DIR: SAMPLES, BACKEND: "workers", WORKERS: "1", CACHE_URL: redis.url, CACHE_PREFIX: "t2:" };
    const servers: TestServer[] = [startServer(env), startServer(env)];
    try {
      // Each instance connected first (a command before that is refused at once: the tile would be computed
      // alone, as /ready's "reachable: false" says).
      for (const s of servers) {
        await until(
          async () => JSON.parse(new TextDecoder().decode((await get(`${s.url}/ready`)).body)).cache.reachable,
          "connected",
        );
      }
      for (const [i, op] of ["op=sobel", "op=mask&t=30", "op=quantize&levels=5"].entries()) {
        const before = (await pipelineRuns(servers[0])) + (await pipelineRuns(servers[1]));
        const tile = `/dzi/CMU-1-Small-Region.svs_files/12/${i + 2}_4.png?${op}`;
        const answers = await Promise.all(Array.from({ length: 8 }, (_, k) => get(servers[k % 2].url + tile)));
        assertEquals(answers.map((r) => r.status), Array(8).fill(200), op);
        assert(answers.every((r) => r.headers.get("etag") === answers[0].headers.get("etag")), `${op}: one ETag`);
        assert(answers.every((r) => r.body.length === answers[0].body.length), `${op}: the same bytes`);
        const after = (await pipelineRuns(servers[0])) + (await pipelineRuns(servers[1]));
        assertEquals(after - before, 1, `${op}: computed once across both instances`);
      }
    } finally {
      for (const s of servers) await s.close();
      await redis.stop().catch(() => {});
    }
  },
);

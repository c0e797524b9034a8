/**
 * A warm tile through the shared cache (issue 40): the same full-resolution tiles answered from Redis and
 * from a local Deno KV file, side by side, the memory LRU off on both (`MEMORY_CACHE_MB=0`: every answer is
 * the engine's), after one pass that stored them. Rounds alternate the two; wrk 1 thread, `--concurrency` in
 * flight. Target: Redis within 1.5× of KV's time a tile (p50 and p99). Starts Debian's `redis-server`.
 *
 *   deno run -A bench/fleet.ts [--rounds 3] [--seconds 5] [--concurrency 16]
 */
import { BENCH_SLIDE_ID, BENCH_SLIDE_SIDE, makeBenchSlide } from "./make_slide.ts";
import { benchArgs, ensureDebianPackages, median, type Result, shuffled, startServer, wrkLoad } from "./lib.ts";
import { startRedis } from "../tests/redis.ts";

const { rounds, seconds, concurrency } = benchArgs({ rounds: 3, seconds: 5, concurrency: 16 });

if (import.meta.main) {
  await ensureDebianPackages([["command -v redis-server", "redis-server"], ["command -v wrk", "wrk"]]);
  const slide = await makeBenchSlide();
  const slideDir = slide.slice(0, slide.lastIndexOf("/"));
  const redis = await startRedis();
  const kvDir = await Deno.makeTempDir();
  const common = { IMAGES_DIR: slideDir, BACKEND: "workers", MEMORY_CACHE_MB: "0", LOG_LEVEL: "warn" };
  const servers = {
    kv: await startServer({ ...common, KV_PATH: `${kvDir}/tiles.kv` }),
    redis: await startServer({ ...common, CACHE_URL: redis.url }),
  };
  try {
    // 1,024 distinct IIIF gray tiles of the slide's level 0, stored once on each server.
    const n = BENCH_SLIDE_SIDE / 256;
    const paths = shuffled(
      Array.from({ length: 1024 }, (_, i) => {
        const x = (i % n) * 256, y = Math.floor(i / n) * 256;
        return `/iiif/3/${BENCH_SLIDE_ID}/${x},${y},256,256/256,/0/gray.jpg`;
      }),
      3,
    );
    for (const s of Object.values(servers)) await wrkLoad("store", paths.map((p) => s.url + p), 60, concurrency);
    const results: Record<string, Result[]> = { kv: [], redis: [] };
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 ? ["redis", "kv"] as const : ["kv", "redis"] as const;
      for (const k of order) {
        const res = await wrkLoad(k, paths.map((p) => servers[k].url + p), seconds, concurrency, true);
        results[k].push(res);
        console.log(`round ${r + 1} ${k}: ${res.tilesPerSec.toFixed(0)} tiles/s, p50 ${res.p50} ms, p99 ${res.p99} ms`);
      }
    }
    const m = (k: string, f: (r: Result) => number) => median(results[k].map(f));
    console.log(
      `\nwarm tiles from the engine (memory LRU off), wrk 1 thread, ${concurrency} in flight, ${rounds} rounds`,
    );
    console.log("| engine | tiles/s | p50 ms | p99 ms |\n| --- | --- | --- | --- |");
    for (const k of ["kv", "redis"]) {
      console.log(
        `| ${k} | ${m(k, (r) => r.tilesPerSec).toFixed(0)} | ${m(k, (r) => r.p50)} | ${m(k, (r) => r.p99)} |`,
      );
    }
    console.log(
      `Redis / KV time a tile: p50 ${(m("redis", (r) => r.p50) / m("kv", (r) => r.p50)).toFixed(2)}×, p99 ${
        (m("redis", (r) => r.p99) / m("kv", (r) => r.p99)).toFixed(2)
      }× (target ≤ 1.5×)`,
    );
  } finally {
    for (const s of Object.values(servers)) await s.stop();
    await redis.stop();
    await Deno.remove(kvDir, { recursive: true });
  }
}

/**
 * Cache-hit tiles/s and latency under concurrent load: the server (`server.ts`, own process, loopback)
 * first computes a set of distinct tiles, then the client requests them over and over, 32 in flight, for
 * a bounded time. Memory hits (the LRU in front of KV) and KV hits (memory cache 0 MiB, a KV file) are
 * measured in one run, each at two loads (the client shares the 2 cores with the server).
 *
 *   deno run -A bench/cache.ts [--seconds 8 --concurrency 32]
 */
import { BENCH_SLIDE_ID, BENCH_SLIDE_SIDE, makeBenchSlide } from "./make_slide.ts";
import { DeepZoomGeometry } from "../pyramid/deepzoom.ts";
import { benchArgs, load, type Result, resultTable, startServer } from "./lib.ts";

const { seconds, concurrency, tiles } = benchArgs({ seconds: 8, concurrency: 32, tiles: 200 });

if (import.meta.main) {
  const slide = await makeBenchSlide();
  const dir = slide.slice(0, slide.lastIndexOf("/"));
  const geo = new DeepZoomGeometry(BENCH_SLIDE_SIDE, BENCH_SLIDE_SIDE, 254, 1);
  const top = geo.levelCount - 1;
  const [cols] = geo.tLevelCounts[top];
  const addresses = Array.from({ length: tiles }, (_, i) => `${top}/${(i * 7) % cols}_${Math.floor((i * 7) / cols)}`);
  const kvDir = await Deno.makeTempDir();
  const cases: { name: string; env: Record<string, string>; inFlight: number; etag?: boolean }[] = [
    { name: `memory hits, ${concurrency} in flight`, env: { KV_PATH: `${kvDir}/a.kv` }, inFlight: concurrency },
    { name: "memory hits, 8 in flight", env: { KV_PATH: `${kvDir}/a.kv` }, inFlight: 8 },
    {
      name: `KV hits (memory cache off), ${concurrency} in flight`,
      env: { KV_PATH: `${kvDir}/b.kv`, MEMORY_CACHE_MB: "0" },
      inFlight: concurrency,
    },
    {
      name: "KV hits (memory cache off), 8 in flight",
      env: { KV_PATH: `${kvDir}/b.kv`, MEMORY_CACHE_MB: "0" },
      inFlight: 8,
    },
  ];
  const results: Result[] = [];
  try {
    for (const c of cases) {
      const server = await startServer({ ...c.env, IMAGES_DIR: dir, BACKEND: "workers", WORKERS: "2" });
      try {
        const urls = addresses.map((a) => `${server.url}/dzi/${BENCH_SLIDE_ID}_files/${a}.jpeg`);
        await load("fill", urls, 60, 8);
        await new Promise((r) => setTimeout(r, 500)); // KV writes finish after the responses
        await load("warm-up", urls, 1, c.inFlight, true);
        results.push(await load(c.name, urls, seconds, c.inFlight, true));
      } finally {
        await server.stop();
      }
    }
  } finally {
    await Deno.remove(kvDir, { recursive: true });
  }
  console.log(`${tiles} distinct cached full-resolution tiles, ${seconds} s a case\n`);
  console.log(resultTable(results, "memory hits"));
  await Deno.mkdir(new URL("./out/", import.meta.url), { recursive: true });
  await Deno.writeTextFile(new URL("./out/cache.json", import.meta.url), JSON.stringify(results, null, 2));
}

/**
 * A cold tile from private object storage (issue 40): the same full-resolution IIIF gray tiles of the bench
 * slide from a local file and from a private bucket of a real SigV4 store (Debian's OpenStack Swift with
 * `s3api`, tests/swift.ts) on loopback, each tile asked once on fresh servers (memory LRU and KV off, so
 * every answer is computed), wrk with 1 and 2 threads. The store's requests are counted by a relay; its own
 * latency is measured alone (signed 64 KiB ranged GETs, as many in flight as the tiles). Target: the
 * bucket's time a tile within 1.5× of (the local file's + the store's latency), p50 and p99.
 *
 *   deno run -A bench/stores.ts [--rounds 3] [--concurrency 8] [--tiles 512]
 */
import { BENCH_SLIDE_ID, BENCH_SLIDE_SIDE, makeBenchSlide } from "./make_slide.ts";
import { benchArgs, ensureDebianPackages, median, type Result, shuffled, startServer, wrkLoad } from "./lib.ts";
import { countingRelay, startSwift, type TestS3 } from "../tests/swift.ts";

const { rounds, concurrency, tiles } = benchArgs({ rounds: 3, concurrency: 8, tiles: 512 });

/**
 * The store's own latency: `n` signed GETs of 64 KiB at scattered offsets, `inFlight` at a time, as the
 * server's reads come (ms: p50, p99).
 */
async function storeLatency(s3: TestS3, key: string, size: number, inFlight: number, n = 400) {
  const times: number[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    for (let i = next++; i < n; i = next++) {
      const offset = Math.floor(((i * 7919) % 1000) / 1000 * (size - 65536));
      const t0 = performance.now();
      const res = await s3.client.fetch(`${s3.endpoint}/${key}`, {
        headers: { Range: `bytes=${offset}-${offset + 65535}` },
      });
      await res.arrayBuffer();
      times.push(performance.now() - t0);
    }
  }));
  times.sort((a, b) => a - b);
  return [times[Math.floor(n / 2)], times[Math.floor(n * 0.99)]];
}

if (import.meta.main) {
  await ensureDebianPackages([
    ["command -v swift-proxy-server", "swift-proxy swift-account swift-container swift-object"],
    ["command -v memcached", "memcached"],
    ["command -v wrk", "wrk"],
  ]);
  const slide = await makeBenchSlide();
  const slideDir = slide.slice(0, slide.lastIndexOf("/"));
  const s3 = await startSwift();
  const relay = countingRelay(Number(new URL(s3.endpoint).port));
  try {
    await s3.put("slides", { [BENCH_SLIDE_ID]: await Deno.readFile(slide) });
    const size = (await Deno.stat(slide)).size;
    // Its latency one at a time, and with as many reads in flight as the server makes under this load.
    const alone = await storeLatency(s3, `slides/${BENCH_SLIDE_ID}`, size, 1);
    const [storeP50, storeP99] = await storeLatency(s3, `slides/${BENCH_SLIDE_ID}`, size, concurrency);
    console.log(
      `the store alone, a signed 64 KiB range: one at a time p50 ${alone[0].toFixed(2)} ms, p99 ${
        alone[1].toFixed(2)
      } ms; ${concurrency} in flight p50 ${storeP50.toFixed(2)} ms, p99 ${storeP99.toFixed(2)} ms`,
    );
    const common = { BACKEND: "workers", MEMORY_CACHE_MB: "0", KV_PATH: "off", LOG_LEVEL: "warn" };
    const env = {
      local: { ...common, IMAGES_DIR: slideDir },
      bucket: {
        ...common,
        IMAGES_DIR: slideDir,
        S3_BUCKETS: "slides",
        S3_FORCE_PATH_STYLE: "true",
        ALLOWED_ORIGINS: relay.url,
        AWS_ENDPOINT_URL_S3: relay.url,
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
        AWS_REGION: "us-east-1",
      },
    };
    const ids = { local: BENCH_SLIDE_ID, bucket: encodeURIComponent(`s3://slides/${BENCH_SLIDE_ID}`) };
    const n = BENCH_SLIDE_SIDE / 256;
    const results: Record<string, Result[]> = {};
    const gets: number[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const threads of [1, 2]) {
        // Distinct tiles each round and setting: every one is cold (never read by that server before).
        const cells = shuffled(Array.from({ length: n * n }, (_, i) => i), 7 + r * 2 + threads).slice(0, tiles);
        const order = (r + threads) % 2 ? ["bucket", "local"] as const : ["local", "bucket"] as const;
        for (const k of order) {
          const server = await startServer(env[k]);
          try {
            // Open the slide first (its header: not a tile's cost), then the tiles, each once.
            await (await fetch(`${server.url}/iiif/3/${ids[k]}/info.json`)).body?.cancel();
            const before = relay.counter.requests;
            const urls = cells.map((i) =>
              `${server.url}/iiif/3/${ids[k]}/${(i % n) * 256},${Math.floor(i / n) * 256},256,256/256,/0/gray.jpg`
            );
            const res = await wrkLoad(k, urls, 120, concurrency, false, threads);
            (results[`${k} ${threads}`] ??= []).push(res);
            if (k === "bucket") gets.push((relay.counter.requests - before) / res.tiles);
            console.log(
              `round ${r + 1}, ${threads} thread(s), ${k}: ${res.tilesPerSec.toFixed(0)} tiles/s, p50 ${res.p50} ms, ` +
                `p99 ${res.p99} ms${k === "bucket" ? `, ${gets.at(-1)!.toFixed(2)} store GETs a tile` : ""}`,
            );
          } finally {
            await server.stop();
          }
        }
      }
    }
    const m = (k: string, f: (r: Result) => number) => median(results[k].map(f));
    const spread = (k: string, f: (r: Result) => number) =>
      `${Math.min(...results[k].map(f)).toFixed(1)}–${Math.max(...results[k].map(f)).toFixed(1)}`;
    console.log(`\ncold IIIF gray tiles (caches off), ${tiles} a round, ${concurrency} in flight, ${rounds} rounds`);
    console.log("| source | wrk threads | tiles/s | p50 ms | p99 ms |\n| --- | --- | --- | --- | --- |");
    for (const threads of [1, 2]) {
      for (const k of ["local", "bucket"]) {
        const key = `${k} ${threads}`;
        console.log(
          `| ${k} | ${threads} | ${m(key, (r) => r.tilesPerSec).toFixed(0)} | ${m(key, (r) => r.p50)} (${
            spread(key, (r) => r.p50)
          }) | ${m(key, (r) => r.p99)} (${spread(key, (r) => r.p99)}) |`,
        );
      }
      const p50 = m(`bucket ${threads}`, (r) => r.p50) / (m(`local ${threads}`, (r) => r.p50) + storeP50);
      const p99 = m(`bucket ${threads}`, (r) => r.p99) / (m(`local ${threads}`, (r) => r.p99) + storeP99);
      console.log(
        `${threads} thread(s): bucket / (local + store latency): p50 ${p50.toFixed(2)}×, p99 ${p99.toFixed(2)}× ` +
          `(target ≤ 1.5×)`,
      );
    }
    console.log(
      `store GETs a tile: median ${median(gets).toFixed(2)} (${Math.min(...gets).toFixed(2)}–${
        Math.max(...gets).toFixed(2)
      })`,
    );
  } finally {
    relay.close();
    await s3.stop();
  }
}

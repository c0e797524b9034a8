/**
 * Load test (loopback, bounded): 64 requests in flight for 60 s against `server.ts` in its own process,
 * a mix of protocols, levels and ops over the benchmark slide and the samples, with cache hits and misses.
 * Reports requests/s, errors (anything but 200/304), latency and the server's peak RSS (sampled from
 * /proc every 500 ms) with what the server says its caches hold. Run: `deno task bench:load [--seconds 60
 * --concurrency 64]`; `LOAD_ENV='{"PIXEL_CACHE_MB":"64"}'` adds server settings
 * (`LOAD_FLAGS` Deno flags), `LOAD_SERIES=1` prints the
 * RSS samples. `--wrk 1` drives it with wrk instead (2 threads, `--concurrency` connections) over up to 60,000
 * distinct URLs of the same mix, each asked once in order: mostly misses, as an outside tester's list is.
 */
import { BENCH_SLIDE_ID, BENCH_SLIDE_SIDE, makeBenchSlide } from "./make_slide.ts";
import { benchArgs, startServer } from "./lib.ts";
import { wrkLoad } from "./wrk.ts";
import { DeepZoomGeometry } from "../pyramid/deepzoom.ts";

const { seconds, concurrency, wrk } = benchArgs({ seconds: 60, concurrency: 64, wrk: 0 });

/** mulberry32: a generator with a long period (the LCG below repeats after a few thousand URLs). */
function mulberry(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

if (import.meta.main) {
  const slide = await makeBenchSlide();
  const dir = slide.slice(0, slide.lastIndexOf("/"));
  await Deno.copyFile(new URL("../samples/CMU-1-Small-Region.svs", import.meta.url), `${dir}/cmu.svs`).catch(() => {});
  const kvDir = await Deno.makeTempDir();
  const server = await startServer({
    IMAGES_DIR: dir,
    BACKEND: "workers",
    WORKERS: "2",
    KV_PATH: `${kvDir}/cache.kv`,
    ...JSON.parse(Deno.env.get("LOAD_ENV") ?? "{}"),
  }, (Deno.env.get("LOAD_FLAGS") ?? "").split(" ").filter(Boolean));
  const r = wrk ? mulberry(42) : rng(42);
  const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)];
  // Every op (issue 41's mixed load), plain tiles most often.
  const ops = ["", "", "", "?op=gray", "?op=threshold", "?op=mask", "?op=quantize&levels=8", "?op=sobel"];
  const dz = new DeepZoomGeometry(BENCH_SLIDE_SIDE, BENCH_SLIDE_SIDE, 254, 1);
  const top = dz.levelCount - 1;
  const next = (): string => {
    const kind = r();
    if (kind < 0.45) {
      const level = pick([top - 4, top - 3, top - 2, top - 1, top, top, top]);
      const [cols, rows] = dz.tLevelCounts[level];
      return `/dzi/${BENCH_SLIDE_ID}_files/${level}/${Math.floor(r() * cols)}_${Math.floor(r() * rows)}.jpeg${
        pick(ops)
      }`;
    }
    if (kind < 0.65) {
      const z = pick([2, 3, 4, 5, 6]), n = 2 ** z;
      return `/xyz/${BENCH_SLIDE_ID}/${z}/${Math.floor(r() * n)}/${Math.floor(r() * n)}.png${pick(ops)}`;
    }
    if (kind < 0.8) {
      // IIIF tiles per the spec's formula (edge tiles cropped, size ceil(w/s),ceil(h/s)).
      // The SVS sample or the 16384² slide.
      const [id, W, H] = pick([["cmu.svs", 2220, 2967], [BENCH_SLIDE_ID, BENCH_SLIDE_SIDE, BENCH_SLIDE_SIDE]] as const);
      const s = pick([1, 2, 4, 8]), span = 256 * s;
      const x = Math.floor(r() * Math.ceil(W / span)) * span, y = Math.floor(r() * Math.ceil(H / span)) * span;
      const w = Math.min(span, W - x), h = Math.min(span, H - y);
      const quality = pick(["default", "gray", "bitonal"]);
      return `/iiif/3/${id}/${x},${y},${w},${h}/${Math.ceil(w / s)},${Math.ceil(h / s)}/0/${quality}.jpg`;
    }
    if (kind < 0.9) return `/thumbnail/${pick(["cmu.svs", BENCH_SLIDE_ID])}.jpg?width=${pick([128, 256, 512])}`;
    return pick(["/images", "/images/cmu.svs", "/dzi/cmu.svs.dzi", "/iiif/3/cmu.svs/info.json", "/health"]);
  };
  let peakRss = 0;
  // The server's resident memory, workers included (one process), from ps.
  const rssOf = async () => {
    const out = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(server.pid)] }).output();
    return Number(new TextDecoder().decode(out.stdout).trim() || 0) * 1024;
  };
  const series: number[] = [];
  const sampler = setInterval(async () => {
    const v = await rssOf();
    series.push(Math.round(v / 2 ** 20));
    peakRss = Math.max(peakRss, v);
  }, 500);
  const lat: number[] = [];
  const statuses = new Map<number, number>();
  let errors = 0;
  const t0 = performance.now(), deadline = t0 + seconds * 1000;
  if (wrk) {
    const urls = new Set<string>();
    for (let i = 0; i < 1_000_000 && urls.size < 60_000; i++) urls.add(server.url + next());
    const res = await wrkLoad("mixed", [...urls], seconds, concurrency, false, 2);
    clearInterval(sampler);
    console.log(
      `wrk -t2 -c${concurrency}, ${urls.size} distinct URLs: ${res.tiles} requests in ${seconds} s, ${
        res.tilesPerSec.toFixed(0)
      } req/s, errors ${res.errors}, p50 ${res.p50.toFixed(1)} ms, p99 ${res.p99.toFixed(1)} ms`,
    );
    if (Deno.env.get("LOAD_SERIES")) console.log("RSS MiB every 0.5 s:", series.join(" "));
    console.log(`server RSS: peak ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
    // Where the memory is at the end (the process's own accounting, MiB).
    const m = await (await fetch(`${server.url}/metrics`)).text();
    const sum = (name: string) =>
      [...m.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, "gm"))].reduce((a, x) => a + Number(x[1]), 0) /
      2 ** 20;
    console.log(
      "at the end, MiB: " + [
        "edgetile_process_rss_bytes",
        "edgetile_process_heap_total_bytes",
        "edgetile_process_heap_used_bytes",
        "edgetile_process_external_bytes",
        "edgetile_worker_heap_total_bytes",
        "edgetile_worker_heap_used_bytes",
        "edgetile_worker_external_bytes",
        "edgetile_pixel_cache_bytes",
        "edgetile_memory_cache_bytes",
        "edgetile_large_work_bytes",
        "edgetile_process_unaccounted_bytes",
      ].map((n) => `${n.replace(/^edgetile_|_bytes$/g, "")} ${sum(n).toFixed(0)}`).join(", "),
    );
    await server.stop();
    await Deno.remove(kvDir, { recursive: true });
    Deno.exit(res.errors ? 1 : 0);
  }
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      const s = performance.now();
      try {
        const res = await fetch(server.url + next());
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status !== 200 && res.status !== 304) errors++;
      } catch {
        errors++;
      }
      lat.push(performance.now() - s);
    }
  }));
  clearInterval(sampler);
  if (Deno.env.get("LOAD_SERIES")) console.log("RSS MiB every 0.5 s:", series.join(" "));
  const took = (performance.now() - t0) / 1000;
  const endRss = await rssOf();
  // What the server says it holds: the shared pixel budget and the tile cache (the rest is runtimes, heaps).
  const health = await (await fetch(`${server.url}/health`)).json();
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  const tileCache = Number(/^edgetile_memory_cache_bytes (\d+)/m.exec(metrics)?.[1] ?? 0);
  await server.stop();
  await Deno.remove(kvDir, { recursive: true });
  lat.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(1);
  console.log(
    `${concurrency} in flight for ${took.toFixed(1)} s: ${lat.length} requests, ${
      (lat.length / took).toFixed(0)
    } req/s`,
  );
  console.log(`errors: ${errors}; statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
  console.log(`latency ms: p50 ${pct(0.5)}, p99 ${pct(0.99)}, max ${lat.at(-1)!.toFixed(0)}`);
  console.log(
    `server RSS: peak ${(peakRss / 2 ** 20).toFixed(0)} MiB, at the end ${(endRss / 2 ** 20).toFixed(0)} MiB ` +
      `(pixel caches ${(health.memory.pixelCacheBytes / 2 ** 20).toFixed(0)} of ${
        (health.memory.pixelCacheLimitBytes / 2 ** 20).toFixed(0)
      } MiB, tile cache ${(tileCache / 2 ** 20).toFixed(0)} MiB)`,
  );
  if (errors > 0) Deno.exit(1);
}

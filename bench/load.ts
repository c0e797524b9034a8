/**
 * Load test (loopback, bounded): 64 requests in flight for 60 s against `server.ts` in its own process,
 * a mix of protocols, levels and ops over the benchmark slide and the samples, with cache hits and misses.
 * Reports requests/s, errors (anything but 200/304), latency and the server's peak RSS (sampled from
 * /proc every 500 ms) with what the server says its caches hold. Run: `deno task bench:load [--seconds 60
 * --concurrency 64]`; `LOAD_ENV='{"PIXEL_CACHE_MB":"64"}'` adds server settings, `LOAD_SERIES=1` prints the
 * RSS samples.
 */
import { BENCH_SLIDE_ID, BENCH_SLIDE_SIDE, makeBenchSlide } from "./make_slide.ts";
import { benchArgs, startServer } from "./lib.ts";
import { DeepZoomGeometry } from "../pyramid/deepzoom.ts";

const { seconds, concurrency } = benchArgs({ seconds: 60, concurrency: 64 });

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
  });
  const r = rng(42);
  const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)];
  const ops = ["", "", "", "?op=gray", "?op=threshold", "?op=mask", "?op=quantize&levels=8"];
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
      const s = pick([1, 2, 4, 8]), span = 256 * s;
      const x = Math.floor(r() * Math.ceil(2220 / span)) * span, y = Math.floor(r() * Math.ceil(2967 / span)) * span;
      const w = Math.min(span, 2220 - x), h = Math.min(span, 2967 - y);
      const quality = pick(["default", "gray", "bitonal"]);
      return `/iiif/3/cmu.svs/${x},${y},${w},${h}/${Math.ceil(w / s)},${Math.ceil(h / s)}/0/${quality}.jpg`;
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

/**
 * Where a gray or bitonal IIIF tile's time goes (issue 8's missed targets): distinct full-resolution
 * 256-px tiles of the benchmark slide from `server.ts` (2 workers), first one at a time (the cost of each
 * step, no queueing), then 16 in flight (as `bench:peers` runs them); each step's mean from the
 * responses' `Server-Timing` (read = fetch + JPEG decode, resample, op, encode = JPEG encode).
 *
 *   deno run --allow-read --allow-write --allow-net=127.0.0.1 --allow-env --allow-run bench/profile_gray.ts
 */
import { BENCH_SLIDE_ID, BENCH_SLIDE_SIDE, makeBenchSlide } from "./make_slide.ts";
import { startServer } from "./lib.ts";

/** Mean milliseconds per `Server-Timing` step and of the whole request, over `urls` with `concurrency`. */
async function profile(urls: string[], concurrency: number): Promise<Record<string, number>> {
  const sums: Record<string, number> = {};
  let next = 0, wall = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < urls.length) {
      const u = urls[next++];
      const s = performance.now();
      const r = await fetch(u);
      await r.arrayBuffer();
      wall += performance.now() - s;
      for (const part of (r.headers.get("server-timing") ?? "").split(",")) {
        const m = /^\s*(\w+);dur=([\d.]+)/.exec(part);
        if (m) sums[m[1]] = (sums[m[1]] ?? 0) + Number(m[2]);
      }
    }
  }));
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(sums)) out[k] = v / urls.length;
  out.request = wall / urls.length;
  out.tilesPerSec = urls.length / ((performance.now() - t0) / 1000);
  return out;
}

if (import.meta.main) {
  const slide = await makeBenchSlide();
  const dir = slide.slice(0, slide.lastIndexOf("/"));
  const n = BENCH_SLIDE_SIDE / 256;
  const tile = (i: number) => `${((i * 37) % n) * 256},${(Math.floor((i * 37) / n) % n) * 256},256,256`;
  const server = await startServer({ IMAGES_DIR: dir, BACKEND: "workers", WORKERS: "2", KV_PATH: "off" });
  try {
    const url = (i: number, q: string) => `${server.url}/iiif/3/${BENCH_SLIDE_ID}/${tile(i)}/256,/0/${q}.jpg`;
    await profile(Array.from({ length: 32 }, (_, i) => url(3000 + i, "gray")), 4); // warm-up
    const rows: string[] = [
      "| quality | in flight | tiles/s | request ms | read | resample | op | encode |",
      "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ];
    let base = 0;
    for (const q of ["default", "gray", "bitonal"]) {
      for (const c of [1, 16]) {
        const p = await profile(Array.from({ length: 400 }, (_, i) => url(base + i, q)), c);
        base += 400;
        const f = (k: string) => (p[k] ?? 0).toFixed(2);
        rows.push(
          `| ${q} | ${c} | ${p.tilesPerSec.toFixed(0)} | ${f("request")} | ${f("read")} | ${f("resample")} | ${
            f("op")
          } | ${f("encode")} |`,
        );
      }
    }
    console.log(rows.join("\n"));
  } finally {
    await server.stop();
  }
}

/**
 * OME-Zarr chunks/s against tiles/s of the same pixels: distinct 256² chunks of the benchmark slide
 * (16384², 256-px JPEG tiles; bench/make_slide.ts) at level 0 (one stored tile decoded a chunk) and level 2,
 * the tissue label at level 2, against 256-px IIIF PNG tiles of the same windows (the same decode, a PNG
 * encode instead of zstd) and the pass-through JPEG. One server, tile caches off (KV off, memory cache 0),
 * wrk on loopback, each case its own distinct windows.
 *
 *   deno task bench:zarr [--seconds 10] [--concurrency 16]
 */
import { BENCH_SLIDE_ID, BENCH_SLIDE_SIDE, makeBenchSlide } from "./make_slide.ts";
import { benchArgs, load, type Result, resultTable, shuffled, startServer, wrkLoad } from "./lib.ts";

const { seconds: SECONDS, concurrency: CONCURRENCY } = benchArgs({ seconds: 10, concurrency: 16 });

/** The chunk grid positions of a level, in a scattered order that is the same every run. */
function positions(side: number, seed: number): [number, number][] {
  const n = Math.ceil(side / 256), out: [number, number][] = [];
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) out.push([x, y]);
  return shuffled(out, seed);
}

if (import.meta.main) {
  const slide = await makeBenchSlide();
  const dir = slide.slice(0, slide.lastIndexOf("/"));
  const id = BENCH_SLIDE_ID;
  const server = await startServer({
    IMAGES_DIR: dir,
    BACKEND: "workers",
    WORKERS: "2",
    KV_PATH: "off",
    MEMORY_CACHE_MB: "0",
  });
  const results: Result[] = [];
  try {
    const u = server.url;
    // Level 0: 4096 windows; each case takes its own quarter so none sees another's decoded tiles.
    const l0 = positions(BENCH_SLIDE_SIDE, 7), q = Math.floor(l0.length / 4);
    const l2 = positions(BENCH_SLIDE_SIDE / 4, 11), h = Math.floor(l2.length / 2);
    const iiif = (x: number, y: number, s: number, ext: string) =>
      `${u}/iiif/3/${id}/${x * 256 * s},${y * 256 * s},${256 * s},${256 * s}/256,256/0/default.${ext}`;
    const cases: [string, string[]][] = [
      ["zarr chunk, level 0 (zstd)", l0.slice(0, q).map(([x, y]) => `${u}/zarr/${id}/0/0/${y}/${x}`)],
      ["IIIF 256-px PNG, level 0", l0.slice(q, 2 * q).map(([x, y]) => iiif(x, y, 1, "png"))],
      ["IIIF 256-px JPEG pass-through, level 0", l0.slice(2 * q, 3 * q).map(([x, y]) => iiif(x, y, 1, "jpg"))],
      ["zarr chunk, level 2", l2.slice(0, h).map(([x, y]) => `${u}/zarr/${id}/2/0/${y}/${x}`)],
      ["IIIF 256-px PNG, level 2", l2.slice(h).map(([x, y]) => iiif(x, y, 4, "png"))],
      [
        "zarr tissue label chunk, level 2",
        l2.slice(0, h).map(([x, y]) => `${u}/zarr/${id}/labels/tissue/2/0/${y}/${x}`),
      ],
    ];
    await load("warm-up", [`${u}/zarr/${id}/.zmetadata`, iiif(0, 0, 1, "png")], 5, 2);
    for (const [name, urls] of cases) {
      results.push(await wrkLoad(name, urls, SECONDS, CONCURRENCY));
      console.log(`  ${name}: ${results.at(-1)!.tilesPerSec.toFixed(0)}/s`);
    }
  } finally {
    await server.stop();
  }
  console.log(resultTable(results, results[0].name));
}

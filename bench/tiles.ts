/**
 * Tiles/s for distinct full-resolution Deep Zoom tiles of a large pyramidal TIFF (bench/make_slide.ts),
 * served by `server.ts` in its own process (both cores busy: 2 workers plus the router), loopback only,
 * bounded in tiles and seconds. Compares backends and formats in one run and prints ratios.
 *
 *   deno task bench            # all cases
 *   deno task bench --seconds 10 --concurrency 8
 */
import { BENCH_SLIDE_ID, BENCH_SLIDE_SIDE, makeBenchSlide } from "./make_slide.ts";
import { DeepZoomGeometry } from "../pyramid/deepzoom.ts";
import { benchArgs, load, type Result, resultTable, shuffled, startServer } from "./lib.ts";

const { seconds: SECONDS, concurrency: CONCURRENCY } = benchArgs({ seconds: 12, concurrency: 8 });

if (import.meta.main) {
  const slide = await makeBenchSlide();
  const dir = slide.slice(0, slide.lastIndexOf("/"));
  const id = BENCH_SLIDE_ID;
  const geo = new DeepZoomGeometry(BENCH_SLIDE_SIDE, BENCH_SLIDE_SIDE, 254, 1);
  const top = geo.levelCount - 1;
  const [cols, rows] = geo.tLevelCounts[top];
  const addresses: string[] = [];
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) addresses.push(`${top}/${c}_${r}`);
  // Each case gets its own slice of tiles so no case sees tiles another one decoded.
  const order = shuffled(addresses);
  const workers = { BACKEND: "workers", WORKERS: "2" };
  const cases: { name: string; env: Record<string, string>; ext: string; query: string }[] = [
    { name: "workers ×2, jpeg", env: workers, ext: "jpeg", query: "" },
    { name: "inline, jpeg", env: { BACKEND: "inline" }, ext: "jpeg", query: "" },
    { name: "workers ×2, png", env: workers, ext: "png", query: "" },
    { name: "workers ×2, webp", env: workers, ext: "webp", query: "" },
    { name: "workers ×2, gray png", env: workers, ext: "png", query: "?op=gray" },
    { name: "workers ×2, threshold (otsu) png", env: workers, ext: "png", query: "?op=threshold" },
    { name: "workers ×2, mask (otsu) png", env: workers, ext: "png", query: "?op=mask" },
    { name: "workers ×2, quantize levels=8 png", env: workers, ext: "png", query: "?op=quantize&levels=8" },
    { name: "workers ×2, quantize palette=16 png", env: workers, ext: "png", query: "?op=quantize&palette=16" },
  ];
  const per = Math.floor(order.length / cases.length);
  // XYZ zoom 5 reads the slide's stored level 1 (8160², 256-px JPEG tiles): JPEG tiles pass through.
  const z5: string[] = [];
  for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) z5.push(`5/${x}/${y}`);
  const z5order = shuffled(z5, 7);
  console.log(
    `slide ${BENCH_SLIDE_SIDE}² (${
      cols * rows
    } full-resolution Deep Zoom tiles), concurrency ${CONCURRENCY}, ≤ ${SECONDS} s a case`,
  );
  const results: Result[] = [];
  for (const [i, c] of cases.entries()) {
    const server = await startServer({ ...c.env, IMAGES_DIR: dir, KV_PATH: "off" });
    try {
      // Warm-up on tiles outside the measured slice (workers started, codecs compiled, image stats computed).
      await load(
        "warm-up",
        order.slice(-16).map((a) => `${server.url}/dzi/${id}_files/${a}.${c.ext}${c.query}`),
        SECONDS,
        CONCURRENCY,
      );
      const slice = order.slice(i * per, (i + 1) * per);
      results.push(
        await load(
          c.name,
          slice.map((a) => `${server.url}/dzi/${id}_files/${a}.${c.ext}${c.query}`),
          SECONDS,
          CONCURRENCY,
        ),
      );
    } finally {
      await server.stop();
    }
  }
  for (
    const [name, ext] of [["workers ×2, xyz z5 jpeg (stored-tile pass-through)", "jpg"], [
      "workers ×2, xyz z5 png (decode + encode)",
      "png",
    ]]
  ) {
    const server = await startServer({ BACKEND: "workers", WORKERS: "2", IMAGES_DIR: dir, KV_PATH: "off" });
    try {
      const half = name.includes("jpeg") ? z5order.slice(0, 480) : z5order.slice(480);
      await load("warm-up", half.slice(-16).map((a) => `${server.url}/xyz/${id}/${a}.${ext}`), SECONDS, CONCURRENCY);
      results.push(
        await load(name, half.slice(0, 460).map((a) => `${server.url}/xyz/${id}/${a}.${ext}`), SECONDS, CONCURRENCY),
      );
    } finally {
      await server.stop();
    }
  }
  console.log("\n" + resultTable(results, "workers jpeg"));
  await Deno.mkdir(new URL("./out/", import.meta.url), { recursive: true });
  await Deno.writeTextFile(new URL("./out/tiles.json", import.meta.url), JSON.stringify(results, null, 2));
}

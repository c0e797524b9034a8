/**
 * Tiles/s for distinct full-resolution Deep Zoom tiles of a large pyramidal TIFF (bench/make_slide.ts),
 * served by `server.ts` in its own process (both cores busy: 2 workers plus the router), loopback only,
 * bounded in tiles and seconds. Compares backends and formats in one run and prints ratios.
 *
 *   deno task bench            # all cases
 *   deno task bench --seconds 10 --concurrency 8
 */
import { makeBenchSlide } from "./make_slide.ts";
import { DeepZoomGeometry } from "../pyramid/deepzoom.ts";

const args = Object.fromEntries(
  Deno.args.join(" ").split("--").filter(Boolean).map((a) => a.trim().split(/\s+/)).map(([k, v]) => [k, v ?? "1"]),
);
const SECONDS = Number(args.seconds ?? 12);
const CONCURRENCY = Number(args.concurrency ?? 8);
const ROOT = new URL("..", import.meta.url).pathname;

interface Result {
  name: string;
  tiles: number;
  errors: number;
  seconds: number;
  tilesPerSec: number;
  p50: number;
  p99: number;
  bytes: number;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function startServer(env: Record<string, string>) {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-net", "--allow-env", "server.ts"],
    cwd: ROOT,
    env: { ...env, PORT: String(port), HOSTNAME: "127.0.0.1" },
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(`${url}/health`);
      await r.body?.cancel();
      if (r.ok) break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url,
    stop: async () => {
      child.kill();
      await child.status;
    },
  };
}

/** Fetches `urls` in order with `CONCURRENCY` in flight until done or `SECONDS` pass. */
async function load(name: string, urls: string[]): Promise<Result> {
  const lat: number[] = [];
  let next = 0, errors = 0, bytes = 0;
  const t0 = performance.now();
  const deadline = t0 + SECONDS * 1000;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < urls.length && performance.now() < deadline) {
      const u = urls[next++];
      const s = performance.now();
      const r = await fetch(u);
      const b = await r.arrayBuffer();
      lat.push(performance.now() - s);
      if (r.status !== 200) errors++;
      bytes += b.byteLength;
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  return {
    name,
    tiles: lat.length,
    errors,
    seconds,
    tilesPerSec: lat.length / seconds,
    p50: pct(0.5),
    p99: pct(0.99),
    bytes,
  };
}

/** Deterministic shuffle (distinct tiles in a scattered order, the same every run). */
function shuffled<T>(a: T[], seed = 1): T[] {
  const out = a.slice();
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

if (import.meta.main) {
  const slide = await makeBenchSlide();
  const dir = slide.slice(0, slide.lastIndexOf("/"));
  const id = "bench-slide.tif";
  const geo = new DeepZoomGeometry(16320, 16320, 254, 1);
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
  console.log(
    `slide 16320×16320 (${
      cols * rows
    } full-resolution Deep Zoom tiles), concurrency ${CONCURRENCY}, ≤ ${SECONDS} s a case`,
  );
  const results: Result[] = [];
  for (const [i, c] of cases.entries()) {
    const server = await startServer({ ...c.env, IMAGES_DIR: dir });
    try {
      // Warm-up on tiles outside the measured slice (workers started, codecs compiled, image stats computed).
      await load("warm-up", order.slice(-16).map((a) => `${server.url}/dzi/${id}_files/${a}.${c.ext}${c.query}`));
      const slice = order.slice(i * per, (i + 1) * per);
      results.push(await load(c.name, slice.map((a) => `${server.url}/dzi/${id}_files/${a}.${c.ext}${c.query}`)));
    } finally {
      await server.stop();
    }
  }
  const base = results[0].tilesPerSec;
  console.log("\n| case | tiles | errors | tiles/s | p50 ms | p99 ms | KiB/tile | vs workers jpeg |");
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of results) {
    console.log(
      `| ${r.name} | ${r.tiles} | ${r.errors} | ${r.tilesPerSec.toFixed(0)} | ${r.p50.toFixed(1)} | ${
        r.p99.toFixed(1)
      } | ${(r.bytes / r.tiles / 1024).toFixed(1)} | ${(r.tilesPerSec / base).toFixed(2)}× |`,
    );
  }
  await Deno.mkdir(new URL("./out/", import.meta.url), { recursive: true });
  await Deno.writeTextFile(new URL("./out/tiles.json", import.meta.url), JSON.stringify(results, null, 2));
}

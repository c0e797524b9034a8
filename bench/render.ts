/**
 * Channel composites (the render step), in one run:
 * - served: 256-px Deep Zoom tiles (JPEG q90) of a 16-channel uint16 OME-TIFF (1536×1024, written here by
 *   tifffile from the TCGA OME pyramid's four channels, shifted) compositing 3, 8 and 16 channels with
 *   explicit windows, from edgetile with BACKEND=workers and BACKEND=webgpu (this machine's adapter), tile
 *   and KV caches off (every request is real work: read, decode, render, encode), wrk, 8 connections;
 * - the composite step alone against numpy (Debian's python3-numpy, the reference's arithmetic with
 *   lookup tables, one thread) on the same decoded samples: edgetile's `renderRaster` in one thread.
 * Each case runs 3 times (median and spread). Bounded: ≤ 6 s per served case. Run: `deno task bench:render`.
 */
import { median, startServer, wrkLoad } from "./lib.ts";
import { openSource } from "../sources/open.ts";
import { renderRaster, resolveRender } from "../kernels/render.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const OUT = `${ROOT}bench/out`;
const FILE = `${OUT}/ome16.ome.tif`;
const CHANNELS = [3, 8, 16];
const COLORS = ["0000ff", "00ff00", "ff0000", "00ffff", "ff00ff", "ffff00", "ffffff", "808080"];

async function python(script: string, args: string[] = []): Promise<string> {
  const out = await new Deno.Command("/usr/bin/python3", { args: ["-c", script, ...args] }).output();
  if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

async function makeFile() {
  await Deno.mkdir(OUT, { recursive: true });
  if (await Deno.stat(FILE).catch(() => null)) return;
  await python(
    `
import sys, numpy as np, tifffile
s = tifffile.TiffFile(sys.argv[1]).series[0]
a = s.levels[0].asarray()
planes = np.stack([np.roll(a[k % 4], 7 * (k // 4), axis=1) for k in range(16)])
tifffile.imwrite(sys.argv[2], planes, ome=True, tile=(256, 256), compression="zlib", metadata={"axes": "CYX"})
`,
    [`${ROOT}tests/data/generated__tcga-hed-4ch-uint16_ome_pyramid.tif`, FILE],
  );
}

const query = (k: number) => {
  const c = Array.from({ length: k }, (_, i) => i);
  return `c=${c.join(",")}&color=${c.map((i) => COLORS[i % 8]).join(",")}&window=${
    c.map((i) => `${1000 + 300 * i}:${45000 + 500 * i}`).join(",")
  }`;
};

const spread = (v: number[]) => `${Math.min(...v).toFixed(0)}–${Math.max(...v).toFixed(0)}`;

if (import.meta.main) {
  await makeFile();
  const rows: string[] = [];
  for (const backend of ["workers", "webgpu"]) {
    const server = await startServer({
      IMAGES_DIR: OUT,
      BACKEND: backend,
      WORKERS: "2",
      KV_PATH: "off",
      MEMORY_CACHE_MB: "0",
    });
    try {
      const health = await (await fetch(`${server.url}/health`)).json();
      for (const k of CHANNELS) {
        const urls: string[] = [];
        for (let y = 0; y < 5; y++) {
          for (let x = 0; x < 7; x++) urls.push(`${server.url}/dzi/ome16.ome.tif_files/11/${x}_${y}.jpeg?${query(k)}`);
        }
        await wrkLoad("warm", urls, 3, 8, false);
        const runs: number[] = [];
        for (let r = 0; r < 3; r++) runs.push((await wrkLoad(`${k}ch`, urls, 6, 8, true)).tilesPerSec);
        rows.push(
          `| ${backend}${
            backend === "webgpu" ? ` (${health.backend?.adapter ?? health.gpu?.adapter ?? "adapter"})` : ""
          } ` +
            `| ${k} | ${median(runs).toFixed(0)} | ${spread(runs)} |`,
        );
        console.error(rows[rows.length - 1]);
      }
    } finally {
      await server.stop();
    }
  }
  // The composite step alone: numpy vs renderRaster on the same decoded 256² tiles (35 tiles of level 0).
  const source = await openSource({ path: FILE, version: "bench", maxPixels: 1e9 });
  const compute: string[] = [];
  for (const k of CHANNELS) {
    const c = Array.from({ length: k }, (_, i) => i);
    const tiles = [];
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 6; x++) {
        tiles.push(await source.readRegion(0, x * 256, y * 256, 256, 256, "samples", { c, z: 0, t: 0 }));
      }
    }
    const spec = resolveRender({
      c,
      color: c.map((i) => COLORS[i % 8]),
      window: c.map((i) => [1000 + 300 * i, 45000 + 500 * i] as [number, number]),
      stretch: "linear",
      z: 0,
      t: 0,
    }, { low: [], high: [] });
    const ours: number[] = [];
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      let n = 0;
      while (performance.now() - t0 < 1500) for (const t of tiles) (renderRaster(t, spec), n++);
      ours.push(n / ((performance.now() - t0) / 1000));
    }
    const numpy = (await python(
      `
import sys, time, json, numpy as np, tifffile
k = int(sys.argv[2]); colors = ${JSON.stringify(COLORS)}
a = tifffile.imread(sys.argv[1])[:k]
tiles = [a[:, y*256:(y+1)*256, x*256:(x+1)*256].transpose(1, 2, 0) for y in range(4) for x in range(6)]
luts = []
for i in range(k):
    lo, hi = 1000 + 300 * i, 45000 + 500 * i
    n = np.clip((np.arange(65536, dtype=np.float64) - lo) / (hi - lo), 0, 1)
    luts.append(np.floor(255 * n + 0.5).astype(np.uint32))
col = np.array([[int(colors[i % 8][j:j+2], 16) for j in (0, 2, 4)] for i in range(k)], dtype=np.uint32)
def composite(t):
    acc = np.full(t.shape[:2] + (3,), 127, np.uint32)
    for i in range(k):
        acc += luts[i][t[:, :, i]][:, :, None] * col[i]
    return np.minimum(255, acc // 255).astype(np.uint8)
out = []
for r in range(3):
    t0 = time.perf_counter(); n = 0
    while time.perf_counter() - t0 < 1.5:
        for t in tiles: composite(t); n += 1
    out.append(n / (time.perf_counter() - t0))
print(json.dumps(out))
`,
      [FILE, String(k)],
    )).trim();
    const np = JSON.parse(numpy) as number[];
    compute.push(
      `| ${k} | ${median(ours).toFixed(0)} (${spread(ours)}) | ${median(np).toFixed(0)} (${spread(np)}) | ` +
        `${(median(ours) / median(np)).toFixed(2)}× (${(Math.min(...ours) / Math.max(...np)).toFixed(2)}–${
          (Math.max(...ours) / Math.min(...np)).toFixed(2)
        }) |`,
    );
    console.error(compute[compute.length - 1]);
  }
  await source.close();
  console.log("| backend | channels | tiles/s (median of 3) | spread |\n|---|---|---|---|\n" + rows.join("\n"));
  console.log(
    "\n| channels | edgetile renderRaster tiles/s | numpy tiles/s | ratio (spread) |\n|---|---|---|---|\n" +
      compute.join("\n"),
  );
}

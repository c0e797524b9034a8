/**
 * Whole-slide export throughput against peers, in one run, on the benchmark slide (16384², 256-px JPEG tiles):
 * - edgetile: `GET /images/{id}/patches.tar` (server in its own process, 2 workers), 256-px JPEG q80 patches
 *   at full resolution — every tissue patch (min 0.5), every patch (min 0; on the stored 256-px tiles, so
 *   they pass through), and every 240-px patch (off the stored grid: decode + encode);
 * - `vips dzsave --depth one`: every full-resolution 256-px JPEG q80 tile (libvips-tools from Debian);
 * - openslide's DeepZoomGenerator in 2 processes (bench/peers/openslide_tiles.py, python3-openslide).
 * The setup step installs the Debian packages when missing. Bounded: each case ≤ 180 s. Run:
 * `deno task bench:patches`.
 */
import { BENCH_SLIDE_ID, makeBenchSlide } from "./make_slide.ts";
import { ensureDebianPackages, sh, startServer } from "./lib.ts";

async function countFiles(dir: string, ext: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) n += await countFiles(`${dir}/${e.name}`, ext);
    else if (e.name.endsWith(ext)) n++;
  }
  return n;
}

if (import.meta.main) {
  await ensureDebianPackages([
    ["command -v vips", "libvips-tools"],
    ["/usr/bin/python3 -c 'import openslide'", "python3-openslide"],
  ]);
  const slide = await makeBenchSlide();
  const dir = slide.slice(0, slide.lastIndexOf("/"));
  const work = await Deno.makeTempDir();
  const rows: { name: string; tiles: number; seconds: number }[] = [];
  try {
    const server = await startServer({ IMAGES_DIR: dir, BACKEND: "workers", WORKERS: "2", KV_PATH: "off" });
    try {
      const cases = [
        ["edgetile patches.tar, tissue patches (min 0.5)", 0.5, 256],
        ["edgetile patches.tar, all patches (min 0)", 0, 256],
        ["edgetile patches.tar, all 240-px patches (off the stored grid: decode + encode)", 0, 240],
      ] as const;
      for (const [name, min, size] of cases) {
        // Warm the image stats (tissue map) first, as a server that has seen the slide would have them.
        await (await fetch(`${server.url}/images/${BENCH_SLIDE_ID}/stats`)).arrayBuffer();
        const t0 = performance.now();
        const res = await fetch(
          `${server.url}/images/${BENCH_SLIDE_ID}/patches.tar?size=${size}&min=${min}&format=jpg&quality=80`,
          { signal: AbortSignal.timeout(180_000) },
        );
        const tar = new Uint8Array(await res.arrayBuffer());
        const seconds = (performance.now() - t0) / 1000;
        await Deno.writeFile(`${work}/p.tar`, tar);
        const listed = await sh("tar", ["-tf", `${work}/p.tar`]);
        const tiles = listed.out.trim().split("\n").filter((l) => l.endsWith(".jpg")).length;
        rows.push({ name, tiles, seconds });
      }
    } finally {
      await server.stop();
    }
    const vips = await sh("vips", [
      "dzsave",
      slide,
      `${work}/vips`,
      "--tile-size",
      "256",
      "--overlap",
      "0",
      "--depth",
      "one",
      "--suffix",
      ".jpg[Q=80]",
    ]);
    if (vips.code !== 0) console.log(vips.out);
    rows.push({
      name: "vips dzsave --depth one",
      tiles: await countFiles(`${work}/vips_files`, ".jpg"),
      seconds: vips.ms / 1000,
    });
    const osd = await sh("/usr/bin/python3", [
      new URL("./peers/openslide_tiles.py", import.meta.url).pathname,
      slide,
      `${work}/openslide`,
    ]);
    if (osd.code !== 0) console.log(osd.out);
    rows.push({
      name: "openslide DeepZoomGenerator, 2 processes",
      tiles: await countFiles(`${work}/openslide`, ".jpg"),
      seconds: osd.ms / 1000,
    });
  } finally {
    await Deno.remove(work, { recursive: true });
  }
  const vipsRate = rows.find((r) => r.name.startsWith("vips"))!;
  const base = vipsRate.tiles / vipsRate.seconds;
  console.log("| case | tiles | seconds | tiles/s | vs vips dzsave |\n| --- | --- | --- | --- | --- |");
  for (const r of rows) {
    const rate = r.tiles / r.seconds;
    console.log(
      `| ${r.name} | ${r.tiles} | ${r.seconds.toFixed(1)} | ${rate.toFixed(0)} | ${(rate / base).toFixed(2)}× |`,
    );
  }
}

/**
 * Whole-slide export throughput against peers, in one run, on the benchmark slide (16384², 256-px JPEG tiles):
 * - edgetile: `GET /images/{id}/patches.tar` (server in its own process, 2 workers), 256-px JPEG q80 patches
 *   at full resolution — every tissue patch (min 0.5), every patch (min 0; on the stored 256-px tiles, so
 *   they pass through), and every 240-px patch (off the stored grid: decode + encode);
 * - `vips dzsave --depth one`: every full-resolution 256-px JPEG q80 tile (libvips-tools from Debian);
 * - openslide's DeepZoomGenerator in 2 processes (bench/peers/openslide_tiles.py, python3-openslide).
 * The setup step installs the Debian packages when missing. Bounded: each case ≤ 180 s. `--rounds N`
 * (default 3) runs every case N times, in turn, on the same warm server; each row gives the median rate
 * and the median (min–max) of its per-round ratio to vips (vips dzsave alone ran at 630–1,400 tiles/s, even
 * within one invocation, on the 2-core development machine). Run: `deno task bench:patches [--rounds N]`.
 */
import { BENCH_SLIDE_ID, makeBenchSlide } from "./make_slide.ts";
import { benchArgs, ensureDebianPackages, median, sh, startServer } from "./lib.ts";

async function countFiles(dir: string, ext: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) n += await countFiles(`${dir}/${e.name}`, ext);
    else if (e.name.endsWith(ext)) n++;
  }
  return n;
}

if (import.meta.main) {
  const { rounds } = benchArgs({ rounds: 3 });
  await ensureDebianPackages([
    ["command -v vips", "libvips-tools"],
    ["/usr/bin/python3 -c 'import openslide'", "python3-openslide"],
  ]);
  const slide = await makeBenchSlide();
  const dir = slide.slice(0, slide.lastIndexOf("/"));
  const work = await Deno.makeTempDir();
  /** Per case, the rate of each round. */
  const rates = new Map<string, number[]>();
  const record = (name: string, tiles: number, seconds: number) => {
    if (!(tiles > 0)) throw new Error(`${name}: no tiles`);
    rates.set(name, [...rates.get(name) ?? [], tiles / seconds]);
  };
  const cases = [
    ["edgetile patches.tar, tissue patches (min 0.5)", 0.5, 256],
    ["edgetile patches.tar, all patches (min 0)", 0, 256],
    ["edgetile patches.tar, all 240-px patches (off the stored grid: decode + encode)", 0, 240],
  ] as const;
  const VIPS = "vips dzsave --depth one";
  try {
    const server = await startServer({ IMAGES_DIR: dir, BACKEND: "workers", WORKERS: "2", KV_PATH: "off" });
    try {
      // Warm the image stats (tissue map) first, as a server that has seen the slide would have them.
      await (await fetch(`${server.url}/images/${BENCH_SLIDE_ID}/stats`)).arrayBuffer();
      for (let round = 0; round < rounds; round++) {
        for (const [name, min, size] of cases) {
          const t0 = performance.now();
          const res = await fetch(
            `${server.url}/images/${BENCH_SLIDE_ID}/patches.tar?size=${size}&min=${min}&format=jpg&quality=80`,
            { signal: AbortSignal.timeout(180_000) },
          );
          const tar = new Uint8Array(await res.arrayBuffer());
          const seconds = (performance.now() - t0) / 1000;
          await Deno.writeFile(`${work}/p.tar`, tar);
          const listed = await sh("tar", ["-tf", `${work}/p.tar`]);
          record(name, listed.out.trim().split("\n").filter((l) => l.endsWith(".jpg")).length, seconds);
        }
        await Deno.remove(`${work}/vips_files`, { recursive: true }).catch(() => {});
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
        record(VIPS, await countFiles(`${work}/vips_files`, ".jpg"), vips.ms / 1000);
        await Deno.remove(`${work}/openslide`, { recursive: true }).catch(() => {});
        const osd = await sh("/usr/bin/python3", [
          new URL("./peers/openslide_tiles.py", import.meta.url).pathname,
          slide,
          `${work}/openslide`,
        ]);
        if (osd.code !== 0) console.log(osd.out);
        record(
          "openslide DeepZoomGenerator, 2 processes",
          await countFiles(`${work}/openslide`, ".jpg"),
          osd.ms / 1000,
        );
      }
    } finally {
      await server.stop();
    }
  } finally {
    await Deno.remove(work, { recursive: true });
  }
  const vipsRates = rates.get(VIPS)!;
  console.log(`${rounds} rounds, each case once a round, in turn`);
  console.log(
    "| case | tiles/s (median) | tiles/s a round | vs vips dzsave, median (range) |\n| --- | --- | --- | --- |",
  );
  for (const [name, r] of rates) {
    const ratios = r.map((v, i) => v / vipsRates[i]);
    const fmt = (x: number) => x.toFixed(2);
    console.log(
      `| ${name} | ${median(r).toFixed(0)} | ${r.map((v) => v.toFixed(0)).join(", ")} | ${fmt(median(ratios))}× ` +
        `(${fmt(Math.min(...ratios))}–${fmt(Math.max(...ratios))}) |`,
    );
  }
}

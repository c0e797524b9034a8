/**
 * The slide formats' speed (issue 38), side by side in one run, loopback only, tile caches off on every
 * server (`deno task bench:slides [--rounds N] [--seconds S] [--concurrency C] [--threads T]`: T wrk threads): Deep Zoom 254+1 tiles of
 * the full-resolution level, every tile once in a shuffled order, wrk as the client; every round on fresh
 * copies of the files (cold pixel caches everywhere: openslide's server is started on its own copy).
 *
 * - NDPI against a pyramidal JPEG TIFF of the same pixels (vips tiffsave of the NDPI, 256² tiles, Q90, the
 *   SVS reading path): target ≤ 1.5× the TIFF's cost;
 * - the dicomized CMU slide (DICOM folder) against the SVS it was made from: target ≤ 1.5×;
 * - edgetile against Debian's openslide `deepzoom_server.py` (gunicorn, 2 workers × 2 threads) on the NDPI:
 *   target ≥ 2×.
 */
import { benchArgs, ensureDebianPackages, median, type Result, sh, shuffled, startServer, wrkLoad } from "./lib.ts";
import { OPENSLIDE_PEER_PACKAGES, startOpenslide } from "./peers.ts";
import { DeepZoomGeometry } from "../pyramid/deepzoom.ts";

const { seconds, concurrency, rounds, threads } = benchArgs({ seconds: 10, concurrency: 16, rounds: 3, threads: 1 });
const DATA = new URL("../tests/data/", import.meta.url).pathname;

/** Every full-resolution Deep Zoom tile of a `w`×`h` image, shuffled (each once). */
function fullLevel(base: string, w: number, h: number): string[] {
  const dz = new DeepZoomGeometry(w, h, 254, 1);
  const top = dz.levelCount - 1, [cols, rows] = dz.tLevelCounts[top];
  const all = Array.from({ length: cols * rows }, (_, i) => `${base}/${top}/${i % cols}_${Math.floor(i / cols)}.jpeg`);
  return shuffled(all, 7);
}

if (import.meta.main) {
  await ensureDebianPackages([
    ...OPENSLIDE_PEER_PACKAGES,
    ["command -v wrk", "wrk"],
    ["command -v vips", "libvips-tools"],
  ]);
  const tmp = await Deno.makeTempDir();
  const src = `${tmp}/src`;
  await Deno.mkdir(src);
  await Deno.copyFile(`${DATA}slideio-tutorial__test3-DAPI-2-387.ndpi`, `${src}/slide.ndpi`);
  const vips = await sh("vips", [
    "tiffsave",
    `${src}/slide.ndpi`,
    `${src}/slide-pixels.tif`,
    "--tile",
    "--pyramid",
    "--compression=jpeg",
    "--Q=90",
    "--tile-width=256",
    "--tile-height=256",
  ]);
  if (vips.code !== 0) throw new Error(`vips tiffsave failed: ${vips.out}`);
  const svsPath = new URL("../samples/CMU-1-Small-Region.svs", import.meta.url).pathname;
  const dicomDir = `${DATA}generated__cmu-1-small-region_dicom`;
  // Every round reads fresh copies (new ids, new versions): cold pixel caches on every server, every round.
  const slides = `${tmp}/slides`;
  await Deno.mkdir(slides);
  for (let round = 0; round < rounds; round++) {
    await Deno.copyFile(`${src}/slide.ndpi`, `${slides}/slide-${round}.ndpi`);
    await Deno.copyFile(`${src}/slide.ndpi`, `${slides}/peer-${round}.ndpi`);
    await Deno.copyFile(`${src}/slide-pixels.tif`, `${slides}/pixels-${round}.tif`);
    await Deno.copyFile(svsPath, `${slides}/cmu-${round}.svs`);
    await Deno.mkdir(`${slides}/cmu-dicom-${round}`);
    for (const f of Deno.readDirSync(dicomDir)) {
      await Deno.copyFile(`${dicomDir}/${f.name}`, `${slides}/cmu-dicom-${round}/${f.name}`);
    }
  }
  await new Promise((r) => setTimeout(r, 1200)); // the files' versions settle
  const edgetile = await startServer({
    IMAGES_DIR: slides,
    BACKEND: "workers",
    KV_PATH: "off",
    MEMORY_CACHE_MB: "0",
    ...(Deno.env.get("PIXEL_CACHE_MB") ? { PIXEL_CACHE_MB: Deno.env.get("PIXEL_CACHE_MB")! } : {}),
  });
  const results: { mix: string; server: string; r: Result }[] = [];
  const run = async (mix: string, server: string, urls: string[]) => {
    await fetch(urls[0]).then((r) => r.arrayBuffer()); // opened before the clock starts
    results.push({ mix, server, r: await wrkLoad(`${mix} / ${server}`, urls, seconds, concurrency, false, threads) });
  };
  try {
    const e = (id: string) => `${edgetile.url}/dzi/${id}_files`;
    for (let round = 0; round < rounds; round++) {
      const ndpi = fullLevel(e(`slide-${round}.ndpi`), 3968, 4864);
      const tif = fullLevel(e(`pixels-${round}.tif`), 3968, 4864);
      await run("NDPI vs TIFF of its pixels", "edgetile NDPI", ndpi);
      await run("NDPI vs TIFF of its pixels", "edgetile TIFF", tif);
      await run("DICOM vs its SVS", "edgetile DICOM", fullLevel(e(`cmu-dicom-${round}`), 2220, 2967));
      await run("DICOM vs its SVS", "edgetile SVS", fullLevel(e(`cmu-${round}.svs`), 2220, 2967));
      // openslide's server started on this round's own copy (its tile cache cold too), edgetile on another.
      const osl = await startOpenslide(`${slides}/peer-${round}.ndpi`, tmp);
      // Both gunicorn workers up (a worker still importing would take CPU from the run measured beside it).
      const warm = (k: number) => fetch(`${osl.url}/slide_files/${8 + (k % 3)}/0_0.jpeg`).then((r) => r.arrayBuffer());
      for (let k = 0; k < 3; k++) await Promise.all(Array.from({ length: 8 }, (_, i) => warm(i + k)));
      try {
        await run("NDPI: edgetile vs openslide", "edgetile NDPI", fullLevel(e(`peer-${round}.ndpi`), 3968, 4864));
        await run(
          "NDPI: edgetile vs openslide",
          "openslide deepzoom_server.py",
          fullLevel(`${osl.url}/slide_files`, 3968, 4864),
        );
      } finally {
        await osl.stop();
      }
    }
  } finally {
    await edgetile.stop();
    await Deno.remove(tmp, { recursive: true });
  }
  const rows = ["| mix | server | tiles/s (median) | p99 ms | errors | ratio: first / second (median, range) |"];
  rows.push("| --- | --- | --- | --- | --- | --- |");
  for (const mix of [...new Set(results.map((x) => x.mix))]) {
    const servers = [...new Set(results.filter((x) => x.mix === mix).map((x) => x.server))];
    const of = (s: string) => results.filter((x) => x.mix === mix && x.server === s).map((x) => x.r);
    const [a, b] = servers.map(of);
    const ratios = a.map((x, i) => x.tilesPerSec / b[i].tilesPerSec);
    for (const [k, s] of servers.entries()) {
      const rs = of(s);
      rows.push(
        `| ${mix} | ${s} | ${median(rs.map((x) => x.tilesPerSec)).toFixed(0)} | ${
          median(rs.map((x) => x.p99)).toFixed(1)
        } | ${rs.reduce((n, x) => n + x.errors, 0)} | ${
          k === 0
            ? `${median(ratios).toFixed(2)}× (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`
            : ""
        } |`,
      );
    }
  }
  for (const x of results) console.log(`${x.mix} / ${x.server}: ${x.r.tilesPerSec.toFixed(0)} tiles/s`);
  console.log(
    `Deep Zoom full-resolution tiles, ${concurrency} in flight (wrk, ${threads} thread${
      threads > 1 ? "s" : ""
    }), tile caches off, ${rounds} rounds\n`,
  );
  console.log(rows.join("\n"));
}

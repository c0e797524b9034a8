/**
 * edgetile against native peers, side by side in one run (`deno task bench:peers`), loopback only, bounded,
 * **tile caches off on every server** (repeats are real work): edgetile (`server.ts`, its default of one
 * worker per core, or `WORKERS=n`; no memory tile cache, no KV, the codec tier it starts with, named in the table); iipsrv 1.1 behind lighttpd
 * (FastCGI, 2 processes, its tile cache 0 MB); Debian's stock openslide `deepzoom_server.py` under gunicorn
 * (2 workers × 2 threads); sharp 0.34 (libvips, shrink-on-load) in Node with its cache off. Setup installs
 * what is missing (Debian: iipimage-server, lighttpd, gunicorn, python3-flask, python3-openslide,
 * python-openslide-examples, wrk, libvips-tools; npm: sharp into bench/out/sharp). The slide is
 * bench/make_slide.ts's 16384² pyramidal JPEG TIFF (256-px YCbCr tiles); the photos are 24 distinct
 * ≥ 24 MP JPEGs made with vips from two real photos. Each case: a distinct list, requested once, wrk as the
 * client (one thread, or `--threads 2`; 16 in flight), stopped when the list is used up or after `seconds`. `ONLY=<text>`
 * runs just the mixes whose name contains the text (`ONLY="gray|Deep"`: either). `--rounds N` runs every pair N times (edgetile then its
 * peer, back to back, in each round) and prints each row's median with the ratio's median and range over the rounds (this
 * machine's speed drifts by more than a code change moves it between minutes, so one-off ratios mislead).
 */
import { BENCH_SLIDE_ID, BENCH_SLIDE_SIDE, makeBenchSlide } from "./make_slide.ts";
import {
  benchArgs,
  ensureDebianPackages,
  freePort,
  load,
  median,
  type Result,
  sh,
  startServer,
  wrkLoad,
} from "./lib.ts";
import { DeepZoomGeometry } from "../pyramid/deepzoom.ts";

const { seconds, concurrency, rounds, threads } = benchArgs({ seconds: 10, concurrency: 16, rounds: 1, threads: 1 });
const OUT = new URL("./out/", import.meta.url).pathname;

async function waitFor(url: string) {
  for (let i = 0; i < 300; i++) {
    try {
      const r = await fetch(url);
      await r.body?.cancel();
      if (r.status < 500) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

function spawn(cmd: string, args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(cmd, { args, env, stdout: "null", stderr: "null" }).spawn();
  return async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.status;
  };
}

async function startIipsrv(dir: string, tmp: string) {
  const port = freePort();
  const conf = `server.document-root = "${tmp}"
server.bind = "127.0.0.1"
server.port = ${port}
server.pid-file = "${tmp}/lighttpd.pid"
server.modules = ("mod_fastcgi")
fastcgi.server = ( "/fcgi-bin/iipsrv.fcgi" => (( "socket" => "${tmp}/iipsrv.sock", "check-local" => "disable",
  "min-procs" => 2, "max-procs" => 2, "bin-path" => "/usr/lib/iipimage-server/iipsrv.fcgi",
  "bin-environment" => ( "FILESYSTEM_PREFIX" => "${dir}/", "LOGFILE" => "${tmp}/iipsrv.log", "VERBOSITY" => "0",
    "JPEG_QUALITY" => "80", "MAX_CVT" => "8192", "MAX_IMAGE_CACHE_SIZE" => "0" ) )) )
`;
  await Deno.writeTextFile(`${tmp}/lighttpd.conf`, conf);
  const stop = spawn("lighttpd", ["-D", "-f", `${tmp}/lighttpd.conf`]);
  const url = `http://127.0.0.1:${port}/fcgi-bin/iipsrv.fcgi`;
  await waitFor(`${url}?IIIF=${BENCH_SLIDE_ID}/info.json`);
  return {
    url,
    stop: async () => {
      await stop();
      await sh("sh", ["-c", `pkill -f ${tmp}/iipsrv.sock || true`]);
    },
  };
}

/** The Debian packages openslide's Deep Zoom server needs (gunicorn, Flask, openslide-python, its example). */
export const OPENSLIDE_PEER_PACKAGES: [string, string][] = [
  ["command -v gunicorn", "gunicorn"],
  ["/usr/bin/python3 -c 'import flask, openslide'", "python3-flask python3-openslide"],
  [
    "test -f /usr/share/doc/python-openslide-examples/examples/deepzoom/deepzoom_server.py",
    "python-openslide-examples",
  ],
];

/** Debian's stock openslide-python example server, its settings from a file, under gunicorn. */
export async function startOpenslide(slide: string, tmp: string) {
  const port = freePort();
  const examples = "/usr/share/doc/python-openslide-examples/examples/deepzoom";
  await Deno.writeTextFile(
    `${tmp}/deepzoom.cfg`,
    `DEEPZOOM_SLIDE = ${JSON.stringify(slide)}\nDEEPZOOM_TILE_QUALITY = 80\nDEEPZOOM_LIMIT_BOUNDS = False\n`,
  );
  const stop = spawn(
    "gunicorn",
    ["-w", "2", "--threads", "2", "-b", `127.0.0.1:${port}`, "--chdir", examples, "deepzoom_server:app"],
    { DEEPZOOM_TILER_SETTINGS: `${tmp}/deepzoom.cfg`, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/slide_files/0/0_0.jpeg`);
  return { url, stop };
}

/** sharp in Node (installed into bench/out/sharp on first use). */
async function startSharp(photoDir: string) {
  const sharpDir = `${OUT}sharp`;
  try {
    await Deno.stat(`${sharpDir}/node_modules/sharp/package.json`);
  } catch {
    const r = await sh("npm", ["install", "--silent", "--prefix", sharpDir, "sharp@0.34.5"]);
    if (r.code !== 0) throw new Error(`npm install sharp failed: ${r.out}`);
  }
  const port = freePort();
  const stop = spawn("node", [new URL("./peers/sharp_server.mjs", import.meta.url).pathname], {
    PHOTO_DIR: photoDir,
    PORT: String(port),
    SHARP_PATH: `${sharpDir}/node_modules/sharp`,
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/`); // 404 when up
  return { url, stop };
}

/** 28 distinct large JPEG photos (24 measured, 4 warm-up): two real photos enlarged by vips, 24–38 MP. */
async function makePhotos(dir: string): Promise<string[]> {
  const names: string[] = [];
  const data = new URL("../tests/data/", import.meta.url).pathname;
  for (let i = 0; i < 28; i++) {
    const name = `photo-${String(i).padStart(2, "0")}.jpg`;
    names.push(name);
    try {
      await Deno.stat(`${dir}/${name}`);
      continue;
    } catch { /* make it */ }
    const [base, scale] = i % 2 ? ["skimage__rocket.jpg", 9.4 + 0.1 * i] : ["skimage__coffee.png", 10 + 0.1 * i];
    const r = await sh("vips", ["resize", data + base, `${dir}/${name}[Q=85]`, String(scale)]);
    if (r.code !== 0) throw new Error(`vips resize: ${r.out}`);
  }
  return names;
}

/**
 * One row per mix and server: medians over the rounds (tiles/s, p50, p99), and against edgetile the ratio
 * of each round's pair, median (range).
 */
function peerTable(results: { mix: string; server: string; round: number; r: Result }[], ours: string): string {
  const rows = [
    "| mix | server | tiles | errors | tiles/s | p50 ms | p99 ms | edgetile / this | p99 this / edgetile |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  const spread = (xs: number[], digits: number) =>
    xs.length > 1
      ? `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`
      : xs[0].toFixed(digits);
  const keys = [...new Set(results.map((x) => `${x.mix}\u0000${x.server}`))];
  for (const key of keys) {
    const [mix, server] = key.split("\u0000");
    const mine = results.filter((x) => x.mix === mix && x.server === server);
    const pairs = mine.map((
      x,
    ) => [results.find((o) => o.mix === mix && o.server === ours && o.round === x.round)!.r, x.r]);
    rows.push(
      `| ${mix} | ${server} | ${mine.reduce((t, x) => t + x.r.tiles, 0)} | ${
        mine.reduce((t, x) => t + x.r.errors, 0)
      } | ${median(mine.map((x) => x.r.tilesPerSec)).toFixed(0)} | ${median(mine.map((x) => x.r.p50)).toFixed(1)} | ${
        median(mine.map((x) => x.r.p99)).toFixed(1)
      } | ${spread(pairs.map(([e, p]) => e.tilesPerSec / p.tilesPerSec), 2)}× | ${
        spread(pairs.map(([e, p]) => p.p99 / e.p99), 2)
      } |`,
    );
  }
  return rows.join("\n");
}

/** Deterministic pseudo-random sequence. */
function rng(seed: number) {
  return () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}

if (import.meta.main) {
  await ensureDebianPackages([
    ["test -x /usr/lib/iipimage-server/iipsrv.fcgi", "iipimage-server"],
    ["command -v lighttpd", "lighttpd"],
    ...OPENSLIDE_PEER_PACKAGES,
    ["command -v wrk", "wrk"],
    ["command -v vips", "libvips-tools"],
  ]);
  const slide = await makeBenchSlide();
  const dir = slide.slice(0, slide.lastIndexOf("/"));
  const photos = await makePhotos(dir);
  const tmp = await Deno.makeTempDir();
  const id = BENCH_SLIDE_ID, W = BENCH_SLIDE_SIDE, n = W / 256;
  const r = rng(11);
  // IIIF tile regions: full resolution (distinct: i·37 mod n² visits every tile once), and a mix of scale
  // factors 1..16. The last 96 (100) of each list only warm the server up.
  const fullRes = Array.from({ length: n * n }, (_, i) => [(i * 37) % n, Math.floor((i * 37) / n) % n]).map((
    [x, y],
  ) => `${x * 256},${y * 256},256,256/256,256/0`);
  const mixed = Array.from({ length: 4100 }, () => {
    const s = 2 ** Math.floor(r() * 5), span = 256 * s, m = Math.ceil(W / span);
    const x = Math.floor(r() * m) * span, y = Math.floor(r() * m) * span;
    const w = Math.min(span, W - x), h = Math.min(span, W - y);
    return `${x},${y},${w},${h}/${Math.ceil(w / s)},${Math.ceil(h / s)}/0`;
  });
  const dz = new DeepZoomGeometry(W, W, 254, 1);
  const top = dz.levelCount - 1, [cols] = dz.tLevelCounts[top];
  const dzFull = Array.from(
    { length: 4096 },
    (_, i) => `${top}/${(i * 37) % cols}_${Math.floor((i * 37) / cols) % cols}`,
  );

  const results: { mix: string; server: string; round: number; r: Result }[] = [];
  // `ONLY=<text>[|<text>…]` runs just the mixes whose name contains one of them (e.g. ONLY="gray|Deep").
  const only = Deno.env.get("ONLY")?.split("|").filter(Boolean);
  let round = 0;
  const run = async (mix: string, server: string, urls: string[], warm = 96, inFlight = concurrency) => {
    if (only?.length && !only.some((o) => mix.includes(o))) return;
    await load("warm-up", urls.slice(urls.length - warm), 10, inFlight);
    const measured = urls.slice(0, urls.length - warm);
    results.push({
      mix,
      server,
      round,
      r: await wrkLoad(`${mix} / ${server}`, measured, seconds, inFlight, false, threads),
    });
  };
  const edgetile = await startServer({
    IMAGES_DIR: dir,
    BACKEND: "workers",
    // `WORKERS=<n>` sets the pool's size; unset, the server's default.
    ...(Deno.env.get("WORKERS") ? { WORKERS: Deno.env.get("WORKERS")! } : {}),
    KV_PATH: "off",
    MEMORY_CACHE_MB: "0",
    CODECS: Deno.env.get("CODECS") ?? "auto",
  });
  const tier = (await (await fetch(`${edgetile.url}/health`)).json()).codecs.tier as string;
  const ours = `edgetile (${tier})`;
  const iip = await startIipsrv(dir, tmp);
  const osl = await startOpenslide(slide, tmp);
  const sharp = await startSharp(dir);
  try {
    const e = (path: string, q: string) => `${edgetile.url}/iiif/3/${id}/${path}/${q}.jpg`;
    const i = (path: string, q: string) => `${iip.url}?IIIF=${id}/${path}/${q}.jpg`;
    for (round = 0; round < rounds; round++) {
      await run("IIIF 256-px default.jpg (pass-through)", ours, fullRes.map((p) => e(p, "default")));
      await run("IIIF 256-px default.jpg (pass-through)", "iipsrv", fullRes.map((p) => i(p, "default")));
      await run("IIIF 256-px gray.jpg", ours, fullRes.map((p) => e(p, "gray")));
      await run("IIIF 256-px gray.jpg", "iipsrv", fullRes.map((p) => i(p, "gray")));
      await run("IIIF 256-px bitonal.jpg (iipsrv: gray)", ours, fullRes.map((p) => e(p, "bitonal")));
      await run("IIIF 256-px bitonal.jpg (iipsrv: gray)", "iipsrv", fullRes.map((p) => i(p, "gray")));
      await run(
        "Deep Zoom 254+1, full resolution",
        ours,
        dzFull.map((p) => `${edgetile.url}/dzi/${id}_files/${p}.jpeg`),
      );
      await run(
        "Deep Zoom 254+1, full resolution",
        "openslide deepzoom_server.py",
        dzFull.map((p) => `${osl.url}/slide_files/${p}.jpeg`),
      );
      await run("random mix of levels (IIIF)", ours, mixed.map((p) => e(p, "default")), 100);
      await run("random mix of levels (IIIF)", "iipsrv", mixed.map((p) => i(p, "default")), 100);
      await run(
        "thumbnail ≤ 512 px of a 24–38 MP JPEG (4 in flight)",
        ours,
        photos.map((p) => `${edgetile.url}/thumbnail/${p}.jpg?width=512`),
        4,
        4,
      );
      await run(
        "thumbnail ≤ 512 px of a 24–38 MP JPEG (4 in flight)",
        "sharp 0.34 (Node)",
        photos.map((p) => `${sharp.url}/thumb/${p}?width=512`),
        4,
        4,
      );
    }
  } finally {
    await edgetile.stop();
    await iip.stop();
    await osl.stop();
    await sharp.stop();
    await Deno.remove(tmp, { recursive: true });
  }
  console.log(
    `slide ${W}² (256-px JPEG tiles), wrk ${threads} thread${threads > 1 ? "s" : ""}, ${concurrency} in flight, ` +
      `≤ ${seconds} s a case, tile caches off, ` +
      `${rounds} round${rounds > 1 ? "s" : ""}\n`,
  );
  console.log(peerTable(results, ours));
}

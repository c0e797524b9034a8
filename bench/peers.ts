/**
 * edgetile against iipsrv and OpenSlide, side by side in one run (`deno task bench:peers`), loopback only,
 * bounded. Setup installs the peers from Debian when missing (iipimage-server, lighttpd, python3-openslide,
 * python3-flask, gunicorn, wrk). The slide is bench/make_slide.ts's 16384² pyramidal JPEG TIFF with 256-px tiles.
 * Servers: edgetile (`server.ts`, 2 workers); iipsrv behind lighttpd (FastCGI, 2 processes); openslide's
 * DeepZoomGenerator behind gunicorn (2 workers, bench/peers/openslide_server.py). Every process is stopped
 * by PID at the end. Each case: the same request shape on every server, 16 in flight, ≤ 10 s, with wrk as
 * the client (one thread; a short warm-up with our own client first).
 */
import { BENCH_SLIDE_ID, BENCH_SLIDE_SIDE, makeBenchSlide } from "./make_slide.ts";
import { benchArgs, ensureDebianPackages, freePort, load, type Result, sh, startServer, wrkLoad } from "./lib.ts";
import { DeepZoomGeometry } from "../pyramid/deepzoom.ts";

const { seconds, concurrency } = benchArgs({ seconds: 10, concurrency: 16 });

async function waitFor(url: string) {
  for (let i = 0; i < 200; i++) {
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
    "JPEG_QUALITY" => "80", "MAX_CVT" => "8192", "MAX_IMAGE_CACHE_SIZE" => "64" ) )) )
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

async function startOpenslide(dir: string) {
  const port = freePort();
  const stop = spawn("gunicorn", [
    "-w",
    "2",
    "-b",
    `127.0.0.1:${port}`,
    "--chdir",
    new URL("./peers/", import.meta.url).pathname,
    "openslide_server:app",
  ], {
    SLIDE_DIR: dir,
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/dzi/${BENCH_SLIDE_ID}_files/0/0_0.jpeg`);
  return { url, stop };
}

/** Deterministic pseudo-random sequence. */
function rng(seed: number) {
  return () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}

if (import.meta.main) {
  await ensureDebianPackages([
    ["test -x /usr/lib/iipimage-server/iipsrv.fcgi", "iipimage-server"],
    ["command -v lighttpd", "lighttpd"],
    ["command -v gunicorn", "gunicorn"],
    ["/usr/bin/python3 -c 'import flask, openslide'", "python3-flask python3-openslide"],
    ["command -v wrk", "wrk"],
  ]);
  const slide = await makeBenchSlide();
  const dir = slide.slice(0, slide.lastIndexOf("/"));
  const tmp = await Deno.makeTempDir();
  const id = BENCH_SLIDE_ID, W = BENCH_SLIDE_SIDE, n = W / 256;
  const r = rng(11);
  // IIIF tile regions: full resolution (distinct: i·37 mod n² visits every tile once), and a mix of scale
  // factors 1..16. The last 96 (100) of each list only warm the server up (the codecs' WASM tiers up).
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
  const repeats = fullRes.slice(0, 200);

  const results: { mix: string; server: string; r: Result }[] = [];
  const run = async (mix: string, server: string, urls: string[], cycle = false) => {
    const measured = cycle ? urls : urls.slice(0, 4000);
    await load("warm-up", cycle ? urls : urls.slice(4000), 10, concurrency);
    results.push({ mix, server, r: await wrkLoad(`${mix} / ${server}`, measured, seconds, concurrency, cycle) });
  };
  const edgetile = await startServer({ IMAGES_DIR: dir, BACKEND: "workers", WORKERS: "2", KV_PATH: "off" });
  const iip = await startIipsrv(dir, tmp);
  const osl = await startOpenslide(dir);
  try {
    const e = (path: string, q: string) => `${edgetile.url}/iiif/3/${id}/${path}/${q}.jpg`;
    const i = (path: string, q: string) => `${iip.url}?IIIF=${id}/${path}/${q}.jpg`;
    await run("distinct full-res tiles (rgb)", "edgetile", fullRes.map((p) => e(p, "default")));
    await run("distinct full-res tiles (rgb)", "iipsrv", fullRes.map((p) => i(p, "default")));
    await run(
      "distinct full-res tiles (rgb)",
      "openslide (Deep Zoom 254+1)",
      dzFull.map((p) => `${osl.url}/dzi/${id}_files/${p}.jpeg`),
    );
    await run("random mix of levels", "edgetile", mixed.map((p) => e(p, "default")));
    await run("random mix of levels", "iipsrv", mixed.map((p) => i(p, "default")));
    await run("gray tiles", "edgetile", fullRes.map((p) => e(p, "gray")));
    await run("gray tiles", "iipsrv", fullRes.map((p) => i(p, "gray")));
    await run("bitonal tiles", "edgetile", fullRes.map((p) => e(p, "bitonal")));
    await run("bitonal tiles", "iipsrv", fullRes.map((p) => i(p, "bitonal")));
    await run("warm-cache repeats (200 tiles)", "edgetile", repeats.map((p) => e(p, "default")), true);
    await run("warm-cache repeats (200 tiles)", "iipsrv", repeats.map((p) => i(p, "default")), true);
  } finally {
    await edgetile.stop();
    await iip.stop();
    await osl.stop();
    await Deno.remove(tmp, { recursive: true });
  }
  console.log(`slide ${W}² (256-px JPEG tiles), ${concurrency} in flight, ≤ ${seconds} s a case\n`);
  console.log("| mix | server | tiles | errors | tiles/s | p50 ms | p99 ms | edgetile / this |");
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const { mix, server, r: x } of results) {
    const ours = results.find((o) => o.mix === mix && o.server === "edgetile")!.r;
    console.log(
      `| ${mix} | ${server} | ${x.tiles} | ${x.errors} | ${x.tilesPerSec.toFixed(0)} | ${x.p50.toFixed(1)} | ${
        x.p99.toFixed(1)
      } | ${(ours.tilesPerSec / x.tilesPerSec).toFixed(2)}× |`,
    );
  }
}

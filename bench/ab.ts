/**
 * A/B of two commits on this machine, whose speed drifts by more than most code changes move it: the
 * working tree (A) and `--base` (B, default HEAD~1, checked out in bench/out/ab-base) serve the benchmark
 * slide side by side (start task allocator, 2 workers, caches off). wrk (1 thread, 16 in flight) cycles 4,096
 * distinct full-resolution tiles against A and B in turn, `--seconds` a run, the order swapped every round;
 * each run records tiles/s and the server process's CPU a request (all threads, user + system, `/proc`).
 * Prints every run, the medians and the per-round ratios.
 *
 *   deno run -A bench/ab.ts --base HEAD~1 --quality bitonal [--rounds 6] [--seconds 4]
 *
 * `--quality`: an IIIF quality (default, gray, bitonal, color) of 256-px tiles, or `dz` for Deep Zoom 254+1.
 * `--envA <json>`: process variables for A alone (`--base HEAD --envA '{"MALLOC_ARENA_MAX":"1"}'` measures a setting).
 */
import { BENCH_SLIDE_ID, BENCH_SLIDE_SIDE, makeBenchSlide } from "./make_slide.ts";
import { median, startServer, wrkLoad } from "./lib.ts";
import { DeepZoomGeometry } from "../pyramid/deepzoom.ts";

const args = { base: "HEAD~1", quality: "bitonal", rounds: 6, seconds: 4, envA: "{}" };
for (let i = 0; i < Deno.args.length; i++) {
  const m = /^--(\w+)$/.exec(Deno.args[i]);
  if (m && m[1] in args) {
    const k = m[1] as keyof typeof args;
    (args as Record<string, unknown>)[k] = typeof args[k] === "number" ? Number(Deno.args[++i]) : Deno.args[++i];
  }
}

/** Runs git in this checkout; throws with its message on failure. */
function git(...a: string[]): string {
  const out = new Deno.Command("git", { args: a, cwd: ROOT, stdout: "piped", stderr: "piped" }).outputSync();
  if (!out.success) throw new Error(`git ${a.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout).trim();
}

/** CPU seconds of every thread of `pid` so far. */
function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const f = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/stat`);
      const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
      ticks += Number(rest[11]) + Number(rest[12]); // utime, stime
    } catch { /* the thread ended */ }
  }
  return ticks / 100;
}

const ROOT = new URL("..", import.meta.url).pathname;
const BASE_DIR = new URL("./out/ab-base", import.meta.url).pathname;

if (import.meta.main) {
  const slide = await makeBenchSlide();
  const rev = git("rev-parse", args.base);
  try {
    git("worktree", "remove", "--force", BASE_DIR);
  } catch { /* none yet */ }
  git("worktree", "add", "--force", "--detach", BASE_DIR, rev);
  await Deno.symlink(`${ROOT}node_modules`, `${BASE_DIR}/node_modules`);
  const env = {
    IMAGES_DIR: slide.slice(0, slide.lastIndexOf("/")),
    WORKERS: "2",
    KV_PATH: "off",
    MEMORY_CACHE_MB: "0",
  };
  // `--envA '{"MALLOC_ARENA_MAX":"1"}'`: process variables for A alone (with `--base HEAD`, a setting's A/B).
  const servers = {
    A: await startServer(env, [], ROOT, JSON.parse(args.envA)),
    B: await startServer(env, [], BASE_DIR),
  };
  try {
    const n = BENCH_SLIDE_SIDE / 256, dz = new DeepZoomGeometry(BENCH_SLIDE_SIDE, BENCH_SLIDE_SIDE, 254, 1);
    const top = dz.levelCount - 1, [cols, rows] = dz.tLevelCounts[top];
    const paths = Array.from({ length: 4096 }, (_, i) => {
      const k = (i * 37) % (n * n);
      return args.quality === "dz"
        ? `/dzi/${BENCH_SLIDE_ID}_files/${top}/${k % cols}_${Math.floor(k / cols) % rows}.jpeg`
        : `/iiif/3/${BENCH_SLIDE_ID}/${(k % n) * 256},${Math.floor(k / n) * 256},256,256/256,/0/${args.quality}.jpg`;
    });
    const runs: Record<"A" | "B", { rate: number; us: number }[]> = { A: [], B: [] };
    for (const w of ["A", "B"] as const) await wrkLoad("warm-up", paths.map((p) => servers[w].url + p), 2, 16, true);
    console.log(`A = working tree, B = ${args.base} (${rev.slice(0, 7)}); ${args.quality}, ${args.seconds} s a run`);
    for (let r = 0; r < args.rounds; r++) {
      for (const w of (r % 2 ? ["B", "A"] : ["A", "B"]) as ("A" | "B")[]) {
        const s = servers[w], c0 = cpuSeconds(s.pid);
        const res = await wrkLoad(w, paths.map((p) => s.url + p), args.seconds, 16, true);
        const us = (cpuSeconds(s.pid) - c0) / res.tiles * 1e6;
        runs[w].push({ rate: res.tilesPerSec, us });
        console.log(`round ${r + 1} ${w}: ${res.tilesPerSec.toFixed(0)} tiles/s, ${us.toFixed(0)} µs CPU a tile`);
      }
    }
    const m = (w: "A" | "B", k: "rate" | "us") => median(runs[w].map((x) => x[k]));
    console.log(
      `medians: A ${m("A", "rate").toFixed(0)} / B ${m("B", "rate").toFixed(0)} tiles/s, ` +
        `A ${m("A", "us").toFixed(0)} / B ${m("B", "us").toFixed(0)} µs CPU a tile`,
    );
    console.log(`A/B a round: ${runs.A.map((a, i) => (a.rate / runs.B[i].rate).toFixed(3)).join(" ")}`);
  } finally {
    await servers.A.stop();
    await servers.B.stop();
    git("worktree", "remove", "--force", BASE_DIR);
  }
}

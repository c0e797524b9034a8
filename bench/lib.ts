/** Shared by the benchmarks: a server process on loopback, a bounded load loop, arguments. */

import { CONFIG_VARIABLES, envName } from "../config.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** One measured case. */
export interface Result {
  name: string;
  tiles: number;
  errors: number;
  seconds: number;
  tilesPerSec: number;
  p50: number;
  p99: number;
  bytes: number;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** The median of some numbers (the mean of the middle two for an even count). */
export function median(xs: number[]): number {
  const v = [...xs].sort((a, b) => a - b), m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** Settings by name (`PORT`) as the service's environment variables (`EDGETILE_PORT`); others as given. */
export function edgetileEnv(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k in CONFIG_VARIABLES ? envName(k) : k, v]));
}

/**
 * The start task's glibc allocator and V8 settings (the `MALLOC_*=…` and `DENO_V8_FLAGS=…` words of deno.json's
 * `start`), so a benchmark server runs as `deno task start` does;
 * `BENCH_MALLOC='{"MALLOC_MMAP_THRESHOLD_":"131072"}'` overrides them.
 */
export function startTaskAllocator(): Record<string, string> {
  const task = JSON.parse(Deno.readTextFileSync(new URL("../deno.json", import.meta.url))).tasks.start as string;
  const env = Object.fromEntries([...task.matchAll(/\b(MALLOC_\w+|DENO_V8_FLAGS)=(\S+)/g)].map((m) => [m[1], m[2]]));
  return { ...env, ...JSON.parse(Deno.env.get("BENCH_MALLOC") ?? "{}") };
}

/**
 * Starts `server.ts` in its own process on a free loopback port with `env` (and extra `deno run` flags,
 * e.g. `--inspect`), from this checkout or the one at `root` (bench/ab.ts); stop() ends it.
 */
export async function startServer(
  env: Record<string, string>,
  runFlags: string[] = [],
  root = ROOT,
  processEnv: Record<string, string> = {},
) {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    // The same narrow FFI grant as `deno task start` (the native codec tier); CODECS=wasm in `env` measures WASM.
    args: [
      "run",
      ...runFlags,
      "--allow-read",
      "--allow-write",
      "--allow-net",
      "--allow-env",
      "--allow-ffi=./node_modules/@julusian/jpeg-turbo/prebuilds",
      "server.ts",
    ],
    cwd: root,
    env: {
      ...startTaskAllocator(),
      ...processEnv,
      ...edgetileEnv({ ...env, PORT: String(port), HOSTNAME: "127.0.0.1" }),
    },
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
    pid: child.pid,
    stop: async () => {
      child.kill();
      await child.status;
    },
  };
}

/** Fetches `urls` in order (cycling when `cycle`) with `concurrency` in flight until done or `seconds` pass. */
export async function load(
  name: string,
  urls: string[],
  seconds: number,
  concurrency: number,
  cycle = false,
): Promise<Result> {
  const lat: number[] = [];
  let next = 0, errors = 0, bytes = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while ((cycle || next < urls.length) && performance.now() < deadline) {
      const u = urls[next++ % urls.length];
      const s = performance.now();
      const r = await fetch(u);
      const b = await r.arrayBuffer();
      lat.push(performance.now() - s);
      if (r.status !== 200) errors++;
      bytes += b.byteLength;
    }
  }));
  const took = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  return {
    name,
    tiles: lat.length,
    errors,
    seconds: took,
    tilesPerSec: lat.length / took,
    p50: pct(0.5),
    p99: pct(0.99),
    bytes,
  };
}

/** `--seconds N --concurrency N` style arguments over defaults. */
export function benchArgs<T extends Record<string, number>>(defaults: T): T {
  const out: Record<string, number> = { ...defaults };
  for (let i = 0; i < Deno.args.length; i++) {
    const m = /^--(\w+)(?:=(.*))?$/.exec(Deno.args[i]);
    if (m && m[1] in out) out[m[1]] = Number(m[2] ?? Deno.args[++i]);
  }
  return out as T;
}

/** A markdown table of results, with each case's ratio to the first. */
export function resultTable(results: Result[], baseName: string): string {
  const base = results[0].tilesPerSec;
  const rows = [
    `| case | tiles | errors | tiles/s | p50 ms | p99 ms | KiB/tile | vs ${baseName} |`,
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of results) {
    rows.push(
      `| ${r.name} | ${r.tiles} | ${r.errors} | ${r.tilesPerSec.toFixed(0)} | ${r.p50.toFixed(2)} | ${
        r.p99.toFixed(2)
      } | ${(r.bytes / Math.max(1, r.tiles) / 1024).toFixed(1)} | ${(r.tilesPerSec / base).toFixed(2)}× |`,
    );
  }
  return rows.join("\n");
}

/** Runs a command (bounded in time); its exit code, output and duration. */
export async function sh(
  cmd: string,
  args: string[],
  timeoutMs = 600_000,
): Promise<{ code: number; out: string; ms: number }> {
  const t0 = performance.now();
  const o = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  })
    .output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout) + dec.decode(o.stderr), ms: performance.now() - t0 };
}

/** Installs the Debian packages whose shell check fails (`[check, packages]` pairs): a benchmark's setup. */
export async function ensureDebianPackages(checks: [string, string][]): Promise<void> {
  const need: string[] = [];
  for (const [check, pkg] of checks) if ((await sh("sh", ["-c", check])).code !== 0) need.push(pkg);
  if (!need.length) return;
  console.log(`installing ${need.join(" ")} from Debian…`);
  await sh("sh", [
    "-c",
    `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${need.join(" ")}`,
  ]);
}

/** Deterministic shuffle (distinct tiles in a scattered order, the same every run). */
export function shuffled<T>(a: T[], seed = 1): T[] {
  const out = a.slice();
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export { wrkLoad } from "./wrk.ts";

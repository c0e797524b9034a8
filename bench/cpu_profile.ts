/**
 * A CPU profile of the server's router thread under load: where issue 8's per-tile time goes, sampled by
 * V8's profiler through the inspector (Deno has no `--cpu-prof`). Starts `server.ts` with `--inspect` on
 * loopback, warms it up, samples every 100 µs while `--tiles` distinct full-resolution IIIF tiles of the
 * benchmark slide are fetched (`--concurrency` in flight), and prints self time per function.
 * `--inline 1` runs the server with `BACKEND=inline`, so the decode, op and encode show up in the same
 * profile (one thread does everything). `--dz 1` fetches Deep Zoom 254+1 tiles (bench:peers' list) instead.
 * `--patches <size>` fetches the whole slide's `patches.tar` of that patch size once instead (bench:patches'
 * off-grid case at 240; `--tiles` is then only the divisor of the per-patch figures: 4761 patches at 240).
 * `--hits 1` asks for the same 16 tiles over and over: after the warm-up every answer is a memory-cache hit, so
 * the profile is the router's own cost of a request (no worker, no codec).
 * `--heap 1` samples the JS heap allocated instead (per function, a tile: what makes the router's garbage).
 * `--callers <name>` adds the call stacks (four frames up) that the self time of functions so named came from.
 * `--inclusive <n>` adds the `n` functions with the most time inclusive of what they called (a sample counted
 * once per function on its stack).
 *
 *   deno run -A bench/cpu_profile.ts --quality gray --tiles 2000 --concurrency 16 [--inline 1]
 */
import { BENCH_SLIDE_ID, BENCH_SLIDE_SIDE, makeBenchSlide } from "./make_slide.ts";
import { freePort, startServer } from "./lib.ts";
import { DeepZoomGeometry } from "../pyramid/deepzoom.ts";

const args = {
  quality: "gray",
  tiles: 2000,
  concurrency: 16,
  inline: 0,
  dz: 0,
  patches: 0,
  hits: 0,
  heap: 0,
  top: 30,
  inclusive: 0,
  callers: "",
};
for (let i = 0; i < Deno.args.length; i++) {
  const m = /^--(\w+)$/.exec(Deno.args[i]);
  if (m && m[1] in args) {
    const k = m[1] as keyof typeof args;
    (args as Record<string, unknown>)[k] = typeof args[k] === "number" ? Number(Deno.args[++i]) : Deno.args[++i];
  }
}

interface ProfileNode {
  id: number;
  children?: number[];
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A minimal Chrome DevTools Protocol session over the inspector's WebSocket. */
async function inspector(port: number) {
  let list: { webSocketDebuggerUrl: string }[] = [];
  for (let i = 0; i < 100 && !list.length; i++) {
    try {
      list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const ws = new WebSocket(list[0].webSocketDebuggerUrl);
  await new Promise((r) => ws.onopen = r);
  let id = 0;
  const pending = new Map<number, (v: unknown) => void>();
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    pending.get(m.id)?.(m.result);
    pending.delete(m.id);
  };
  return {
    send: <T>(method: string, params = {}) =>
      new Promise<T>((r) => {
        pending.set(++id, r as (v: unknown) => void);
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

/**
 * `--heap 1`: V8's sampling heap profiler over `load` (objects collected since counted too), and the
 * functions that allocated the most JS heap a tile (self bytes; ArrayBuffer contents are not JS heap).
 */
async function printAllocations(
  cdp: Awaited<ReturnType<typeof inspector>>,
  load: () => Promise<void>,
  tiles: number,
  top: number,
) {
  await cdp.send("HeapProfiler.enable");
  const flags = { includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true };
  await cdp.send("HeapProfiler.startSampling", { samplingInterval: 1024, ...flags });
  await load();
  const { profile } = await cdp.send<{ profile: { head: HeapNode } }>("HeapProfiler.stopSampling");
  const self = new Map<string, number>();
  let total = 0;
  const walk = (nd: HeapNode) => {
    const f = nd.callFrame;
    const k = `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*\/(main|node_modules)\//, "")}:${
      f.lineNumber + 1
    }`;
    self.set(k, (self.get(k) ?? 0) + nd.selfSize);
    total += nd.selfSize;
    nd.children.forEach(walk);
  };
  walk(profile.head);
  console.log(`JS heap allocated: ${(total / tiles / 1024).toFixed(1)} KiB a tile`);
  console.log("\n| KiB a tile | function |\n| --- | --- |");
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`| ${(v / tiles / 1024).toFixed(2)} | ${k} |`);
  }
}

/** Prints where the self time of the functions named `name` was called from (four frames up). */
function printCallers(profile: Profile, name: string, tiles: number) {
  const parent = new Map<number, number>();
  for (const nd of profile.nodes) for (const c of nd.children ?? []) parent.set(c, nd.id);
  const byId = new Map(profile.nodes.map((nd) => [nd.id, nd]));
  const label = (id: number) => {
    const f = byId.get(id)!.callFrame;
    return `${f.functionName || "(anonymous)"}@${f.url.split("/").pop()}:${f.lineNumber + 1}`;
  };
  const stacks = new Map<string, number>();
  profile.samples.forEach((s, i) => {
    if ((byId.get(s)!.callFrame.functionName || "(anonymous)") !== name) return;
    const chain: string[] = [];
    for (let id = parent.get(s); id !== undefined && chain.length < 4; id = parent.get(id)) chain.push(label(id));
    const key = chain.join(" ← ");
    stacks.set(key, (stacks.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  console.log(`\n| ms per tile | ${name} called from |\n| --- | --- |`);
  for (const [k, v] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, 8)) {
    console.log(`| ${(v / 1000 / tiles).toFixed(3)} | ${k} |`);
  }
}

/** The `top` functions by time inclusive of their callees, ms a tile (recursion counted once a sample). */
function printInclusive(profile: Profile, top: number, tiles: number) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      const k = `${f.functionName || "(anonymous)"}@${f.url.split("/").slice(-2).join("/")}:${f.lineNumber + 1}`;
      if (!seen.has(k) && !/^\((root|idle|program)\)/.test(k)) {
        incl.set(k, (incl.get(k) ?? 0) + (profile.timeDeltas[i] ?? 0));
      }
      seen.add(k);
    }
  });
  console.log("\n| ms per tile, inclusive | function |\n| --- | --- |");
  for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`| ${(v / 1000 / tiles).toFixed(3)} | ${k} |`);
  }
}

if (import.meta.main) {
  const slide = await makeBenchSlide();
  const inspectPort = freePort();
  const server = await startServer({
    IMAGES_DIR: slide.slice(0, slide.lastIndexOf("/")),
    BACKEND: args.inline ? "inline" : "workers",
    WORKERS: "2",
    KV_PATH: "off",
    // As bench:peers runs it (caches off) unless --hits asks for memory hits.
    ...(args.hits ? {} : { MEMORY_CACHE_MB: "0" }),
  }, [`--inspect=127.0.0.1:${inspectPort}`]);
  try {
    const base = server.url;
    const cdp = await inspector(inspectPort);
    const n = BENCH_SLIDE_SIDE / 256;
    const dz = new DeepZoomGeometry(BENCH_SLIDE_SIDE, BENCH_SLIDE_SIDE, 254, 1);
    const top = dz.levelCount - 1, [cols] = dz.tLevelCounts[top];
    const url = (j: number, i = args.hits ? j % 16 : j) =>
      args.dz
        ? `${base}/dzi/${BENCH_SLIDE_ID}_files/${top}/${(i * 37) % cols}_${Math.floor((i * 37) / cols) % cols}.jpeg`
        : `${base}/iiif/3/${BENCH_SLIDE_ID}/${((i * 37) % n) * 256},${
          (Math.floor((i * 37) / n) % n) * 256
        },256,256/256,/0/${args.quality}.jpg`;
    for (let i = 0; i < 50; i++) await (await fetch(url(args.hits ? i : n * n - 1 - i))).arrayBuffer(); // warm-up
    let next = 0;
    const load = async () => {
      if (args.patches) {
        const q = `size=${args.patches}&min=0&format=jpg&quality=80`;
        await (await fetch(`${base}/images/${BENCH_SLIDE_ID}/patches.tar?${q}`)).arrayBuffer();
      } else {
        await Promise.all(Array.from({ length: args.concurrency }, async () => {
          while (next < args.tiles) await (await fetch(url(next++))).arrayBuffer();
        }));
      }
    };
    if (args.heap) {
      await printAllocations(cdp, load, args.tiles, args.top);
      Deno.exit(0);
    }
    await cdp.send("Profiler.enable");
    await cdp.send("Profiler.setSamplingInterval", { interval: 100 });
    await cdp.send("Profiler.start");
    const t0 = performance.now();
    await load();
    const wall = performance.now() - t0;
    const { profile } = await cdp.send<{ profile: Profile }>("Profiler.stop");
    cdp.close();
    const frames = new Map(profile.nodes.map((nd) => [nd.id, nd.callFrame]));
    const self = new Map<string, number>();
    let total = 0;
    profile.samples.forEach((s, i) => {
      const f = frames.get(s)!;
      const where = f.url.replace(/.*node_modules\/\.deno\//, "npm:").replace(/^file:\/\/.*?\/(?=[^/]+\/[^/]+$)/, "");
      const key = `${f.functionName || "(anonymous)"} ${where}${where ? ":" + (f.lineNumber + 1) : ""}`;
      self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
      total += profile.timeDeltas[i] ?? 0;
    });
    const idle = self.get("(idle) ") ?? 0;
    console.log(
      `${args.tiles} ${args.quality} tiles, ${args.concurrency} in flight, backend ${
        args.inline ? "inline" : "workers"
      }: ` +
        `${(args.tiles / (wall / 1000)).toFixed(0)} tiles/s (under the profiler)`,
    );
    console.log(
      `router thread busy ${((total - idle) / 1000).toFixed(0)} of ${(total / 1000).toFixed(0)} ms = ${
        ((total - idle) / 1000 / args.tiles).toFixed(3)
      } ms per tile\n`,
    );
    // The same samples by what the code is for (first matching rule).
    const kinds: [string, RegExp][] = [
      ["JPEG decode, WASM (@jsquash/jpeg)", /mozjpeg_dec\.wasm/],
      ["JPEG encode, WASM (libjpeg-turbo, instantiated from bytes)", /^wasm-function\S* wasm:\/\//],
      [
        "codec glue and pixel copies (embind, RGBA → RGB, block assembly)",
        /invoker|rgbaToChannels|readIfdRegion|encodeJpegTurbo|tiff\.ts/,
      ],
      ["op kernels", /kernels\//],
      ["garbage collector", /garbage collector/],
      [
        "HTTP, routing, keys, cache, worker messages",
        /hono|prom-client|ext:|op_|routes\/|app\.ts|cache\/|sources\/registry|workers\//,
      ],
    ];
    const byKind = new Map<string, number>();
    for (const [k, v] of self) {
      if (k === "(idle) ") continue;
      const kind = kinds.find(([, re]) => re.test(k))?.[0] ?? "other";
      byKind.set(kind, (byKind.get(kind) ?? 0) + v);
    }
    console.log("| what | ms per tile |\n| --- | --- |");
    for (const [k, v] of [...byKind].sort((a, b) => b[1] - a[1])) {
      console.log(`| ${k} | ${(v / 1000 / args.tiles).toFixed(3)} |`);
    }
    if (args.inclusive) printInclusive(profile, args.inclusive, args.tiles);
    if (args.callers) printCallers(profile, args.callers, args.tiles);
    console.log("\n| self ms | ms per tile | function |\n| --- | --- | --- |");
    for (const [k, v] of [...self].filter(([k]) => k !== "(idle) ").sort((a, b) => b[1] - a[1]).slice(0, args.top)) {
      console.log(`| ${(v / 1000).toFixed(0)} | ${(v / 1000 / args.tiles).toFixed(3)} | ${k} |`);
    }
  } finally {
    await server.stop();
  }
}

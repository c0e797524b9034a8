/**
 * The layout's rules, checked on the source tree by reading its imports: nothing below the routes imports
 * them (the service, export, the command line, the pipeline, kernels, GPU, statistics…), no folders import
 * each other in a circle, the GPU side names no op or kernel (it iterates over the registry), and no module
 * grows past 300 lines.
 */
import { assert, assertEquals } from "./assert.ts";

const ROOT = new URL("..", import.meta.url);
const BELOW_ROUTES = [
  "service",
  "export",
  "cli",
  "pipeline",
  "kernels",
  "gpu",
  "stats",
  "sources",
  "cache",
  "workers",
  "pyramid",
  "codecs",
  "core",
  "telemetry",
  "security",
];

/** The project's TypeScript files, relative to the root (node_modules, data and vendored code left out). */
async function sourceFiles(): Promise<string[]> {
  const out = await new Deno.Command("git", {
    args: ["ls-files", "--cached", "--others", "--exclude-standard", "*.ts"],
    cwd: ROOT,
  })
    .output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((f) => f && !f.startsWith("node_modules/"));
}

function importsOf(text: string): string[] {
  return [...text.matchAll(/(?:import|export)\s[^;]*?from\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g)].map((m) =>
    m[1] ?? m[2]
  );
}

Deno.test("no module below the routes imports from routes/", async () => {
  const offenders: string[] = [];
  const files = await sourceFiles();
  for (const f of files.filter((f) => BELOW_ROUTES.includes(f.split("/")[0]))) {
    const text = await Deno.readTextFile(new URL(f, ROOT));
    for (const spec of importsOf(text)) {
      if (!spec.startsWith(".")) continue;
      const target = new URL(spec, new URL(f, ROOT)).pathname.slice(ROOT.pathname.length);
      if (target.startsWith("routes/") || target === "app.ts") offenders.push(`${f} → ${target}`);
    }
  }
  assert(files.length > 100, "the tree was listed");
  assertEquals(offenders, []);
});

/** A folder's name, or a root module's own (`config.ts`, `errors.ts`, `app.ts` are nodes of their own). */
const nodeOf = (path: string) => path.includes("/") ? path.split("/")[0] : path;

Deno.test("the folders (and the root modules) import each other in no circle", async () => {
  const edges = new Map<string, Map<string, string>>(); // from → to → one import that makes the edge
  for (const f of await sourceFiles()) {
    const text = await Deno.readTextFile(new URL(f, ROOT));
    for (const spec of importsOf(text)) {
      if (!spec.startsWith(".")) continue;
      const target = new URL(spec, new URL(f, ROOT)).pathname.slice(ROOT.pathname.length);
      const [a, b] = [nodeOf(f), nodeOf(target)];
      if (a === b || !target.endsWith(".ts")) continue;
      if (!edges.has(a)) edges.set(a, new Map());
      if (!edges.get(a)!.has(b)) edges.get(a)!.set(b, `${f} → ${target}`);
    }
  }
  assert(edges.size > 10, "the graph was read");
  // Depth-first: a node met again while still on the path closes a circle; report it with its imports.
  const circles: string[] = [];
  const done = new Set<string>(), path: string[] = [];
  const visit = (n: string) => {
    if (done.has(n)) return;
    const at = path.indexOf(n);
    if (at >= 0) {
      const loop = [...path.slice(at), n];
      circles.push(loop.slice(1).map((b, i) => edges.get(loop[i])!.get(b)).join("; "));
      return;
    }
    path.push(n);
    for (const next of edges.get(n)?.keys() ?? []) visit(next);
    path.pop();
    done.add(n);
  };
  for (const n of edges.keys()) visit(n);
  assertEquals(circles, []);
});

Deno.test("the GPU modules switch on no op or kernel name: they iterate over the registry", async () => {
  const names = ["none", "gray", "threshold", "mask", "quantize", "sobel", "levels", "palette", "histogram"];
  const offenders: string[] = [];
  for (const f of (await sourceFiles()).filter((f) => f.startsWith("gpu/"))) {
    const text = await Deno.readTextFile(new URL(f, ROOT));
    for (const name of names) {
      if (text.includes(`case "${name}"`) || text.includes(`=== "${name}"`)) offenders.push(`${f}: ${name}`);
    }
  }
  assertEquals(offenders, []);
});

Deno.test("no module is longer than 300 lines", async () => {
  const long: string[] = [];
  for (const f of await sourceFiles()) {
    const lines = (await Deno.readTextFile(new URL(f, ROOT))).split("\n").length - 1;
    if (lines > 300) long.push(`${f}: ${lines}`);
  }
  assertEquals(long, []);
});

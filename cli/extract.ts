/**
 * Exports the tissue patches of one or many slides to folders, with the same pipeline and parameters as
 * `GET /images/{id}/patches.tar`, without HTTP:
 *   deno task extract <image|folder|list>… <outdir> [--jobs 2] [--downsample 1 | --mpp 0.5 | --magnification 20]
 *     [--size 256] [--stride N] [--min 0.5] [--limit N --seed S] [--format png|jpg|npy] [--op …]
 *     [--layout files|webdataset] [--shard_size 1000] [--dtype …] [--normalize …] [--quant …] [--quality N]
 * One image writes into <outdir>; several (folders, lists: one path a line) write <outdir>/<id>/ each, up to
 * `--jobs` slides at a time over one worker pool. Each slide gets its patches ({x}_{y}.{ext}), or WebDataset
 * shards (<name>-000000.tar … of `shard_size` samples, default 1000), plus manifest.jsonl and summary.json.
 * On a terminal a progress bar (patches, patches/s, ETA); otherwise a line every 10 %. A slide that fails
 * is reported and the others go on; the exit code is then 1.
 */
import { loadConfig } from "../config.ts";
import { createAppContext } from "../service/build.ts";
import { exportPatches, exportWindow, type PatchProgress } from "../export/patches.ts";
import { type PatchParams, planPatchExport } from "../export/plan.ts";
import { exportSummary, manifestLine, shardFileName, summaryText } from "../export/manifest.ts";
import { PatchArchive } from "../export/tar.ts";
import type { PatchEntry } from "../export/patches.ts";
import { parsePatchParams } from "../export/params.ts";
import { toHttpError } from "../errors.ts";
import { errorText } from "../telemetry/log.ts";
import { extractInputs } from "./extract_inputs.ts";

/** Default WebDataset shard size of the command (the HTTP route answers one shard of any size). */
const DEFAULT_SHARD_SIZE = 1000;

const positional: string[] = [];
const query = new URLSearchParams();
let jobs = 2;
for (let i = 0; i < Deno.args.length; i++) {
  const m = /^--([a-z_]+)(?:=(.*))?$/.exec(Deno.args[i]);
  const value = () => m![2] ?? Deno.args[++i] ?? "";
  if (m && m[1] === "jobs") jobs = Math.max(1, Math.min(16, Number(value()) || 1));
  else if (m) query.set(m[1], value());
  else positional.push(Deno.args[i]);
}
const USAGE = "usage: deno task extract <image|folder|list>… <outdir> [--jobs 2] [--mpp 0.5 --size 256 --min 0.5 …]\n" +
  "flags: the parameters of GET /images/{id}/patches.tar (README, Patch export for ML)";
if (query.has("help")) {
  console.log(USAGE);
  Deno.exit(0);
}
if (positional.length < 2) {
  console.error(USAGE);
  Deno.exit(2);
}
const outDir = positional.pop()!;
const inputs = await extractInputs(positional).catch((err) => {
  console.error(`extract: ${(err as Error).message}`);
  Deno.exit(2);
});
const service = createAppContext(
  loadConfig({ IMAGES_DIR: inputs.root, KV_PATH: ":memory:", WORKERS: Deno.env.get("EDGETILE_WORKERS") }),
);
const ctx = service.context;
const tty = Deno.stdout.isTerminal();
const enc = new TextEncoder();
const t0 = performance.now();
let planned = 0, written = 0, lastDecile = -1;

function report(final = false) {
  const secs = (performance.now() - t0) / 1000;
  const rate = written / Math.max(secs, 1e-3);
  const eta = rate > 0 ? (planned - written) / rate : 0;
  const counts = `${written}/${planned} patches`;
  if (tty) {
    const width = 30, fill = planned ? Math.round((written / planned) * width) : width;
    const bar = `[${"#".repeat(fill)}${" ".repeat(width - fill)}]`;
    Deno.stdout.writeSync(enc.encode(`\r${bar} ${counts}, ${rate.toFixed(1)}/s, ETA ${eta.toFixed(0)} s`));
    if (final) Deno.stdout.writeSync(enc.encode("\n"));
    return;
  }
  const decile = planned ? Math.floor((written / planned) * 10) : 10;
  if (decile !== lastDecile || final) {
    lastDecile = decile;
    const pct = Math.round((written / Math.max(planned, 1)) * 100);
    console.log(`${counts} (${pct} %), ${rate.toFixed(1)}/s, ETA ${eta.toFixed(0)} s`);
  }
}

/** WebDataset shards written one after the other, `size` samples each, named `<name>-NNNNNN.tar`. */
class ShardWriter {
  #file: Deno.FsFile | null = null;
  #samples = 0;
  #archive = new PatchArchive("webdataset");
  constructor(readonly dir: string, readonly name: string, readonly size: number, private index = 0) {}
  async add(entry: PatchEntry, bytes: Uint8Array): Promise<void> {
    const parts = this.#archive.patch(entry, bytes);
    if (!this.#file) {
      const path = `${this.dir}/${shardFileName(this.name, this.index)}`;
      this.#file = await Deno.open(path, { write: true, create: true, truncate: true });
    }
    // One write a sample (its tar entries joined), not one per header, body and padding.
    const sample = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (sample.set(p, at), at + p.length), 0);
    await this.#writeAll(sample);
    if (++this.#samples === this.size) await this.close();
  }
  async #writeAll(bytes: Uint8Array): Promise<void> {
    for (let rest = bytes; rest.length;) rest = rest.subarray(await this.#file!.write(rest));
  }
  async close(): Promise<void> {
    if (!this.#file) return;
    for (const part of this.#archive.end()) await this.#writeAll(part);
    this.#file.close();
    this.#file = null;
    this.index++;
    this.#samples = 0;
  }
}

/** Exports one slide into `dir`: its patches or shards, manifest.jsonl and summary.json. */
async function extractSlide(id: string, dir: string, window: number): Promise<number> {
  const params: PatchParams = parsePatchParams(query, ctx.config.quality);
  // The command writes every shard of an export (unless one is asked for by number), so it plans them whole.
  const shardSize = params.layout === "webdataset" && !query.has("shard")
    ? (params.shard?.size ?? DEFAULT_SHARD_SIZE)
    : 0;
  if (shardSize) delete params.shard;
  const started = performance.now();
  const plan = await planPatchExport(ctx, id, params);
  planned += plan.total;
  await Deno.mkdir(dir, { recursive: true });
  const name = id.slice(id.lastIndexOf("/") + 1);
  const shards = params.layout === "webdataset"
    ? new ShardWriter(dir, name, shardSize || plan.total, params.shard?.index ?? 0)
    : null;
  const lines: string[] = [];
  const progress: PatchProgress = { total: 0, started: 0, done: 0, maxInFlight: 0 };
  for await (const { entry, bytes } of exportPatches(ctx, plan, params, progress, window)) {
    if (shards) await shards.add(entry, bytes);
    else await Deno.writeFile(`${dir}/${entry.file}`, bytes);
    lines.push(manifestLine(entry));
    written++;
    report();
  }
  await shards?.close();
  await Deno.writeTextFile(`${dir}/manifest.jsonl`, lines.join(""));
  const seconds = (performance.now() - started) / 1000;
  await Deno.writeTextFile(`${dir}/summary.json`, summaryText(exportSummary(plan, params, lines.length, seconds)));
  return lines.length;
}

let failed = 0;
/** The slides that failed, with why: named again in the final summary. */
const failures: string[] = [];
try {
  parsePatchParams(query, ctx.config.quality); // a bad flag stops the run before any slide starts
  const queue = [...inputs.ids];
  // The slides exported at once share this window: exportPatches divides it among the exports in progress.
  const window = exportWindow(ctx.config.workers);
  const runner = async () => {
    for (let id; (id = queue.shift()) !== undefined;) {
      const dir = inputs.single ? outDir : `${outDir}/${id}`;
      try {
        const n = await extractSlide(id, dir, window);
        if (!inputs.single) console.log(`${id}: ${n} patches → ${dir}`);
      } catch (err) {
        const e = toHttpError(err);
        console.error(`${id}: extract failed: ${e.code === "internal" ? errorText(err) : e.message}`);
        failures.push(`${id} (${e.status} ${e.code}: ${e.message})`);
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, inputs.ids.length) }, runner));
  report(true);
  const seconds = (performance.now() - t0) / 1000;
  const slides = inputs.ids.length - failed;
  console.log(
    `${written} patches of ${slides} slide${slides === 1 ? "" : "s"} in ${seconds.toFixed(1)} s (${
      (written / Math.max(seconds, 1e-3)).toFixed(1)
    }/s) → ${outDir}`,
  );
  if (failures.length) {
    console.error(`${failures.length} slide${failures.length === 1 ? "" : "s"} failed:\n  ${failures.join("\n  ")}`);
  }
} catch (err) {
  // An HttpError says what was wrong with the request; anything else is a bug: its stack.
  const e = toHttpError(err);
  console.error(`extract failed: ${e.code === "internal" ? errorText(err) : e.message}`);
  failed++;
} finally {
  await service.close();
}
Deno.exit(failed ? 1 : 0);

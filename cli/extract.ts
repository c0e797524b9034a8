/**
 * Exports every tissue patch of an image to a folder, with the same pipeline as
 * `GET /images/{id}/patches.tar`, without HTTP:
 *   deno task extract <image-file> <outdir> [--downsample 1] [--size 256] [--stride N] [--min 0.5]
 *     [--format png|jpg|npy] [--op mask|gray|threshold|quantize …] [--t N] [--levels N] [--palette K]
 *     [--dtype uint8|float32|int8] [--normalize imagenet|…] [--quant tensor|channel] [--quality N]
 * Writes the patches ({x}_{y}.{ext}), manifest.jsonl and summary.json. On a terminal it shows a progress
 * bar (patches done, patches/s, ETA); otherwise a progress line every 10 %.
 */
import { loadConfig } from "../config.ts";
import { createAppContext } from "../service/build.ts";
import { exportPatches, type PatchProgress, planPatchExport } from "../export/patches.ts";
import { exportSummary, manifestLine, summaryText } from "../export/manifest.ts";
import { parsePatchParams } from "../service/query.ts";
import { toHttpError } from "../errors.ts";
import { errorText } from "../telemetry/log.ts";

const args = [...Deno.args];
const positional: string[] = [];
const query = new URLSearchParams();
for (let i = 0; i < args.length; i++) {
  const m = /^--([a-z]+)(?:=(.*))?$/.exec(args[i]);
  if (m) query.set(m[1], m[2] ?? args[++i] ?? "");
  else positional.push(args[i]);
}
if (positional.length !== 2) {
  console.error("usage: deno task extract <image-file> <outdir> [--downsample 1 --size 256 --min 0.5 --format png …]");
  Deno.exit(2);
}
const [imagePath, outDir] = positional;
const real = await Deno.realPath(imagePath).catch(() => {
  console.error(`no such file: ${imagePath}`);
  Deno.exit(2);
});
const dir = real.slice(0, real.lastIndexOf("/")) || "/", id = real.slice(real.lastIndexOf("/") + 1);
const service = createAppContext(
  loadConfig({ IMAGES_DIR: dir, KV_PATH: ":memory:", WORKERS: Deno.env.get("EDGETILE_WORKERS") }),
);
const tty = Deno.stdout.isTerminal();
const enc = new TextEncoder();
const progress: PatchProgress = { total: 0, started: 0, done: 0, maxInFlight: 0 };
let written = 0, lastDecile = -1;
const t0 = performance.now();

function report(final = false) {
  const secs = (performance.now() - t0) / 1000;
  const rate = written / Math.max(secs, 1e-3);
  const eta = rate > 0 ? (progress.total - written) / rate : 0;
  if (tty) {
    const width = 30, fill = progress.total ? Math.round((written / progress.total) * width) : width;
    const line = `[${"#".repeat(fill)}${" ".repeat(width - fill)}] ${written}/${progress.total} patches, ${
      rate.toFixed(1)
    }/s, ETA ${eta.toFixed(0)} s`;
    Deno.stdout.writeSync(enc.encode(`\r${line}${final ? "\n" : ""}`));
  } else {
    const decile = progress.total ? Math.floor((written / progress.total) * 10) : 10;
    if (decile !== lastDecile || final) {
      lastDecile = decile;
      console.log(
        `${written}/${progress.total} patches (${Math.round((written / Math.max(progress.total, 1)) * 100)} %), ${
          rate.toFixed(1)
        }/s, ETA ${eta.toFixed(0)} s`,
      );
    }
  }
}

let code = 0;
try {
  const params = parsePatchParams(query, service.context.config.quality);
  await Deno.mkdir(outDir, { recursive: true });
  const plan = await planPatchExport(service.context, id, params);
  const lines: string[] = [];
  const window = service.context.config.workers * 4;
  for await (const { entry, bytes } of exportPatches(service.context, plan, params, progress, window)) {
    await Deno.writeFile(`${outDir}/${entry.file}`, bytes);
    lines.push(manifestLine(entry));
    written++;
    report();
  }
  await Deno.writeTextFile(`${outDir}/manifest.jsonl`, lines.join(""));
  const seconds = (performance.now() - t0) / 1000;
  await Deno.writeTextFile(`${outDir}/summary.json`, summaryText(exportSummary(plan, params, written, seconds)));
  report(true);
  console.log(
    `${written} patches in ${seconds.toFixed(1)} s (${(written / Math.max(seconds, 1e-3)).toFixed(1)}/s) → ${outDir}`,
  );
} catch (err) {
  // An HttpError says what was wrong with the request or the file; anything else is a bug: its stack.
  const e = toHttpError(err);
  console.error(`extract failed: ${e.code === "internal" ? errorText(err) : e.message}`);
  code = 1;
} finally {
  await service.close();
}
Deno.exit(code);

/**
 * Patch export: `GET /images/{id}/patches.tar?downsample=1|mpp=|magnification=&size=256&stride=&min=0.5&op=
 * &format=png|jpg|npy` streams a POSIX tar of every tissue patch of the tissue listing (same grid),
 * row-major, named `{x}_{y}.{ext}` (level-0 origin), then `manifest.jsonl` and `summary.json`; with
 * `layout=webdataset`, WebDataset samples `{key}.{ext}` + `{key}.json` and nothing else. `limit=&seed=`
 * draws a reproducible random sample; `shard_size=&shard=` answers one shard (404 past the last; the
 * count is in `X-Shard-Count`). `GET …/patches.ndjson` streams one manifest line per finished patch and a
 * summary (a progress feed). Both start at once, flow at the client's pace, and stop the work when the
 * client goes away. npy: `dtype`, `normalize`, `quant` as on tiles. Unknown parameters are 400s.
 */
import type { Context } from "hono";
import { exportPatches, exportWindow, type Patch, type PatchProgress } from "../export/patches.ts";
import { planPatchExport } from "../export/plan.ts";
import { exportSummary, manifestLine, safeFileName, shardFileName } from "../export/manifest.ts";
import { PatchArchive } from "../export/tar.ts";
import type { AppContext } from "../service/context.ts";
import { workSignalOf } from "../pipeline/abort.ts";
import { decodeId } from "./ids.ts";
import { parsePatchParams } from "../export/params.ts";
import { streamed } from "../telemetry/http.ts";
import { log } from "../telemetry/log.ts";
import { toHttpError } from "../errors.ts";

const enc = new TextEncoder();

/** `/images/{id}/patches.{tar|ndjson}`: an export, streamed. */
export async function patchExport(ctx: AppContext, c: Context, m: RegExpExecArray): Promise<Response> {
  const id = decodeId(m[1], ctx.config.slashSubstitute);
  const params = parsePatchParams(new URL(c.req.url).searchParams, ctx.config.quality);
  // 404/415/422, and 400/413 for an export past the limits, before the stream starts.
  const signal = workSignalOf(c.req.raw);
  const plan = await planPatchExport(ctx, id, params, signal);
  const progress: PatchProgress = { total: 0, started: 0, done: 0, maxInFlight: 0 };
  const patches = exportPatches(ctx, plan, params, progress, exportWindow(ctx.config.workers), signal);
  // The first patch before the first byte: what fails for one patch (a level that does not decode, a source
  // too large for the budget) fails for all, and is then this request's 4xx.
  let first: IteratorResult<Patch> | null = await patches.next();
  const t0 = performance.now();
  let count = 0;
  const summary = () => exportSummary(plan, params, count, (performance.now() - t0) / 1000);
  const tar = m[2] === "tar" ? new PatchArchive(params.layout) : null;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let n: IteratorResult<Patch>;
      try {
        n = first ?? await patches.next();
        first = null;
      } catch (err) {
        // A failed transfer: the stream breaks off (no closing tar blocks, no summary), never a well-formed
        // archive missing patches or mixing versions (the source changed: 409 source_changed).
        const e = toHttpError(err);
        if (e.code !== "cancelled") {
          ctx.metrics.exportFailures.inc({ code: e.code });
          log().warn("patch export failed after its first byte", { id, code: e.code, error: e.message, sent: count });
        }
        controller.error(err);
        return;
      }
      if (n.done) {
        const end = tar ? tar.end(summary) : [enc.encode(JSON.stringify({ summary: summary() }) + "\n")];
        for (const part of end) controller.enqueue(part);
        controller.close();
        return;
      }
      const { entry, bytes } = n.value;
      count++;
      ctx.metrics.patches.inc();
      for (const part of tar ? tar.patch(entry, bytes) : [enc.encode(manifestLine(entry))]) controller.enqueue(part);
    },
    async cancel() {
      await patches.return(undefined);
    },
  }, { highWaterMark: 1 });
  return new Response(stream, {
    headers: streamed({
      "Content-Type": tar ? "application/x-tar" : "application/x-ndjson",
      ...(tar ? { "Content-Disposition": `attachment; filename="${tarName(id, params.shard?.index)}"` } : {}),
      "Cache-Control": "no-store",
      "X-Patch-Count": String(plan.total),
      "X-Shard-Count": String(plan.shards),
    }),
  });
}

/** The download name of an export (of one shard: its number, as `deno task extract` names its shards). */
function tarName(id: string, shard?: number): string {
  return shard === undefined ? `${safeFileName(id)}.patches.tar` : shardFileName(id, shard);
}

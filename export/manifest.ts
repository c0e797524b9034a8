/**
 * The one writer of an export's records, for every way out (the tar's `manifest.jsonl` and `summary.json`,
 * the ndjson feed, `deno task extract`'s folder): a manifest line per patch and the summary.
 */
import { canonicalOp } from "../pipeline/tile_request.ts";
import { opLabel } from "../kernels/index.ts";
import type { PatchEntry, PatchParams, PatchPlan } from "./patches.ts";

/** What an export did: its grid, encoding and op (as it ran, global values resolved), and its count. */
export interface ExportSummary {
  image: string;
  patches: number;
  downsample: number;
  size: number;
  stride: number;
  min: number;
  format: PatchParams["format"];
  /** JPEG only. */
  quality?: number;
  op: string;
  tensor?: PatchParams["tensor"];
  seconds: number;
}

/** The summary of an export of `patches` patches that took `seconds`. */
export function exportSummary(plan: PatchPlan, p: PatchParams, patches: number, seconds: number): ExportSummary {
  return {
    image: plan.image.id,
    patches,
    downsample: p.downsample,
    size: p.size,
    stride: p.stride,
    min: p.min,
    format: p.format,
    ...(p.format === "jpeg" ? { quality: p.quality } : {}),
    op: canonicalOp(opLabel(plan.op)),
    ...(p.tensor ? { tensor: p.tensor } : {}),
    seconds: Number(seconds.toFixed(3)),
  };
}

/** One line of `manifest.jsonl` (and of the ndjson feed). */
export function manifestLine(entry: PatchEntry): string {
  return JSON.stringify(entry) + "\n";
}

/** `summary.json`'s text. */
export function summaryText(summary: ExportSummary): string {
  return JSON.stringify(summary, null, 2) + "\n";
}

/**
 * The one writer of an export's records, for every way out (the tar's `manifest.jsonl` and `summary.json`,
 * the ndjson feed, `deno task extract`'s folder): a manifest line per patch and the summary.
 */
import { xOpHeader } from "../service/tile_service.ts";
import { scaleOfDownsample } from "../pyramid/physical.ts";
import type { PatchEntry } from "./patches.ts";
import type { PatchParams, PatchPlan } from "./plan.ts";

/** What an export did: its grid, encoding and op (as it ran, global values resolved: as `X-Op`), and its count. */
export interface ExportSummary {
  image: string;
  version: string;
  patches: number;
  /** The scale as asked (`downsample`, `mpp` or `magnification`), and what it resolved to. */
  scale: PatchParams["scale"];
  downsample: number;
  level: number;
  mpp?: number;
  magnification?: number;
  size: number;
  stride: number;
  min: number;
  format: PatchParams["format"];
  /** JPEG only. */
  quality?: number;
  op: string;
  tensor?: PatchParams["tensor"];
  layout: PatchParams["layout"];
  /** Tissue patches of the grid; the sample drawn from them (limit, seed), and this shard of the export. */
  tissuePatches: number;
  sample?: PatchParams["sample"];
  shard?: { index: number; size: number; count: number };
  seconds: number;
}

/** The summary of an export of `patches` patches that took `seconds`. */
export function exportSummary(plan: PatchPlan, p: PatchParams, patches: number, seconds: number): ExportSummary {
  return {
    image: plan.image.id,
    version: plan.image.source.version,
    patches,
    scale: p.scale,
    downsample: plan.grid.downsample,
    level: plan.level,
    ...scaleOfDownsample(plan.image.info, plan.grid.downsample),
    size: p.size,
    stride: p.stride,
    min: p.min,
    format: p.format,
    ...(p.format === "jpeg" ? { quality: p.quality } : {}),
    op: xOpHeader(plan.recipe.op),
    ...(plan.recipe.tensor ? { tensor: plan.recipe.tensor } : {}),
    layout: p.layout,
    tissuePatches: plan.tissuePatches,
    ...(p.sample ? { sample: p.sample } : {}),
    ...(p.shard ? { shard: { index: p.shard.index, size: p.shard.size, count: plan.shards } } : {}),
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

const enc = new TextEncoder();

/**
 * The files a patch adds to an archive: its pixels, and in the WebDataset layout its manifest line as
 * `{key}.json` beside them (WebDataset groups the files of one sample by their name up to the first dot).
 */
export function patchFiles(entry: PatchEntry, bytes: Uint8Array): [string, Uint8Array][] {
  const files: [string, Uint8Array][] = [[entry.file, bytes]];
  if (entry.key) files.push([`${entry.key}.json`, enc.encode(JSON.stringify(entry))]);
  return files;
}

/** A name made safe for a file: runs of anything but word characters, dots and dashes become `_`. */
export function safeFileName(name: string): string {
  return name.replace(/[^\w.-]+/g, "_");
}

/** The file name of shard `index` of an export named `name` (`name-000042.tar`), over HTTP and on disk. */
export function shardFileName(name: string, index: number): string {
  return `${safeFileName(name)}-${String(index).padStart(6, "0")}.tar`;
}

/** The op registry: every op the pipeline can run, by name. */
import { badRequest } from "../errors.ts";
import type { OpSpec } from "../pipeline/tile_request.ts";
import { grayOp } from "./gray.ts";
import { noneOp } from "./none.ts";
import { thresholdOp } from "./threshold.ts";
import { maskOp } from "./mask.ts";
import { quantizeOp } from "./quantize.ts";
import type { StatsProvider, TileOp } from "./op.ts";

/** Ops by name. */
export const OPS: ReadonlyMap<string, TileOp> = new Map(
  [noneOp, grayOp, thresholdOp, maskOp, quantizeOp].map((op) => [op.name, op]),
);

/** The op for a name; 400 for unknown ones. */
export function getOp(name: string): TileOp {
  const op = OPS.get(name);
  if (!op) throw badRequest(`unknown op "${name}" (op must be one of: ${[...OPS.keys()].join(", ")})`);
  return op;
}

/** The `OpSpec` named by `?op=` (default none) with its parameters parsed. */
export function parseOpSpec(query: URLSearchParams): OpSpec {
  const name = query.get("op") ?? "none";
  const op = getOp(name);
  return { name: op.name, params: op.parse(query) };
}

/** The op with its global parameters (`t=otsu`, `palette=K`, `rescale=auto`) replaced by their values. */
export async function resolveOpSpec(spec: OpSpec, stats: StatsProvider): Promise<OpSpec> {
  const op = getOp(spec.name);
  return op.resolve ? { name: spec.name, params: await op.resolve(spec.params, stats) } : spec;
}

/** The op registry: every op the pipeline can run, by name. */
import { badRequest } from "../errors.ts";
import type { OpSpec } from "../pipeline/tile_request.ts";
import { grayOp } from "./gray.ts";
import { noneOp } from "./none.ts";
import type { TileOp } from "./op.ts";

/** Ops by name. */
export const OPS: ReadonlyMap<string, TileOp> = new Map([noneOp, grayOp].map((op) => [op.name, op]));

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

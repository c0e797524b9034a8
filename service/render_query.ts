/**
 * The render step's parameters read from a URL's query (the route layer owns `URLSearchParams`; the render
 * itself parses a plain record: kernels/render.ts). `t` is the threshold of the ops that take one and
 * `time` the T plane; `t` as the T plane of an op without a threshold is the old form, still read, and
 * answered with a deprecation notice (`deprecatedTPlane`).
 */
import {
  planeOf,
  RENDER_PARAMS,
  type RenderableInfo,
  type RenderArgs,
  renderOfRequest,
  type RenderSpec,
  renderSpecOf,
} from "../kernels/render.ts";
import type { ImageInfo } from "../core/image_info.ts";

/** The render parameters present in `query` (each read, so none is left as an unread parameter). */
export function renderArgs(query: URLSearchParams): RenderArgs {
  const args: Record<string, string> = {};
  for (const k of RENDER_PARAMS) {
    const v = query.get(k);
    if (v !== null) args[k] = v;
  }
  return args;
}

/** The render a query names for `info` (null: none), `t` being the op's when `tIsOp`; 400 naming a bad one. */
export function parseRenderSpec(query: URLSearchParams, info: RenderableInfo, tIsOp = false): RenderSpec | null {
  return renderSpecOf(renderArgs(query), info, tIsOp);
}

/** The Z/T plane a query names (`z`, `time`, or the old `t`). */
export function parsePlane(query: URLSearchParams, info: Pick<ImageInfo, "planes">): { z: number; t: number } {
  return planeOf(renderArgs(query), info);
}

/** The render of a request and the op it leaves (quantize's `rescale` becoming the windows). */
export function requestRender<O extends { params: Record<string, unknown> }>(
  query: URLSearchParams,
  info: RenderableInfo,
  op: O,
): { render: RenderSpec | null; op: O } {
  return renderOfRequest(renderArgs(query), info, op);
}

/** The deprecation notice of a query that names the T plane `t` for an op without a threshold, or null. */
export function deprecatedTPlane(query: URLSearchParams, op: { params: Record<string, unknown> }): string | null {
  if ("t" in op.params || !query.has("t") || query.has("time")) return null;
  return "t= as the T plane is deprecated: use time= (t= is the threshold of op=threshold and op=mask)";
}

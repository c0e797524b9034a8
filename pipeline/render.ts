/**
 * The tile pipeline as data: each kind of request is one list of steps (pipeline/steps.ts), chosen once, run
 * in order until one finishes the tile. Every protocol's request runs through `renderTile`; the WebGPU
 * backend runs the same list split at the op step (`prepareTile` on a worker, the op's kernel on the GPU,
 * `finishTile` on a worker). `Server-Timing` names are the steps' names.
 */
import { endLease } from "../core/lease.ts";
import type { Runtime } from "../cache/runtime.ts";
import type { Rect } from "../core/rect.ts";
import type { Raster8 } from "../core/raster.ts";
import type { OpOutput } from "../kernels/op.ts";
import type { ImageSource } from "../sources/source.ts";
import { isRawTensor } from "./raw_tensor.ts";
import type { TileRequest } from "./tile_request.ts";
import type { Placement } from "./pad.ts";
import {
  cropHalo,
  encode,
  encodeChunk,
  encodeRaw,
  op,
  opInput,
  orient,
  pad,
  passThrough,
  plan,
  read,
  readAssociated,
  type RenderedTile,
  resampleStep,
  type Step,
  type TileState,
} from "./steps.ts";

export type { RenderedTile } from "./steps.ts";
export type { Placement } from "./pad.ts";
export { padToOutput } from "./pad.ts";

/** A pyramid tile: plan → pass-through → read → resample → op input → op → crop the halo → pad → orient → encode. */
export const TILE_STEPS: readonly Step[] = [
  plan,
  passThrough,
  read,
  resampleStep,
  opInput,
  op,
  cropHalo,
  pad,
  orient,
  encode,
];
/** An associated image (label, macro): read whole and resampled → op input → op → pad → orient → encode. */
export const ASSOCIATED_STEPS: readonly Step[] = [readAssociated, opInput, op, pad, orient, encode];
/** An OME-Zarr chunk of samples: plan → read → resample → the chunk's encoding. */
export const CHUNK_STEPS: readonly Step[] = [plan, read, resampleStep, encodeChunk];
/** An OME-Zarr label chunk: the mask op's output as the chunk. */
export const LABEL_CHUNK_STEPS: readonly Step[] = [plan, read, resampleStep, opInput, op, cropHalo, encodeChunk];
/** A raw-channel tensor: the resampled samples encoded as they are (an empty footprint: as padding). */
export const TENSOR_STEPS: readonly Step[] = [plan, read, resampleStep, encodeRaw];

/** The list a request runs. */
export function stepsFor(req: TileRequest): readonly Step[] {
  if (req.associated) return ASSOCIATED_STEPS;
  if (req.format === "zarr") return req.chunk?.labels ? LABEL_CHUNK_STEPS : CHUNK_STEPS;
  return isRawTensor(req) ? TENSOR_STEPS : TILE_STEPS;
}

/** A list split at its op step: the steps before it and after it (a list without one: all before). */
function splitAtOp(steps: readonly Step[]): [readonly Step[], readonly Step[]] {
  const i = steps.indexOf(op);
  return i < 0 ? [steps, []] : [steps.slice(0, i), steps.slice(i + 1)];
}

/** Runs `steps` on `s` until one finishes the tile, timing each under its name. */
async function runSteps(steps: readonly Step[], s: TileState): Promise<void> {
  let t = performance.now();
  for (const step of steps) {
    if (s.done) return;
    await step.run(s);
    const now = performance.now();
    s.timings[step.name] = (s.timings[step.name] ?? 0) + now - t;
    t = now;
  }
}

/**
 * A tile up to its op: the op's 8-bit input and what the steps after the op need (`TileState`'s fields of
 * that name). An input held under a lease (core/lease.ts) may be transferred from a worker.
 */
export interface TileInput {
  input: Raster8;
  valid?: Rect;
  crop?: Rect;
  placement: Placement | null;
  blend?: { palette: Uint8Array };
  timings: Record<string, number>;
}

/** A request after `prepareTile`: done already (pass-through, a chunk, an empty footprint), or waiting for its op. */
export type PreparedTile = { tile: RenderedTile } | { stage: TileInput };

/** Runs the whole pipeline for one request on an open source. */
export async function renderTile(source: ImageSource, req: TileRequest): Promise<RenderedTile> {
  const s: TileState = { req, source, runtime: source.runtime, timings: {} };
  await runSteps(stepsFor(req), s);
  // The op's input is read no more: a buffer held under a lease goes back to the thread's pool, unless the
  // encoded bytes are a view of it.
  if (s.input) endLease(source.runtime.pool, s.input, s.done!.bytes);
  return s.done!;
}

/**
 * The tile `req` asks for when it is a stored JPEG tile passed through as it is (plan → pass-through, no
 * pixels read), else null: what `renderTile` would give for it, without the steps that decode.
 */
export async function readStoredTile(source: ImageSource, req: TileRequest): Promise<RenderedTile | null> {
  const s: TileState = { req, source, runtime: source.runtime, timings: {} };
  await runSteps([plan, passThrough], s);
  return s.done?.notes?.passThrough === "stored-jpeg" ? s.done : null;
}

/** The steps before the op. With `deferBlend`, a render stops at the channels' intensities (`TileInput.blend`). */
export async function prepareTile(source: ImageSource, req: TileRequest, deferBlend = false): Promise<PreparedTile> {
  const [before, after] = splitAtOp(stepsFor(req));
  const s: TileState = { req, source, runtime: source.runtime, deferBlend, timings: {} };
  await runSteps(before, s);
  if (s.done) return { tile: s.done };
  if (!s.input) {
    // Nothing to compute (an empty footprint): the steps after the op make the padding.
    await runSteps(after, s);
    return { tile: s.done! };
  }
  const { input, valid, crop, blend, timings } = s;
  return {
    stage: {
      input,
      placement: s.placement ?? null,
      timings,
      ...(valid ? { valid } : {}),
      ...(crop ? { crop } : {}),
      ...(blend ? { blend } : {}),
    },
  };
}

/** The steps after the op, on its output, with the thread's runtime. `stage` needs no `input` here. */
export async function finishTile(
  runtime: Runtime,
  req: TileRequest,
  stage: Omit<TileInput, "input">,
  out: OpOutput,
): Promise<RenderedTile> {
  const s: TileState = {
    req,
    runtime,
    timings: stage.timings,
    placement: stage.placement,
    out,
    ...(stage.crop ? { crop: stage.crop } : {}),
  };
  await runSteps(splitAtOp(stepsFor(req))[1], s);
  return s.done!;
}

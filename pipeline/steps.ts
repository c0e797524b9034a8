/**
 * The pipeline's steps, each one unit over one `TileState` (imgproxy's model): what a step needs is what the
 * steps before it left there. The lists that order them are in pipeline/render.ts. A step that finishes the
 * tile early (a pass-through, a Zarr chunk, a raw tensor) sets `done`, and the runner stops there.
 */
import type { ImageSource } from "../sources/source.ts";
import type { PlaneSelection } from "../core/image_info.ts";
import type { Rect } from "../core/rect.ts";
import type { Raster, Raster8 } from "../core/raster.ts";
import { leased } from "../core/lease.ts";
import { cropRaster } from "../core/crop.ts";
import { exactStoredTile, haloWindows, planRead, type ReadPlan, widenForHalo } from "../pyramid/read_plan.ts";
import { applyOp, getOp } from "../kernels/index.ts";
import { renderIntensities, renderPalette, renderRaster } from "../kernels/render.ts";
import { opInput8, type OpOutput } from "../kernels/op.ts";
import type { Runtime } from "../cache/runtime.ts";
import { encodeZarrChunk } from "../zarr/chunk.ts";
import type { TileNotes } from "../core/tile_notes.ts";
import { orientRaster } from "./orient.ts";
import { encodeTensor } from "./tensor.ts";
import { encodeRawTensor } from "./raw_tensor.ts";
import { resample } from "./resample.ts";
import { encodeOutput } from "./encode.ts";
import { expandPalette, padToOutput, type Placement, placeRaster } from "./pad.ts";
import { CONTENT_TYPES, type TileRequest } from "./tile_request.ts";

/** An encoded tile and what it cost. */
export interface RenderedTile {
  bytes: Uint8Array;
  contentType: string;
  /** Op parameters resolved while computing (for `X-Op`). */
  resolved?: Record<string, string | number>;
  /** Milliseconds per step (the steps' names). */
  timings: Record<string, number>;
  /** What the computation has to say besides the bytes (an int8 tensor's quantization, a pass-through). */
  notes?: TileNotes;
}

/** A tile between its steps. */
export interface TileState {
  readonly req: TileRequest;
  /** The thread's runtime (its codec, byte pool). */
  readonly runtime: Runtime;
  /** The open source (the steps after the op, run apart on the WebGPU path, have none). */
  readonly source?: ImageSource;
  /** Stop a render at the channels' intensities (`blend`): the WebGPU backend blends them. */
  readonly deferBlend?: boolean;
  timings: Record<string, number>;
  /** Where the image covers the output; null: nowhere (the output is all padding). */
  plan?: ReadPlan | null;
  /** Neighbourhood ops: the output pixels read around the tile, and the widened plan that reads them. */
  halo?: number;
  readPlan?: ReadPlan;
  /** The read pixels, then resampled to the output grid. */
  raster?: Raster;
  /** The op's 8-bit input and where its pixels land. */
  input?: Raster8;
  valid?: Rect;
  crop?: Rect;
  placement?: Placement | null;
  blend?: { palette: Uint8Array };
  /** The op's output (null: no pixels, all padding), then padded and oriented. */
  out?: OpOutput | null;
  /** The tile, once a step finished it. */
  done?: RenderedTile;
}

/** One step: its name (its `Server-Timing` entry) and what it does. */
export interface Step {
  readonly name: string;
  run(s: TileState): void | Promise<void>;
}

/** Where the request's footprint lies in the source's best level (with the halo of a neighbourhood op). */
export const plan: Step = {
  name: "plan",
  run(s) {
    s.plan = planRead(s.source!.info, s.req);
    s.placement = s.plan;
    s.halo = s.plan ? getOp(s.req.op.name).halo(s.req.op.params) : 0;
    s.readPlan = s.plan && s.halo ? planRead(s.source!.info, widenForHalo(s.req, s.halo))! : s.plan ?? undefined;
    if (!s.plan) s.out = null;
  },
};

/**
 * How `req`'s op may use a stored JPEG tile (its `storedJpeg`: as it is, or its gray transcode), or null
 * where nothing stored can be the answer (not JPEG out, a rotation, a mirror, a render). The pass-through
 * step and the router's stored-tile reads (service/stored_tiles.ts) ask the same question.
 */
export function storedJpegUse(req: TileRequest): "as-is" | "gray-transcode" | null {
  if (req.format !== "jpeg" || req.rotate || req.mirror || req.render) return null;
  return getOp(req.op.name).storedJpeg ?? null;
}

/**
 * JPEG pass-through: a request that is exactly one whole stored JPEG tile (JPEG out, no rotation, unit
 * scale, the tile's own size, not an edge tile) is answered without decoding or encoding: an op whose
 * `storedJpeg` is `as-is` (`none`) gets the stored bytes; `gray-transcode` (`gray`) on a level with a luma
 * plane (YCbCr tiles), where the codec tier can, the lossless DCT-domain gray transcode of that tile,
 * which decodes to exactly the luma plane the op reads. The requested quality is then the file's own.
 */
export const passThrough: Step = {
  name: "passthrough",
  async run(s) {
    const { req, source } = s;
    const how = storedJpegUse(req);
    if (!s.plan || !source!.readStoredJpeg || !how) return;
    const L = source!.info.levels[s.plan.level];
    const codec = s.runtime.codec;
    const gray = how === "gray-transcode" && !!L.luma && !!codec.grayTranscode;
    if (how !== "as-is" && !gray) return;
    const tile = exactStoredTile(s.plan, req, L);
    const jpeg = tile && await source!.readStoredJpeg(s.plan.level, tile.col, tile.row);
    if (!jpeg) return;
    let bytes = jpeg;
    try {
      if (gray) bytes = codec.grayTranscode!(jpeg);
    } catch {
      return; // not transcodable after all (a tile the decoder also refuses answers with its own error)
    }
    const passThrough = gray ? "gray-transcode" : "stored-jpeg";
    s.done = { bytes, contentType: CONTENT_TYPES.jpeg, timings: s.timings, notes: { passThrough } };
  },
};

/** The planes a Zarr chunk reads, or undefined when they are all channels of the first plane (the default read). */
function chunkSelection(req: TileRequest, channels: number): PlaneSelection | undefined {
  const k = req.chunk;
  if (!k || k.labels) return undefined;
  const all = k.z === 0 && k.t === 0 && k.c.length === channels && k.c.every((c, i) => c === i);
  return all ? undefined : { c: k.c, z: k.z, t: k.t };
}

/**
 * The read: the plan's rectangle of its level, as samples (or the luma plane, for ops that read only Y and
 * no render); of a render, the planes of the channels it composites (in `c` order); of a chunk, its planes.
 */
export const read: Step = {
  name: "read",
  async run(s) {
    const p = s.readPlan;
    if (!p) return;
    const { req, source } = s;
    const plane = getOp(req.op.name).readsLuma && !req.render ? "luma" : "samples";
    const select = req.render
      ? { c: req.render.c, z: req.render.z, t: req.render.t }
      : chunkSelection(req, source!.info.channels);
    const hints = req.scan ? { scan: true } : undefined;
    s.raster = await source!.readRegion(p.level, p.readX, p.readY, p.readW, p.readH, plane, select, hints);
  },
};

/** Resampling to the output grid (area averaging down, bilinear up); a neighbourhood op's on its widened canvas. */
export const resampleStep: Step = {
  name: "resample",
  run(s) {
    const p = s.readPlan;
    if (!p || !s.raster) return;
    const r = resample(s.raster, p.srcX, p.srcY, p.srcScaleX, p.srcScaleY, p.outW, p.outH);
    s.raster = s.halo ? placeRaster(r, s.req.outWidth + 2 * s.halo, s.req.outHeight + 2 * s.halo, p.outX, p.outY) : r;
  },
};

/**
 * The op's 8-bit input: the render step's composite (or, deferred, its intensities), else the op's own
 * conversion; a neighbourhood op's valid window and crop. A render's output is held under a lease (made for
 * this tile); otherwise the input keeps the read's lease when nothing was converted.
 */
export const opInput: Step = {
  name: "input",
  run(s) {
    if (!s.raster) return;
    const { req } = s, render = req.render;
    if (!render) s.input = opInput8(getOp(req.op.name), s.raster, req.op.params);
    else if (s.deferBlend) s.input = leased(renderIntensities(s.raster, render));
    else s.input = leased(renderRaster(s.raster, render));
    if (render && s.deferBlend) s.blend = { palette: renderPalette(render) };
    if (s.halo && s.plan && s.readPlan) Object.assign(s, haloWindows(s.readPlan, s.plan, s.halo));
  },
};

/** The op itself, on the CPU (an input held under a lease may be written over). */
export const op: Step = {
  name: "op",
  run(s) {
    if (s.input) s.out = applyOp(s.req.op, s.input, s.valid);
  },
};

/** A neighbourhood op's output cropped back to the tile. */
export const cropHalo: Step = {
  name: "crop",
  run(s) {
    const { out, crop } = s;
    if (out && crop) s.out = { ...out, raster: cropRaster(out.raster, crop.x, crop.y, crop.w, crop.h) };
  },
};

/** The output placed in the requested size: padding past the image's edge. */
export const pad: Step = {
  name: "pad",
  run(s) {
    s.out = padToOutput(s.out ?? null, s.placement ?? null, s.req);
  },
};

/** IIIF rotation and mirroring. */
export const orient: Step = {
  name: "orient",
  run(s) {
    const o = s.out!;
    s.out = { ...o, raster: orientRaster(o.raster, s.req.rotate ?? 0, !!s.req.mirror) };
  },
};

/** The encode step: an image format, or a `.npy` tensor (with its quantization for int8). */
export const encode: Step = {
  name: "encode",
  async run(s) {
    const { req } = s, out = s.out!;
    const done = { contentType: CONTENT_TYPES[req.format], resolved: out.resolved, timings: s.timings };
    if (req.format !== "npy") {
      s.done = { bytes: await encodeOutput(out, req.format, req.quality, s.runtime.codec), ...done };
      return;
    }
    const { bytes, quant } = encodeTensor(
      out.palette ? expandPalette(out) : out.raster,
      req.tensor ?? { dtype: "uint8" },
    );
    s.done = { bytes, ...done, ...(quant ? { notes: { quant } } : {}) };
  },
};

/** A Zarr chunk (zarr/chunk.ts): the raw samples or the op's labels, placed, laid out and compressed. */
export const encodeChunk: Step = {
  name: "encode",
  run(s) {
    const { req } = s;
    const labels = !!req.chunk?.labels;
    const raster = labels ? s.out?.raster ?? null : s.raster ?? null;
    const channels = labels ? 1 : req.chunk?.c.length ?? raster?.channels ?? 1;
    const bytes = encodeZarrChunk(
      raster,
      s.placement ?? { outX: 0, outY: 0 },
      req.outWidth,
      req.outHeight,
      channels,
      labels,
    );
    s.done = { bytes, contentType: CONTENT_TYPES.zarr, resolved: s.out?.resolved, timings: s.timings };
  },
};

/**
 * A raw-channel tensor (pipeline/raw_tensor.ts): the resampled samples, no render, op or orientation; an
 * empty footprint is encoded as padding, as any tile.
 */
export const encodeRaw: Step = {
  name: "encode",
  async run(s) {
    if (!s.raster) {
      for (const step of [pad, orient, encode]) await step.run(s);
      return;
    }
    const { bytes, quant } = encodeRawTensor(s.raster!, s.placement!, s.req);
    s.done = { bytes, contentType: CONTENT_TYPES.npy, timings: s.timings, ...(quant ? { notes: { quant } } : {}) };
  },
};

/** An associated image read whole and resampled to the output: its footprint is in its own pixels. */
export const readAssociated: Step = {
  name: "read",
  async run(s) {
    const { req } = s;
    const whole = await s.source!.readAssociated(req.associated!);
    const { x, y, w, h } = req.region;
    s.raster = resample(whole, x, y, w / req.outWidth, h / req.outHeight, req.outWidth, req.outHeight);
    s.placement = { outX: 0, outY: 0, outW: req.outWidth, outH: req.outHeight };
  },
};

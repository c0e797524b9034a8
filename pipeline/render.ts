/**
 * The tile pipeline, in order: plan → read (best level) → resample → op → pad → orient → encode.
 * Every protocol's request runs through `renderTile`; each step lives in its own module.
 */
import { giveBytes } from "../core/byte_pool.ts";
import type { ImageSource } from "../sources/source.ts";
import type { PlaneSelection } from "../core/image_info.ts";
import { encodeZarrChunk } from "../zarr/chunk.ts";
import { exactStoredTile, haloWindows, planRead, type ReadPlan, widenForHalo } from "../pyramid/read_plan.ts";
import { applyOp, getOp } from "../kernels/index.ts";
import { renderIntensities, renderPalette, renderRaster } from "../kernels/render.ts";
import { opInput8, type OpOutput } from "../kernels/op.ts";
import type { Rect } from "../core/rect.ts";
import { cropRaster } from "../core/crop.ts";
import { orientRaster } from "./orient.ts";
import { encodeTensor } from "./tensor.ts";
import type { QuantInfo, TileNotes } from "../core/tile_notes.ts";
import { encodeRawTensor, isRawTensor } from "./raw_tensor.ts";
import { arrayTypeFor, type Raster } from "../core/raster.ts";
import { resample } from "./resample.ts";
import { backgroundSamples, encodeOutput, flattenAlpha } from "./encode.ts";
import { CONTENT_TYPES, type TileRequest } from "./tile_request.ts";
import { jpegCodec } from "../codecs/tier.ts";
import type { Raster8 } from "../core/raster.ts";

/** An encoded tile and what it cost. */
export interface RenderedTile {
  bytes: Uint8Array;
  contentType: string;
  /** Op parameters resolved while computing (for `X-Op`). */
  resolved?: Record<string, string | number>;
  /** Milliseconds per step: read, resample, op, encode. */
  timings: Record<string, number>;
  /** What the computation has to say besides the bytes (an int8 tensor's quantization, a pass-through). */
  notes?: TileNotes;
}

/** Where the computed pixels land in the output; the rest is padding. */
export interface Placement {
  outX: number;
  outY: number;
  outW: number;
  outH: number;
}

/**
 * A tile up to its op: the op's 8-bit input and what the steps after the op need. The CPU backends run
 * the whole pipeline in one place; the WebGPU backend runs `prepareTile` and `finishTile` on the workers
 * and the op's kernel on the GPU in between.
 */
export interface TileInput {
  /** The op's input (the resampled pixels, with the halo for neighbourhood ops). */
  input: Raster8;
  /** Neighbourhood ops: the part of the input inside the image (reads clamp to it). */
  valid?: Rect;
  /** Neighbourhood ops: the tile's part of the op's output. */
  crop?: Rect;
  /** Where the tile's pixels land in the output. */
  placement: Placement;
  /**
   * Set when the render step's blend was left to the caller (the WebGPU backend runs it): `input` then holds
   * the channels' 8-bit intensities (interleaved), and the blend with this palette makes the op's input.
   */
  blend?: { palette: Uint8Array };
  /**
   * True when `input` was made for this tile alone (a render's output, or a region the reader marked
   * `exclusive`): a worker may transfer it, and the CPU op may write its output over it.
   */
  owned?: boolean;
  /** Milliseconds so far (read, resample). */
  timings: Record<string, number>;
}

/** A request after `prepareTile`: done already (pass-through, empty region), or waiting for its op. */
export type PreparedTile = { tile: RenderedTile } | { stage: TileInput };

/** Runs the whole pipeline for one request on an open source. */
export async function renderTile(source: ImageSource, req: TileRequest): Promise<RenderedTile> {
  const prepared = await prepareTile(source, req);
  if ("tile" in prepared) return prepared.tile;
  const t0 = performance.now();
  // The input is read no more after the op: one made for this tile alone may take the op's output.
  const out = applyOp(req.op, prepared.stage.input, prepared.stage.valid, prepared.stage.owned === true);
  prepared.stage.timings.op = performance.now() - t0;
  const tile = await finishTile(req, prepared.stage, out);
  // The input (and an in-place op's output) is read no more: a buffer the reader took from the thread's
  // pool goes back to it, unless the encoded bytes are a view of it.
  const data = prepared.stage.input.data;
  if (prepared.stage.owned && tile.bytes.buffer !== data.buffer) giveBytes(data);
  return tile;
}

/**
 * The steps before the op: plan → pass-through or read → resample (→ halo canvas) → 8-bit op input. With
 * `deferBlend`, a render stops at the channels' intensities (`TileInput.blend`).
 */
export async function prepareTile(source: ImageSource, req: TileRequest, deferBlend = false): Promise<PreparedTile> {
  if (req.associated) return await prepareAssociated(source, req);
  const { timings, lap } = stopwatch();
  const op = getOp(req.op.name);
  const halo = op.halo(req.op.params);
  const plan = planRead(source.info, req);
  if (!plan) return { tile: await finish(null, null, req, timings, lap) };
  const stored = await passThrough(source, req, plan);
  if (stored) {
    lap("passthrough");
    return {
      tile: {
        bytes: stored.bytes,
        contentType: CONTENT_TYPES.jpeg,
        timings,
        notes: { passThrough: stored.how },
      },
    };
  }
  // The render step composites source samples: it never reads a luma plane.
  const plane = op.readsLuma && !req.render ? "luma" : "samples";
  // It reads only the planes of the channels it composites (in `c` order); a Zarr chunk those it holds.
  const select = req.render
    ? { c: req.render.c, z: req.render.z, t: req.render.t }
    : chunkSelection(req, source.info.channels);
  const render = req.render;
  const hints = req.scan ? { scan: true } : undefined;
  const blend = render && deferBlend ? { blend: { palette: renderPalette(render) } } : {};
  // A render's output is new; otherwise the input is the region itself when nothing was resampled or
  // converted, and the reader says whether it made that region for this read alone.
  const owned = (input: Raster) => (render || input.exclusive ? { owned: true } : {});
  const toInput = (r: Raster) =>
    !render ? opInput8(op, r, req.op.params) : deferBlend ? renderIntensities(r, render) : renderRaster(r, render);
  if (halo === 0) {
    const region = await source.readRegion(
      plan.level,
      plan.readX,
      plan.readY,
      plan.readW,
      plan.readH,
      plane,
      select,
      hints,
    );
    lap("read");
    const resampled = resample(region, plan.srcX, plan.srcY, plan.srcScaleX, plan.srcScaleY, plan.outW, plan.outH);
    if (req.format === "zarr" && !req.chunk?.labels) {
      return { tile: zarrTile(resampled, plan, req, timings, lap) };
    }
    if (isRawTensor(req)) return { tile: rawTensorTile(resampled, plan, req, timings, lap) };
    const input = toInput(resampled);
    lap("resample");
    return { stage: { input, placement: plan, timings, ...blend, ...owned(input) } };
  }
  // Neighbourhood op: the same pixel grid widened by `halo` output pixels on each side, the part of it
  // inside the image marked valid; the op's result is cropped back to the tile.
  const wide = widenForHalo(req, halo);
  const wp = planRead(source.info, wide)!;
  const region = await source.readRegion(wp.level, wp.readX, wp.readY, wp.readW, wp.readH, plane, select, hints);
  lap("read");
  const resampled = resample(region, wp.srcX, wp.srcY, wp.srcScaleX, wp.srcScaleY, wp.outW, wp.outH);
  const canvas = placeRaster(resampled, wide.outWidth, wide.outHeight, wp.outX, wp.outY);
  const input = toInput(canvas);
  lap("resample");
  return { stage: { input, ...haloWindows(wp, plan, halo), placement: plan, timings, ...blend, ...owned(input) } };
}

/** The steps after the op: crop the halo → pad → orient → encode. `stage` needs no `input` here. */
export async function finishTile(
  req: TileRequest,
  stage: Omit<TileInput, "input">,
  out: OpOutput,
): Promise<RenderedTile> {
  const { timings, lap } = stopwatch(stage.timings);
  const { crop } = stage;
  const inner = crop ? { ...out, raster: cropRaster(out.raster, crop.x, crop.y, crop.w, crop.h) } : out;
  return await finish(inner, stage.placement, req, timings, lap);
}

/** A raw-channel tensor (pipeline/raw_tensor.ts): encoded here, no render, op or orientation. */
function rawTensorTile(
  resampled: Raster,
  plan: Placement,
  req: TileRequest,
  timings: Record<string, number>,
  lap: (name: string) => void,
): RenderedTile {
  lap("resample");
  const { bytes, quant } = encodeRawTensor(resampled, plan, req);
  lap("encode");
  return { bytes, contentType: CONTENT_TYPES.npy, timings, ...(quant ? { notes: { quant } } : {}) };
}

/** A Zarr chunk (zarr/chunk.ts): the raw samples or the op's labels, placed, laid out and compressed. */
function zarrTile(
  raster: Raster | null,
  placement: Placement | null,
  req: TileRequest,
  timings: Record<string, number>,
  lap: (name: string) => void,
  resolved?: Record<string, string | number>,
): RenderedTile {
  const labels = !!req.chunk?.labels;
  const channels = labels ? 1 : req.chunk?.c.length ?? raster?.channels ?? 1;
  const at = placement ?? { outX: 0, outY: 0 };
  const bytes = encodeZarrChunk(raster, at, req.outWidth, req.outHeight, channels, labels);
  lap("encode");
  return { bytes, contentType: CONTENT_TYPES.zarr, resolved, timings };
}

/** The planes a Zarr chunk reads, or undefined when they are all channels of the first plane (the default read). */
function chunkSelection(req: TileRequest, channels: number): PlaneSelection | undefined {
  const k = req.chunk;
  if (!k || k.labels) return undefined;
  const all = k.z === 0 && k.t === 0 && k.c.length === channels && k.c.every((c, i) => c === i);
  return all ? undefined : { c: k.c, z: k.z, t: k.t };
}

/** Per-step milliseconds: `lap(name)` adds the time since the previous lap to `timings[name]`. */
function stopwatch(
  timings: Record<string, number> = {},
): { timings: Record<string, number>; lap: (name: string) => void } {
  let t = performance.now();
  return {
    timings,
    lap: (name) => {
      const now = performance.now();
      timings[name] = (timings[name] ?? 0) + now - t;
      t = now;
    },
  };
}

/** The last steps, shared by every path: pad → orient → encode. */
async function finish(
  out: OpOutput | null,
  placement: Placement | null,
  req: TileRequest,
  timings: Record<string, number>,
  lap: (name: string) => void,
): Promise<RenderedTile> {
  if (req.format === "zarr") return zarrTile(out?.raster ?? null, placement, req, timings, lap, out?.resolved);
  const padded = padToOutput(out, placement, req);
  const output = { ...padded, raster: orientRaster(padded.raster, req.rotate ?? 0, !!req.mirror) };
  const { bytes, quant } = await encodeStep(output, req);
  lap("encode");
  const notes = quant ? { notes: { quant } } : {};
  return { bytes, contentType: CONTENT_TYPES[req.format], resolved: out?.resolved, timings, ...notes };
}

/**
 * JPEG pass-through: a request that is exactly one whole stored JPEG tile (JPEG out, no rotation, unit
 * scale, the tile's own size, not an edge tile) is answered without decoding or encoding:
 * - an op whose `storedJpeg` is `as-is` (`none`): the stored bytes as a standalone JPEG (`stored-jpeg`);
 * - `gray-transcode` (`gray`) on a level with a luma plane (YCbCr tiles), where the codec tier can: the
 *   lossless DCT-domain gray transcode of that tile, which decodes to exactly the luma plane the op reads.
 * The requested quality is then the file's own.
 */
async function passThrough(
  source: ImageSource,
  req: TileRequest,
  plan: ReadPlan,
): Promise<{ bytes: Uint8Array; how: string } | null> {
  if (!source.readStoredJpeg || req.format !== "jpeg" || req.rotate || req.mirror || req.render) return null;
  const L = source.info.levels[plan.level];
  const codec = jpegCodec();
  const how = getOp(req.op.name).storedJpeg;
  const gray = how === "gray-transcode" && !!L.luma && !!codec.grayTranscode;
  if (how !== "as-is" && !gray) return null;
  const tile = exactStoredTile(plan, req, L);
  if (!tile) return null;
  const jpeg = await source.readStoredJpeg(plan.level, tile.col, tile.row);
  if (!jpeg) return null;
  if (!gray) return { bytes: jpeg, how: "stored-jpeg" };
  try {
    return { bytes: codec.grayTranscode!(jpeg), how: "gray-transcode" };
  } catch {
    return null; // not transcodable after all (a tile the decoder also refuses answers with its own error)
  }
}

/** The associated-image variant: read the whole image, then the same resample → 8-bit input steps. */
async function prepareAssociated(source: ImageSource, req: TileRequest): Promise<PreparedTile> {
  const { timings, lap } = stopwatch();
  const whole = await source.readAssociated(req.associated!);
  lap("read");
  const { x, y, w, h } = req.region;
  const resampled = resample(whole, x, y, w / req.outWidth, h / req.outHeight, req.outWidth, req.outHeight);
  const input = opInput8(getOp(req.op.name), resampled, req.op.params);
  lap("resample");
  return { stage: { input, placement: { outX: 0, outY: 0, outW: req.outWidth, outH: req.outHeight }, timings } };
}

/** Formats without alpha: JPEG, and tensors (fixed channels whatever the padding). */
function opaqueFormat(req: TileRequest): boolean {
  return req.format === "jpeg" || req.format === "npy";
}

/** The encode step: an image format, or a `.npy` tensor (with its quantization for int8). */
async function encodeStep(out: OpOutput, req: TileRequest): Promise<{ bytes: Uint8Array; quant?: QuantInfo }> {
  if (req.format !== "npy") return { bytes: await encodeOutput(out, req.format, req.quality) };
  const raster = out.palette ? expandPalette(out) : out.raster;
  return encodeTensor(raster, req.tensor ?? { dtype: "uint8" });
}

/**
 * Places the op's output in the full output size. Padding is transparent for PNG and WebP and the
 * background colour for JPEG; JPEG output never carries alpha.
 */
export function padToOutput(inner: OpOutput | null, plan: Placement | null, req: TileRequest): OpOutput {
  const W = req.outWidth, H = req.outHeight;
  const jpeg = opaqueFormat(req);
  const covers = inner && plan && plan.outX === 0 && plan.outY === 0 && plan.outW === W && plan.outH === H;
  const bg = req.format === "jpeg" ? req.background : undefined;
  if (covers) return jpeg && !inner!.palette ? { ...inner!, raster: flattenAlpha(inner!.raster, bg) } : inner!;
  // Expand the inner raster to gray/RGB + alpha (or flat for JPEG), then paste it.
  let src: Raster8 | null = inner ? expandPalette(inner) : null;
  const baseCh = src ? (src.channels <= 2 ? 1 : 3) : 3;
  const ch = jpeg ? baseCh : baseCh + 1;
  if (src && jpeg) src = flattenAlpha(src, bg);
  if (src && !jpeg) src = withAlpha(src);
  const data = new Uint8Array(W * H * ch);
  if (jpeg) {
    const back = backgroundSamples(ch, bg);
    if (back.every((v) => v === back[0])) data.fill(back[0]);
    else for (let i = 0; i < data.length; i += ch) data.set(back, i);
  }
  if (src && plan) {
    for (let y = 0; y < src.height; y++) {
      data.set(src.data.subarray(y * src.width * ch, (y + 1) * src.width * ch), ((plan.outY + y) * W + plan.outX) * ch);
    }
  }
  return { raster: { width: W, height: H, channels: ch, type: "uint8", data }, resolved: inner?.resolved };
}

function expandPalette(o: OpOutput): Raster8 {
  if (!o.palette) return o.raster;
  const { width, height, data } = o.raster;
  const out = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) out.set(o.palette.subarray(data[i] * 3, data[i] * 3 + 3), i * 3);
  return { width, height, channels: 3, type: "uint8", data: out };
}

function withAlpha(r: Raster8): Raster8 {
  if (r.channels === 2 || r.channels === 4) return r;
  const ch = r.channels, n = r.width * r.height;
  const out = new Uint8Array(n * (ch + 1));
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < ch; c++) out[i * (ch + 1) + c] = r.data[i * ch + c];
    out[i * (ch + 1) + ch] = 255;
  }
  return { width: r.width, height: r.height, channels: ch + 1, type: "uint8", data: out };
}

/** `src` placed at (`x`, `y`) on a zero canvas of `w` × `h` (same sample type and channels). */
function placeRaster(src: Raster, w: number, h: number, x: number, y: number): Raster {
  if (x === 0 && y === 0 && src.width === w && src.height === h) return src;
  const ch = src.channels;
  const data = new (arrayTypeFor(src.type))(w * h * ch);
  for (let row = 0; row < src.height; row++) {
    data.set(src.data.subarray(row * src.width * ch, (row + 1) * src.width * ch) as never, ((y + row) * w + x) * ch);
  }
  return { width: w, height: h, channels: ch, type: src.type, data };
}

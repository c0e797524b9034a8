/**
 * Physical scales, pure: a grid asked for in microns per pixel (`mpp=0.5`) or in objective magnification
 * (`magnification=20`) resolves to a level-0 downsample, possibly fractional (reads then use the exact area
 * average of the best level: pipeline/resample.ts). Magnification is the slide's objective power over the
 * one asked (Aperio `AppMag`), or, where the file names no objective, the convention 10 µm/px at 1×
 * (20× = 0.5 µm/px) over the file's MPP.
 */
import { badRequest, HttpError } from "../errors.ts";

/** A grid's scale as asked: exactly one of a power-of-two downsample, microns per pixel or magnification. */
export type GridScale = { downsample: number } | { mpp: number } | { magnification: number };

/** What the image says about its physical size. */
export interface PhysicalInfo {
  mpp?: { x: number; y: number };
  properties: Record<string, string>;
}

/** Microns per pixel at 1× magnification, by the common convention (a 10× objective gives 1 µm/px). */
export const MPP_AT_1X = 10;

/** Largest downsample a grid may have (as for `downsample=`). */
export const MAX_GRID_DOWNSAMPLE = 2 ** 20;

/** The image's microns per pixel at level 0 (the geometric mean of x and y), or undefined. */
export function levelZeroMpp(info: PhysicalInfo): number | undefined {
  const m = info.mpp;
  return m && m.x > 0 && m.y > 0 ? Math.sqrt(m.x * m.y) : undefined;
}

/** The slide's objective power (Aperio `AppMag`), or undefined. */
export function objectivePower(info: PhysicalInfo): number | undefined {
  const v = Number(info.properties["aperio.AppMag"]);
  return v > 0 && Number.isFinite(v) ? v : undefined;
}

/**
 * The level-0 downsample of a scale: 422 when the image lacks what a physical scale needs, 400 when it is
 * finer than level 0 (edgetile never upsamples an export) or coarser than `MAX_GRID_DOWNSAMPLE`. A ratio
 * within 1e-9 of an integer is that integer (0.998 / 0.499 is 2, not 2.0000000000000004).
 */
export function downsampleForScale(info: PhysicalInfo, scale: GridScale): number {
  if ("downsample" in scale) return scale.downsample;
  const mpp0 = levelZeroMpp(info);
  let d: number;
  if ("mpp" in scale) {
    if (mpp0 === undefined) throw noPhysicalSize("mpp");
    d = scale.mpp / mpp0;
  } else {
    const power = objectivePower(info);
    if (power !== undefined) d = power / scale.magnification;
    else if (mpp0 !== undefined) d = MPP_AT_1X / scale.magnification / mpp0;
    else throw noPhysicalSize("magnification");
  }
  const near = Math.round(d);
  if (Math.abs(d - near) <= 1e-9 * d) d = near;
  if (d < 1) {
    const at = mpp0 !== undefined ? `${mpp0} µm/px` : `${objectivePower(info)}×`;
    throw badRequest(`the scale asked is finer than the image's level 0 (${at}): exports never upsample`);
  }
  if (d > MAX_GRID_DOWNSAMPLE) throw badRequest(`the scale asked is a downsample of ${d}, past ${MAX_GRID_DOWNSAMPLE}`);
  return d;
}

/** The physical size of a level-0 downsample: microns per pixel and magnification, where the image says. */
export function scaleOfDownsample(info: PhysicalInfo, downsample: number): { mpp?: number; magnification?: number } {
  const mpp0 = levelZeroMpp(info), power = objectivePower(info);
  const out: { mpp?: number; magnification?: number } = {};
  if (mpp0 !== undefined) out.mpp = round(mpp0 * downsample);
  if (power !== undefined) out.magnification = round(power / downsample);
  else if (mpp0 !== undefined) out.magnification = round(MPP_AT_1X / (mpp0 * downsample));
  return out;
}

function round(v: number): number {
  return Number(v.toPrecision(12));
}

function noPhysicalSize(param: string): HttpError {
  return new HttpError(
    422,
    "no_physical_size",
    `${param}= needs the image's physical pixel size, and this file names none (no MPP, resolution or objective power): use downsample=`,
  );
}

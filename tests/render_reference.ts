/**
 * The render step's independent reference: tifffile reads the file (an OME series: its channels, Z and T
 * planes, SubIFD levels), numpy windows, stretches and composites (or looks the colormap up in
 * matplotlib's table), per DESIGN.md. Derived levels are numpy's 2× area mean (round half up).
 */
import { assertEquals } from "./assert.ts";
import { DATA } from "./helpers.ts";

/** Runs a Python script with Debian's interpreter; its stdout. */
export async function python(script: string, args: string[]): Promise<Uint8Array> {
  const out = await new Deno.Command("/usr/bin/python3", { args: ["-c", script, ...args] }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  return out.stdout;
}

/** Reads series 0 of a TIFF as (H, W, C) at a level/plane: shared by the references. */
export const READ_SERIES = `
import sys, json, numpy as np, tifffile
def series_plane(f, spec):
    s = tifffile.TiffFile(f).series[0]
    lv = spec.get("level", 0)
    a = (s.levels[lv] if lv < len(s.levels) else s.levels[-1]).asarray()
    axes = s.axes
    for ax, key in (("T", "t"), ("Z", "z")):
        if ax in axes:
            a = np.take(a, spec.get(key, 0), axis=axes.index(ax)); axes = axes.replace(ax, "")
    if "C" in axes:
        a = np.moveaxis(a, axes.index("C"), -1)
    elif "S" not in axes:
        a = a[:, :, None]
    a = a.astype(np.float64 if a.dtype.kind == "f" else np.int64)
    for _ in range(spec.get("derive", 0)):
        H, W = a.shape[:2]; h, w = (H + 1) // 2, (W + 1) // 2
        s2 = np.zeros((h, w, a.shape[2]), a.dtype); n = np.zeros((h, w, 1), np.int64)
        for dy in (0, 1):
            for dx in (0, 1):
                p = a[dy::2, dx::2]; s2[:p.shape[0], :p.shape[1]] += p; n[:p.shape[0], :p.shape[1]] += 1
        a = s2 / n if a.dtype.kind == "f" else (s2 + n // 2) // n
    return a
`;

const REFERENCE = READ_SERIES + `
from matplotlib import colormaps
f, spec = sys.argv[1], json.loads(sys.argv[2])
a = series_plane(f, spec).astype(np.float64)
planes = []
for k, c in enumerate(spec["c"]):
    lo, hi = spec["window"][k]
    n = np.clip((a[:, :, c] - lo) / (hi - lo), 0, 1)
    s = {"linear": n, "sqrt": np.sqrt(n), "log": np.log10(1 + 1000 * n) / np.log10(1001),
         "asinh": np.arcsinh(10 * n) / np.arcsinh(10)}[spec["stretch"]]
    planes.append(np.floor(255 * s + 0.5).astype(np.int64))
if spec.get("colormap"):
    table = np.round(255 * colormaps[spec["colormap"]](np.arange(256))[:, :3]).astype(np.uint8)
    out = table[planes[0]]
else:
    col = np.array([[int(h[i:i + 2], 16) for i in (0, 2, 4)] for h in spec["color"]], dtype=np.int64)
    acc = sum(p[:, :, None] * col[k] for k, p in enumerate(planes)) + 127
    out = np.minimum(255, acc // 255).astype(np.uint8)
sys.stdout.buffer.write(np.array(out.shape[:2], dtype="<u4").tobytes() + np.ascontiguousarray(out).tobytes())
`;

/** A render spec as the reference takes it (`level`: series level; `derive`: 2× means after it). */
export interface ReferenceSpec {
  c: number[];
  window: [number, number][];
  stretch: string;
  color?: string[];
  colormap?: string;
  z?: number;
  t?: number;
  level?: number;
  derive?: number;
}

/** numpy's render of a whole level of `file` (in tests/data unless absolute): RGB bytes. */
export async function renderReference(file: string, spec: ReferenceSpec) {
  const out = await python(REFERENCE, [file.startsWith("/") ? file : DATA + file, JSON.stringify(spec)]);
  const [height, width] = new Uint32Array(out.slice(0, 8).buffer);
  return { width, height, data: out.slice(8) };
}

/** The `w`×`h` RGB crop at (`x`, `y`) of a reference image. */
export function cropRgb(ref: { width: number; data: Uint8Array }, x: number, y: number, w: number, h: number) {
  const crop = new Uint8Array(w * h * 3);
  for (let r = 0; r < h; r++) {
    crop.set(ref.data.subarray(((y + r) * ref.width + x) * 3, ((y + r) * ref.width + x + w) * 3), r * w * 3);
  }
  return crop;
}

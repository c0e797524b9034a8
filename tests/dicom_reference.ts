/** pydicom's reading of a DICOM file or series (Debian's python3-pydicom): the DICOM tests' reference. */
import { assertEquals } from "./assert.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/**
 * pydicom's level 0 of `path` (a file, or the largest VOLUME instance of a folder), assembled from its
 * TILED_FULL frames: height × width × channels (optical paths interleaved, or RGB).
 */
export async function pydicomLevel0(
  path: string,
): Promise<{ width: number; height: number; channels: number; data: Uint8Array }> {
  const py = `import sys, os, glob, numpy as np, pydicom
p = sys.argv[1]
files = [p] if os.path.isfile(p) else [f for f in glob.glob(p + "/*") if open(f, "rb").read(132)[128:] == b"DICM"]
vols = [pydicom.dcmread(f) for f in files]
vols = [d for d in vols if d.ImageType[2] == "VOLUME"]
d = max(vols, key=lambda d: d.TotalPixelMatrixColumns)
W, H, tw, th = d.TotalPixelMatrixColumns, d.TotalPixelMatrixRows, d.Columns, d.Rows
across, down = -(-W // tw), -(-H // th)
px = d.pixel_array.reshape(int(d.NumberOfFrames), th, tw, -1)
spp = int(d.SamplesPerPixel)
paths = 1 if spp == 3 else int(d.get("NumberOfOpticalPaths", 1))
ch = 3 if spp == 3 else paths
out = np.zeros((down * th, across * tw, ch), np.uint8)
for op in range(paths):
    for r in range(down):
        for c in range(across):
            f = px[(op * down + r) * across + c]
            if spp == 3: out[r*th:(r+1)*th, c*tw:(c+1)*tw, :] = f
            else: out[r*th:(r+1)*th, c*tw:(c+1)*tw, op] = f[..., 0]
out = np.ascontiguousarray(out[:H, :W])
sys.stdout.write(f"{W} {H} {ch}\\n"); sys.stdout.flush()
sys.stdout.buffer.write(out.tobytes())`;
  const out = await new Deno.Command("/usr/bin/python3", { args: ["-c", py, path] }).output();
  assertEquals(out.code, 0, text(out.stderr));
  const nl = out.stdout.indexOf(10);
  const [width, height, channels] = text(out.stdout.subarray(0, nl)).split(" ").map(Number);
  return { width, height, channels, data: out.stdout.subarray(nl + 1) };
}

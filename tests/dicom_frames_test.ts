/**
 * DICOM frames: several fragments, the Extended Offset Table, and focal planes as Z planes.
 */
import { assertEquals } from "./assert.ts";
import { DATA } from "./helpers.ts";
import { openSource } from "../sources/open.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const BPAEC = "dicom-wg26__BPAEC", NATIVE = "highdicom__sm_image.dcm";

/**
 * pydicom's level 0 of `path` (a file, or the largest VOLUME instance of a folder), assembled from its
 * TILED_FULL frames: height × width × channels (optical paths interleaved, or RGB).
 */
async function pydicomLevel0(
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

Deno.test("DICOM frames of several fragments (Basic Offset Table) and by an Extended Offset Table read as the original", async () => {
  // One BPAEC instance re-encapsulated by pydicom: two fragments a frame with a Basic Offset Table, and one
  // fragment a frame with an Extended Offset Table (and an empty Basic one).
  const dir = await Deno.makeTempDir();
  try {
    const py = `import sys, pydicom
from pydicom.encaps import generate_pixel_data_frame, encapsulate, encapsulate_extended
ds = pydicom.dcmread(sys.argv[1])
frames = list(generate_pixel_data_frame(ds.PixelData, int(ds.NumberOfFrames)))
a = ds.copy(); a.PixelData = encapsulate(frames, fragments_per_frame=2, has_bot=True); a.save_as(sys.argv[2])
b = ds.copy(); data, offsets, lengths = encapsulate_extended(frames)
b.PixelData = data; b.ExtendedOffsetTable = offsets; b.ExtendedOffsetTableLengths = lengths; b.save_as(sys.argv[3])`;
    const src = `${DATA}${BPAEC}/5_0`;
    const out = await new Deno.Command("/usr/bin/python3", {
      args: ["-c", py, src, `${dir}/fragments.dcm`, `${dir}/extended.dcm`],
    }).output();
    assertEquals(out.code, 0, text(out.stderr));
    const read = async (path: string) => {
      const s = await openSource({ path, version: "t", maxPixels: 1e9 });
      try {
        const r = await s.readRegion(0, 0, 0, s.info.width, s.info.height);
        return new Uint8Array(r.data.buffer, r.data.byteOffset, s.info.width * s.info.height * s.info.channels);
      } finally {
        await s.close();
      }
    };
    const want = await read(src);
    for (const f of ["fragments.dcm", "extended.dcm"]) {
      const got = await read(`${dir}/${f}`);
      assertEquals(got.length, want.length, f);
      assertEquals(got.findIndex((v, i) => v !== want[i]), -1, `${f}: the same pixels as the original`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DICOM focal planes are Z planes: z= reads the plane's own frames", async () => {
  // highdicom's native file with a second focal plane (its frames inverted) after the first, TILED_FULL.
  const dir = await Deno.makeTempDir();
  try {
    const py = `import sys, pydicom, numpy as np
ds = pydicom.dcmread(sys.argv[1])
px = ds.pixel_array
ds.PixelData = np.concatenate([px, 255 - px]).tobytes()
ds.NumberOfFrames = 2 * px.shape[0]
ds.TotalPixelMatrixFocalPlanes = 2
ds.save_as(sys.argv[2])`;
    const out = await new Deno.Command("/usr/bin/python3", { args: ["-c", py, DATA + NATIVE, `${dir}/z.dcm`] })
      .output();
    assertEquals(out.code, 0, text(out.stderr));
    const ref = await pydicomLevel0(DATA + NATIVE);
    const source = await openSource({ path: `${dir}/z.dcm`, version: "t", maxPixels: 1e9 });
    try {
      assertEquals(source.info.planes, { z: 2, t: 1 });
      for (const z of [0, 1]) {
        const r = await source.readRegion(0, 0, 0, 50, 50, undefined, { c: [0, 1, 2], z, t: 0 });
        const bad = r.data.findIndex((v, i) => v !== (z ? 255 - ref.data[i] : ref.data[i]));
        assertEquals(bad, -1, `plane ${z}`);
      }
    } finally {
      await source.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

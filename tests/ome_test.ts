/**
 * OME-TIFF sources: the OME-XML's channels, Z planes and SubIFD pyramids, listed and rendered, against
 * tifffile + numpy (tests/render_reference.ts): the 4-channel uint16 TCGA OME pyramid (planes as pages,
 * levels as SubIFDs), the Bio-Formats z-series (int8, 3 channels × 5 Z planes, big-endian, stripped) and
 * a 16-channel OME-TIFF written here by tifffile from the TCGA channels.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, firstDifference, get, withServer } from "./helpers.ts";
import { DeepZoomGeometry } from "../pyramid/deepzoom.ts";
import { openSource } from "../sources/open.ts";
import { python, READ_SERIES, type ReferenceSpec } from "./render_reference.ts";
import { checkTiles } from "./render_tiles.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const TCGA = "generated__tcga-hed-4ch-uint16_ome_pyramid.tif";
const ZSERIES = "libvips__multi-channel-z-series.ome.tif";

/** numpy's per-channel min, 0.5 / 99.5 percentiles and max of level 0 of a series plane. */
async function channelFigures(file: string, z = 0): Promise<number[][]> {
  const py = READ_SERIES + `
a = series_plane(sys.argv[1], {"z": int(sys.argv[2])})
for c in range(a.shape[2]):
    print(*[float(v) for v in np.percentile(a[:, :, c], [0, 0.5, 99.5, 100])])
`;
  const out = new TextDecoder().decode(await python(py, [DATA + file, String(z)]));
  return out.trim().split("\n").map((l) => l.split(" ").map(Number));
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

Deno.test(
  "OME-TIFF metadata: channels (names, figures), Z/T sizes and the SubIFD pyramid as tifffile reads them",
  opts,
  async () => {
    await withServer({ IMAGES_DIR: DATA }, async ({ url }) => {
      const info = JSON.parse(new TextDecoder().decode((await get(`${url}/images/${TCGA}`)).body));
      const py = `
import sys, json, tifffile
t = tifffile.TiffFile(sys.argv[1]); s = t.series[0]
print(json.dumps({"levels": [list(l.shape[-2:]) for l in s.levels], "axes": s.axes, "shape": list(s.shape),
                  "names": [c.get("Name") for c in tifffile.xml2dict(t.ome_metadata)["OME"]["Image"]["Pixels"]["Channel"]]}))
`;
      const want = JSON.parse(new TextDecoder().decode(await python(py, [DATA + TCGA])));
      assertEquals(info.format, "ome-tiff");
      assertEquals([info.channels, info.sizeZ, info.sizeT, info.pixelType, info.rendered], [4, 1, 1, "uint16", true]);
      assertEquals(info.levels.map((l: { width: number; height: number }) => [l.height, l.width]), want.levels);
      assertEquals(info.channelList.map((c: { name: string }) => c.name), want.names);
      assertEquals(info.mpp, { x: 0.5, y: 0.5 });
      const figures = await channelFigures(TCGA);
      info.channelList.forEach((c: Record<string, number>, i: number) => {
        const got = [c.min, c.low, c.high, c.max];
        assert(got.every((v, k) => close(v, figures[i][k])), `channel ${i}: ${got} vs numpy ${figures[i]}`);
      });

      const z = JSON.parse(new TextDecoder().decode((await get(`${url}/images/${ZSERIES}`)).body));
      assertEquals([z.format, z.channels, z.sizeZ, z.sizeT, z.pixelType], ["ome-tiff", 3, 5, 1, "int8"]);
      // The stats of a Z plane are that plane's (here z=3), every channel against numpy.
      const s3 = JSON.parse(new TextDecoder().decode((await get(`${url}/images/${ZSERIES}/stats?z=3`)).body));
      const f3 = await channelFigures(ZSERIES, 3);
      assertEquals(s3.plane, { z: 3, t: 0 });
      for (let c = 0; c < 3; c++) {
        const got = [s3.channels.min[c], s3.percentiles.low[c], s3.percentiles.high[c], s3.channels.max[c]];
        assert(got.every((v, k) => close(v, f3[c][k])), `z=3 channel ${c}: ${got} vs ${f3[c]}`);
        assertEquals(s3.channels.histogram[c].reduce((a: number, b: number) => a + b, 0), 439 * 167);
      }
      const bad = await get(`${url}/images/${ZSERIES}/stats?z=5`);
      assertEquals(bad.status, 400);
    });
  },
);

Deno.test(
  "OME-TIFF tiles: channel subsets of the TCGA pyramid (level 0 and a SubIFD level) equal numpy's composite",
  opts,
  async () => {
    await withServer({ IMAGES_DIR: DATA }, async ({ url }) => {
      let n = 0;
      const top = 11; // 1536×1024 → Deep Zoom level 11 is level 0; level 10 is SubIFD level 1 (768×512)
      const cases: [string, ReferenceSpec][] = [
        [
          "c=0,1,2,3&color=0000ff,00ff00,ff0000,ffffff&window=1000:47000,1000:54000,2000:53000,15000:61000",
          {
            c: [0, 1, 2, 3],
            color: ["0000ff", "00ff00", "ff0000", "ffffff"],
            window: [[1000, 47000], [1000, 54000], [2000, 53000], [15000, 61000]],
            stretch: "linear",
          },
        ],
        [
          "c=3,1&color=ff00ff,ffff00&window=20000:60000,0:40000&stretch=log",
          { c: [3, 1], color: ["ff00ff", "ffff00"], window: [[20000, 60000], [0, 40000]], stretch: "log" },
        ],
        ["c=2&window=3000:50000&colormap=inferno", {
          c: [2],
          window: [[3000, 50000]],
          stretch: "linear",
          colormap: "inferno",
        }],
      ];
      for (const [q, spec] of cases) {
        n += await checkTiles(url, TCGA, q, spec, top, [[0, 0], [2, 1], [6, 4], [6, 0]]);
        n += await checkTiles(url, TCGA, q, { ...spec, level: 1 }, top - 1, "all");
      }
      assert(n >= 20, `${n} tiles`);
    });
  },
);

Deno.test(
  "OME-TIFF tiles: every channel and Z plane of the Bio-Formats z-series equals numpy's",
  opts,
  async () => {
    await withServer({ IMAGES_DIR: DATA }, async ({ url }) => {
      let n = 0;
      const info = JSON.parse(new TextDecoder().decode((await get(`${url}/images/${ZSERIES}`)).body));
      const top = new DeepZoomGeometry(info.width, info.height, 254, 1).levelCount - 1;
      for (let z = 0; z < 5; z++) {
        const spec: ReferenceSpec = {
          c: [0, 1, 2],
          color: ["ff0000", "00ff00", "0000ff"],
          window: [[-5, 60], [0, 90], [-20, 127]],
          stretch: z % 2 ? "sqrt" : "asinh",
          z,
        };
        const q = `c=0,1,2&color=ff0000,00ff00,0000ff&window=-5:60,0:90,-20:127&stretch=${spec.stretch}&z=${z}`;
        n += await checkTiles(url, ZSERIES, q, spec, top, "all");
        // One channel at a time, as a colormap.
        for (let c = 0; c < 3; c++) {
          const one: ReferenceSpec = {
            c: [c],
            window: [[-10, 100]],
            stretch: "linear",
            colormap: "viridis",
            z,
          };
          n += await checkTiles(url, ZSERIES, `c=${c}&window=-10:100&colormap=viridis&z=${z}`, one, top, "all");
        }
      }
      assert(n >= 25, `${n} tiles`);
    });
  },
);

Deno.test("OME-TIFF: 16 channels composited in one request equal numpy's; a 17th is a 400", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/tcga16.ome.tif`;
    // 16 channels from the TCGA planes: channel k is plane k % 4 shifted right by 7·⌊k/4⌋ pixels.
    const py = READ_SERIES + `
a = series_plane(sys.argv[1], {}).astype(np.uint16)
planes = np.stack([np.roll(a[:, :, k % 4], 7 * (k // 4), axis=1) for k in range(16)])
tifffile.imwrite(sys.argv[2], planes, ome=True, tile=(256, 256), compression="zlib",
                 metadata={"axes": "CYX", "Channel": {"Name": [f"ch{k}" for k in range(16)]}})
`;
    await python(py, [DATA + TCGA, file]);
    await withServer({ IMAGES_DIR: dir }, async ({ url }) => {
      const c = Array.from({ length: 16 }, (_, i) => i);
      const colors = c.map((i) =>
        ["0000ff", "00ff00", "ff0000", "00ffff", "ff00ff", "ffff00", "404040", "102030"][i % 8]
      );
      const windows = c.map((i): [number, number] => [1000 + 500 * i, 40000 + 1000 * i]);
      const q = `c=${c.join(",")}&color=${colors.join(",")}&window=${windows.map((w) => w.join(":")).join(",")}`;
      const spec: ReferenceSpec = { c, color: colors, window: windows, stretch: "linear" };
      const n = await checkTiles(url, file, q, spec, 11, [[0, 0], [3, 2], [6, 4]]);
      assertEquals(n, 3);
      const info = JSON.parse(new TextDecoder().decode((await get(`${url}/images/tcga16.ome.tif`)).body));
      assertEquals(info.channelList.map((x: { name: string }) => x.name), c.map((k) => `ch${k}`));
      const over = await get(`${url}/dzi/tcga16.ome.tif_files/11/0_0.png?c=${c.join(",")},0`);
      assertEquals(over.status, 400);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "OME-TIFF: tiles without parameters are the default render (first channels, auto windows)",
  opts,
  async () => {
    await withServer({ IMAGES_DIR: DATA }, async ({ url }) => {
      const stats = JSON.parse(new TextDecoder().decode((await get(`${url}/images/${TCGA}/stats`)).body));
      const r = await get(`${url}/dzi/${TCGA}_files/11/1_1.png`);
      const windows = stats.percentiles.low.map((lo: number, i: number) => `${lo}:${stats.percentiles.high[i]}`);
      assertEquals(
        r.headers.get("x-render"),
        `c=0,1,2,3;color=0000ff,00ff00,ff0000,00ffff;window=${windows.join(",")};stretch=linear;z=0;t=0`,
      );
      const spec: ReferenceSpec = {
        c: [0, 1, 2, 3],
        color: ["0000ff", "00ff00", "ff0000", "00ffff"],
        window: stats.percentiles.low.map((lo: number, i: number) => [lo, stats.percentiles.high[i]]),
        stretch: "linear",
      };
      assertEquals(await checkTiles(url, TCGA, "", spec, 11, [[1, 1], [6, 4]]), 2);
      // A channel's default colour is its own (by channel index), whichever others are shown.
      const alone = await get(`${url}/dzi/${TCGA}_files/11/1_1.png?c=2`);
      assert(alone.headers.get("x-render")!.startsWith("c=2;color=ff0000;"), alone.headers.get("x-render")!);
      // The op sees the rendered RGB: threshold's `t` is its threshold, the T plane is then `time=`.
      const th = await get(`${url}/dzi/${TCGA}_files/11/1_1.png?op=threshold&t=100&time=0`);
      assertEquals(th.status, 200);
      assertEquals((await get(`${url}/dzi/${TCGA}_files/11/1_1.png?op=threshold&t=100&time=1`)).status, 400);
    });
  },
);

Deno.test("derived levels keep the sample type: the z-series' int8 planes' 2× level equals numpy's mean", async () => {
  const source = await openSource({ path: DATA + ZSERIES, version: "t", maxPixels: 1e9 });
  try {
    const L = source.info.levels[1];
    assertEquals([L.stored, L.width, L.height], [false, 220, 84]);
    const py = READ_SERIES + `
a = series_plane(sys.argv[1], {"z": int(sys.argv[2]), "derive": 1})
sys.stdout.buffer.write(a[:, :, [2, 0]].astype("<i2").tobytes())
`;
    for (const z of [0, 4]) {
      const ours = await source.readRegion(1, 0, 0, 220, 84, "samples", { c: [2, 0], z, t: 0 });
      assertEquals(ours.type, "int8");
      const want = new Int16Array((await python(py, [DATA + ZSERIES, String(z)])).slice().buffer);
      assertEquals(
        firstDifference(new Uint8Array(Int16Array.from(ours.data).buffer), new Uint8Array(want.buffer)),
        null,
      );
      assert(new Set(want).size > 4);
    }
  } finally {
    await source.close();
  }
});

/**
 * The render step (DESIGN: channels and high-bit-depth rendering) against an independent reference:
 * tifffile reads the source, numpy computes windows, stretches, the composite and the colormap lookup,
 * matplotlib gives the colormaps (tests/render_reference.ts). Full-resolution Deep Zoom tiles (edge tiles included) must equal the
 * reference's crops, so neighbouring tiles agree on their overlap.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, decodePng, firstDifference, get, withServer } from "./helpers.ts";
import { DeepZoomGeometry } from "../pyramid/deepzoom.ts";
import { COLORMAP_NAMES, colormapTable } from "../kernels/colormaps.ts";
import { python, type ReferenceSpec, renderReference } from "./render_reference.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

async function reference(file: string, spec: Record<string, unknown>) {
  return await renderReference(file, spec as unknown as ReferenceSpec);
}

Deno.test("colormap tables equal matplotlib's", async () => {
  const py = `
import numpy as np
from matplotlib import colormaps
for n in ${JSON.stringify(COLORMAP_NAMES.filter((n) => n !== "gray"))}:
    print(np.round(255 * colormaps[n](np.arange(256))[:, :3]).astype(np.uint8).tobytes().hex())
`;
  const lines = new TextDecoder().decode(await python(py, [])).trim().split("\n");
  COLORMAP_NAMES.filter((n) => n !== "gray").forEach((name, i) => {
    const hex = Array.from(colormapTable(name), (v) => v.toString(16).padStart(2, "0")).join("");
    assertEquals(hex, lines[i], name);
  });
});

Deno.test(
  "render step: tiles equal numpy's composite for each stretch, windows, a colormap, edge tiles",
  opts,
  async () => {
    await withServer({ IMAGES_DIR: DATA }, async ({ url }) => {
      const cases: [string, string, Record<string, unknown>][] = [
        // One uint16 channel (OME page 0: haematoxylin density), the four stretches.
        ...["linear", "sqrt", "log", "asinh"].map((stretch): [string, string, Record<string, unknown>] => [
          "generated__tcga-hed-4ch-uint16_ome_pyramid.tif",
          `c=0&window=1000:30000&stretch=${stretch}&color=ff8000`,
          { c: [0], window: [[1000, 30000]], stretch, color: ["ff8000"] },
        ]),
        [
          "generated__tcga-hed-4ch-uint16_ome_pyramid.tif",
          "c=0&window=2500:40000&colormap=viridis",
          { c: [0], window: [[2500, 40000]], stretch: "linear", colormap: "viridis" },
        ],
        // Three uint16 channels composited with their own colours and windows (sums past 255 clip).
        [
          "generated__sample16_deflate_pyramid.tif",
          "c=2,0,1&color=ff0000,00ff00,ffffff&window=0:65535,10000:50000,20000:30000&stretch=sqrt",
          {
            c: [2, 0, 1],
            color: ["ff0000", "00ff00", "ffffff"],
            window: [[0, 65535], [10000, 50000], [20000, 30000]],
            stretch: "sqrt",
          },
        ],
        // float32 samples (no lookup table), negative and fractional window bounds.
        [
          "generated__sample_float32_pyramid.tif",
          "c=1&window=-0.25:40.5&stretch=asinh&colormap=magma",
          { c: [1], window: [[-0.25, 40.5]], stretch: "asinh", colormap: "magma" },
        ],
      ];
      let checked = 0;
      for (const [file, query, spec] of cases) {
        const ref = await reference(file, spec);
        const info = JSON.parse(new TextDecoder().decode((await get(`${url}/images/${file}`)).body));
        const geo = new DeepZoomGeometry(info.width, info.height, 254, 1);
        const top = geo.levelCount - 1, [cols, rows] = geo.tLevelCounts[top];
        for (const [col, row] of [[0, 0], [1, 1], [cols - 1, rows - 1], [cols - 1, 0]]) {
          if (!geo.hasTile(top, col, row)) continue;
          const res = await get(`${url}/dzi/${file}_files/${top}/${col}_${row}.png?${query}`);
          assertEquals(res.status, 200, `${file}?${query}: ${new TextDecoder().decode(res.body.slice(0, 200))}`);
          const tile = await decodePng(res.body, 3);
          const { x, y, w, h } = geo.tile(top, col, row).l0Region;
          const crop = new Uint8Array(w * h * 3);
          for (let r = 0; r < h; r++) {
            crop.set(ref.data.subarray(((y + r) * ref.width + x) * 3, ((y + r) * ref.width + x + w) * 3), r * w * 3);
          }
          assertEquals(firstDifference(tile.data, crop), null, `${file}?${query} tile ${col}_${row}`);
          checked++;
        }
        assert(new Set(ref.data).size > 16, `${query}: the reference carries information`);
      }
      assert(checked >= 20, `${checked} tiles`);
    });
  },
);

Deno.test(
  "render step: auto windows are the stats level's percentiles, global per image (X-Render)",
  opts,
  async () => {
    await withServer({ IMAGES_DIR: DATA }, async ({ url }) => {
      const id = "generated__tcga-hed-4ch-uint16_ome_pyramid.tif";
      const stats = JSON.parse(new TextDecoder().decode((await get(`${url}/images/${id}/stats`)).body));
      const want = `c=0;color=0000ff;window=${stats.percentiles.low[0]}:${
        stats.percentiles.high[0]
      };stretch=linear;z=0;t=0`;
      for (const tile of ["11/0_0", "11/3_2", "9/0_0"]) {
        const r = await get(`${url}/dzi/${id}_files/${tile}.png?c=0`);
        assertEquals([r.status, r.headers.get("x-render")], [200, want], tile);
      }
      // Those percentiles against numpy's (linear) on the stats level, here level 0 itself (1536×1024 ≤ 2048).
      const py = `
import sys, numpy as np, tifffile
a = tifffile.TiffFile(sys.argv[1]).pages[0].asarray()
print(*np.percentile(a, [0.5, 99.5]))
`;
      const [lo, hi] = new TextDecoder().decode(await python(py, [DATA + id])).trim().split(" ").map(Number);
      const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
      assert(close(stats.percentiles.low[0], lo) && close(stats.percentiles.high[0], hi), `${lo} ${hi}`);
    });
  },
);

Deno.test("render parameters: bad values are 400s that name the parameter", opts, async () => {
  await withServer({ IMAGES_DIR: DATA }, async ({ url }) => {
    const base = `${url}/dzi/generated__sample16_deflate_pyramid.tif_files/9/0_0.png`;
    for (
      const [q, name] of [
        ["c=3", "c"],
        ["c=0,0", "c"],
        ["c=x", "c"],
        ["c=0&color=12345", "color"],
        ["c=0,1&color=ff0000", "color"],
        ["c=0&window=9:3", "window"],
        ["c=0&window=a:b", "window"],
        ["c=0,1&window=0:1", "window"],
        ["stretch=cube", "stretch"],
        ["c=0,1&colormap=viridis", "colormap"],
        ["c=0&colormap=jet", "colormap"],
        ["z=1", "z"],
        ["z=-1", "z"],
        [`c=${Array.from({ length: 17 }, (_, i) => i).join(",")}`, "c"],
      ]
    ) {
      const r = await get(`${base}?${q}`);
      assertEquals(r.status, 400, q);
      assert(JSON.parse(new TextDecoder().decode(r.body)).error.message.startsWith(name), `${q} names ${name}`);
    }
  });
});

Deno.test(
  "render step: explicit windows need no statistics; past the output limit is refused before any work",
  opts,
  async () => {
    await withServer({ IMAGES_DIR: DATA, KV_PATH: "off" }, async (s) => {
      const id = "generated__sample16_deflate_pyramid.tif";
      const stats = s.service.context.stats;
      const explicit = await get(`${s.url}/dzi/${id}_files/9/0_0.png?c=0,1&window=0:65535,100:60000`);
      assertEquals([explicit.status, stats.computations], [200, 0]);
      assertEquals((await get(`${s.url}/dzi/${id}_files/9/0_0.png?c=0`)).status, 200);
      assertEquals(stats.computations, 1, "auto windows computed the statistics once");
      // 4096² upscaled: 16 Mi pixels × (3 intensity planes + RGB) is past 64 MiB of samples. IIIF says so as
      // the spec does, against the image's own maxArea (64 MiB / 6), before any work.
      const big = await get(`${s.url}/iiif/3/${id}/full/^4096,4096/0/default.png?c=0,1,2&window=0:1,0:1,0:1`);
      assertEquals(big.status, 400, new TextDecoder().decode(big.body));
      assert(/maxArea 11184810/.test(new TextDecoder().decode(big.body)));
      assertEquals(stats.computations, 1, "refused before any work");
    });
  },
);

Deno.test("the blend's fast division equals min(255, ⌊x / 255⌋) for every sum 16 channels can reach", () => {
  // blend.ts divides the sums Σ i·colour + 127 (at most 16·255² + 127) by 255 as (x + (x >> 8) + 1) >> 8.
  let bad = -1;
  for (let x = 0; x <= 16 * 255 * 255 + 127 && bad < 0; x++) {
    if (Math.min(255, (x + (x >> 8) + 1) >> 8) !== Math.min(255, Math.floor(x / 255))) bad = x;
  }
  assertEquals(bad, -1);
});

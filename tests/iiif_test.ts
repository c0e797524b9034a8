/** IIIF Image API 3.0: the grammar as a table, then the routes on real images. */
import { assert, assertEquals } from "./assert.ts";
import { decodePng, get, jpegSize, pngHeader, withServer } from "./helpers.ts";
import { IiifError, parseIiifRequest } from "../pyramid/iiif.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const CMU = [2220, 2967] as const; // portrait
const COFFEE = [600, 400] as const; // landscape

// [image, request, expected status, expected region x,y,w,h, output w,h, canonical]
type Row = [readonly [number, number], string, number, number[]?, number[]?, string?];
const TABLE: Row[] = [
  [COFFEE, "full/max/0/default.jpg", 200, [0, 0, 600, 400], [600, 400], "full/max/0/default.jpg"],
  [COFFEE, "full/max/0/color.png", 200, [0, 0, 600, 400], [600, 400], "full/max/0/default.png"],
  [COFFEE, "square/max/0/default.jpg", 200, [100, 0, 400, 400], [400, 400], "100,0,400,400/max/0/default.jpg"],
  [CMU, "square/max/0/default.jpg", 200, [0, 373, 2220, 2220], [2220, 2220], "0,373,2220,2220/max/0/default.jpg"],
  [COFFEE, "10,20,300,200/max/0/default.jpg", 200, [10, 20, 300, 200], [300, 200], "10,20,300,200/max/0/default.jpg"],
  [
    COFFEE,
    "500,300,200,200/max/0/default.jpg",
    200,
    [500, 300, 100, 100],
    [100, 100],
    "500,300,100,100/max/0/default.jpg",
  ],
  [COFFEE, "pct:10,10,50,50/max/0/default.jpg", 200, [60, 40, 300, 200], [300, 200], "60,40,300,200/max/0/default.jpg"],
  [
    COFFEE,
    "pct:50,50,100,100/max/0/default.jpg",
    200,
    [300, 200, 300, 200],
    [300, 200],
    "300,200,300,200/max/0/default.jpg",
  ],
  [COFFEE, "pct:0,0,100,100/max/0/default.jpg", 200, [0, 0, 600, 400], [600, 400], "full/max/0/default.jpg"],
  [COFFEE, "full/300,/0/default.jpg", 200, [0, 0, 600, 400], [300, 200], "full/300,200/0/default.jpg"],
  [COFFEE, "full/,100/0/default.jpg", 200, [0, 0, 600, 400], [150, 100], "full/150,100/0/default.jpg"],
  [COFFEE, "full/pct:50/0/default.jpg", 200, [0, 0, 600, 400], [300, 200], "full/300,200/0/default.jpg"],
  [COFFEE, "full/100,100/0/default.jpg", 200, [0, 0, 600, 400], [100, 100], "full/100,100/0/default.jpg"],
  [COFFEE, "full/!300,300/0/default.jpg", 200, [0, 0, 600, 400], [300, 200], "full/300,200/0/default.jpg"],
  // !w,h whose best fit is larger than the region is an upscale: 400 without ^ (Image API 3.0; the image
  // validator's size_noup asks !2000,3000 of its 1000² image), also against a region clipped by the edge.
  [COFFEE, "full/!3000,3000/0/default.jpg", 400],
  [COFFEE, "full/!2000,3000/0/default.jpg", 400],
  [COFFEE, "500,300,400,400/!300,300/0/default.jpg", 400],
  [COFFEE, "0,0,1000,1000/!800,800/0/default.jpg", 400],
  [
    COFFEE,
    "500,300,400,400/!50,100/0/default.jpg",
    200,
    [500, 300, 100, 100],
    [50, 50],
    "500,300,100,100/50,50/0/default.jpg",
  ],
  [COFFEE, "full/!600,100000/0/default.jpg", 200, [0, 0, 600, 400], [600, 400], "full/600,400/0/default.jpg"],
  [COFFEE, "full/^!900,900/0/default.jpg", 200, [0, 0, 600, 400], [900, 600], "full/^900,600/0/default.jpg"],
  [COFFEE, "full/^601,/0/default.jpg", 200, [0, 0, 600, 400], [601, 401], "full/^601,401/0/default.jpg"],
  [COFFEE, "full/^pct:150/0/default.jpg", 200, [0, 0, 600, 400], [900, 600], "full/^900,600/0/default.jpg"],
  [COFFEE, "full/^max/0/default.jpg", 200, [0, 0, 600, 400], [5016, 3344], "full/^max/0/default.jpg"],
  [COFFEE, "full/^300,/0/default.jpg", 200, [0, 0, 600, 400], [300, 200], "full/300,200/0/default.jpg"],
  [CMU, "0,0,1024,1024/256,/0/default.jpg", 200, [0, 0, 1024, 1024], [256, 256], "0,0,1024,1024/256,256/0/default.jpg"],
  // The spec's edge tile at scale 8: xr = 2048, wr = min(2048, 2220 − 2048) = 172, size ceil(172/8),ceil(2048/8).
  [
    CMU,
    "2048,0,172,2048/22,256/0/default.jpg",
    200,
    [2048, 0, 172, 2048],
    [22, 256],
    "2048,0,172,2048/22,256/0/default.jpg",
  ],
  // The same tile asked as `w,`: the height follows the region's aspect ratio.
  [
    CMU,
    "2048,0,172,2048/22,/0/default.jpg",
    200,
    [2048, 0, 172, 2048],
    [22, 262],
    "2048,0,172,2048/22,262/0/default.jpg",
  ],
  [COFFEE, "full/max/!90/gray.png", 200, [0, 0, 600, 400], [600, 400], "full/max/!90/gray.png"],
  [COFFEE, "full/max/360/bitonal.webp", 200, [0, 0, 600, 400], [600, 400], "full/max/0/bitonal.webp"],
  [COFFEE, "full/max/!0/default.jpg", 200, [0, 0, 600, 400], [600, 400], "full/max/!0/default.jpg"],
  [COFFEE, "full/max/180.0/default.jpg", 200, [0, 0, 600, 400], [600, 400], "full/max/180/default.jpg"],
  // Errors.
  [COFFEE, "full/601,/0/default.jpg", 400],
  [COFFEE, "full/pct:101/0/default.jpg", 400],
  [COFFEE, "full/601,400/0/default.jpg", 400],
  [COFFEE, "full/0,/0/default.jpg", 400],
  [COFFEE, "full/pct:0/0/default.jpg", 400],
  [COFFEE, "full/^9000,/0/default.jpg", 400],
  [COFFEE, "full/big/0/default.jpg", 400],
  [COFFEE, "0,0,0,10/max/0/default.jpg", 400],
  [COFFEE, "600,0,10,10/max/0/default.jpg", 400],
  [COFFEE, "-1,0,10,10/max/0/default.jpg", 400],
  [COFFEE, "pct:100,0,10,10/max/0/default.jpg", 400],
  [COFFEE, "left/max/0/default.jpg", 400],
  [COFFEE, "full/max/45/default.jpg", 400],
  [COFFEE, "full/max/361/default.jpg", 400],
  [COFFEE, "full/max/-90/default.jpg", 400],
  [COFFEE, "full/max/0/grey.jpg", 400],
  [COFFEE, "full/max/0/default.gif", 400],
  [COFFEE, "full/max/0/default.tif", 400],
  [COFFEE, "full/max/0/default", 400],
];

Deno.test("IIIF grammar: every row's status, region, size and canonical form", () => {
  for (const [[W, H], path, status, region, size, canonical] of TABLE) {
    const [r, s, rot, qf] = path.split("/");
    try {
      const req = parseIiifRequest(r, s, rot, qf, W, H);
      assertEquals(status, 200, `${path} should fail`);
      assertEquals([req.region.x, req.region.y, req.region.w, req.region.h], region, `${path} region`);
      assertEquals([req.outWidth, req.outHeight], size, `${path} size`);
      assertEquals(req.canonical, canonical, `${path} canonical`);
    } catch (err) {
      if (!(err instanceof IiifError)) throw err;
      assertEquals(err.status, status, `${path}: ${err.message}`);
    }
  }
});

Deno.test(
  "IIIF routes: 303 base URI, info.json with every required field, media types, Link headers, CORS",
  opts,
  async () => {
    await withServer({}, async ({ url }) => {
      const base = await fetch(`${url}/iiif/3/CMU-1-Small-Region.svs`, { redirect: "manual" });
      await base.body?.cancel();
      // Relative: without PUBLIC_URL no header echoes the client's Host (RFC 9110 allows it).
      assertEquals([base.status, base.headers.get("location")], [303, `CMU-1-Small-Region.svs/info.json`]);
      const res = await get(`${url}/iiif/3/CMU-1-Small-Region.svs/info.json`);
      assertEquals(
        res.headers.get("content-type"),
        'application/ld+json;profile="http://iiif.io/api/image/3/context.json"',
      );
      assertEquals(res.headers.get("link"), '<http://iiif.io/api/image/3/level2.json>;rel="profile"');
      assertEquals(res.headers.get("access-control-allow-origin"), "*");
      const info = JSON.parse(new TextDecoder().decode(res.body));
      assertEquals(Object.keys(info)[0], "@context");
      assertEquals([info.id, info.type, info.protocol, info.profile], [
        `${url}/iiif/3/CMU-1-Small-Region.svs`,
        "ImageService3",
        "http://iiif.io/api/image",
        "level2",
      ]);
      assertEquals([info.width, info.height], [2220, 2967]);
      assertEquals(info.tiles, [{ width: 256, height: 256, scaleFactors: [1, 2, 4, 8, 16] }]);
      assertEquals(info.sizes.at(-1), { width: 2220, height: 2967 });
      for (
        const f of [
          "sizeUpscaling",
          "mirroring",
          "rotationBy90s",
          "regionByPct",
          "sizeByPct",
          "sizeByConfinedWh",
          "regionSquare",
          "cors",
          "jsonldMediaType",
          "baseUriRedirect",
          "canonicalLinkHeader",
          "profileLinkHeader",
        ]
      ) {
        assert(info.extraFeatures.includes(f), f);
      }
      assertEquals([info.extraQualities.includes("gray"), info.extraQualities.includes("bitonal"), info.extraFormats], [
        true,
        true,
        ["webp"],
      ]);
      const plain = await fetch(`${url}/iiif/3/CMU-1-Small-Region.svs/info.json`, {
        headers: { Accept: "application/json" },
      });
      await plain.body?.cancel();
      assertEquals(plain.headers.get("content-type"), "application/json");
      const img = await get(`${url}/iiif/3/CMU-1-Small-Region.svs/pct:0,0,50,50/,100/0/color.jpg`);
      assertEquals(img.status, 200);
      assertEquals(
        img.headers.get("link"),
        `<../../../0,0,1110,1484/75,100/0/default.jpg>;rel="canonical", <http://iiif.io/api/image/3/level2.json>;rel="profile"`,
      );
      assertEquals(jpegSize(img.body), [75, 100]);
      const err = await get(`${url}/iiif/3/CMU-1-Small-Region.svs/full/max/0/default.gif`);
      assertEquals(err.status, 400);
      assertEquals(JSON.parse(new TextDecoder().decode(err.body)).error.status, 400);
      assertEquals((await get(`${url}/iiif/3/nope.svs/info.json`)).status, 404);
      // Percent-encoded ^ and ! from clients that escape them.
      assertEquals((await get(`${url}/iiif/3/coffee.png/full/%5E700,/%2190/default.jpg`)).status, 200);
    });
  },
);

Deno.test(
  "IIIF tiles share the XYZ pixel grid and cache entries; edge tiles per the spec's formula",
  opts,
  async () => {
    await withServer({}, async ({ url, service }) => {
      // Interior tile at scale 4: region 1024,1024,1024,1024 → 256×256 = XYZ zoom 2, tile (1, 1).
      const iiif = await get(`${url}/iiif/3/CMU-1-Small-Region.svs/1024,1024,1024,1024/256,/0/default.jpg`);
      const xyz = await get(`${url}/xyz/CMU-1-Small-Region.svs/2/1/1.jpg`);
      assertEquals(iiif.headers.get("etag"), xyz.headers.get("etag"));
      assertEquals(xyz.headers.get("x-cache"), "hit");
      const runs = service.context.cache.computations;
      // Edge tile at scale 8: 22 px wide; its pixels are the first 22 columns of the padded XYZ tile.
      const edge = await decodePng(
        (await get(`${url}/iiif/3/CMU-1-Small-Region.svs/2048,0,172,2048/22,256/0/default.png`)).body,
      );
      const xyzEdge = await decodePng((await get(`${url}/xyz/CMU-1-Small-Region.svs/1/1/0.png`)).body, 4);
      assertEquals([edge.width, edge.height], [22, 256]);
      for (let y = 0; y < 256; y++) {
        for (let x = 0; x < 22; x++) {
          for (let c = 0; c < 3; c++) {
            assertEquals(edge.data[(y * 22 + x) * 3 + c], xyzEdge.data[(y * 256 + x) * 4 + c], `${x},${y}`);
          }
        }
      }
      assertEquals(service.context.cache.computations, runs + 2);
      // bitonal is the global-Otsu threshold op: the same entry as ?op=threshold on XYZ.
      const bitonal = await get(`${url}/iiif/3/CMU-1-Small-Region.svs/1024,1024,1024,1024/256,/0/bitonal.png`);
      const thr = await get(`${url}/xyz/CMU-1-Small-Region.svs/2/1/1.png?op=threshold`);
      assertEquals(bitonal.headers.get("etag"), thr.headers.get("etag"));
      assertEquals(pngHeader(bitonal.body).bitDepth, 1);
    });
  },
);

Deno.test("IIIF rotation and mirroring move pixels where the spec says", opts, async () => {
  await withServer({}, async ({ url }) => {
    const base = await decodePng((await get(`${url}/iiif/3/coffee.png/full/,100/0/default.png`)).body);
    const r90 = await decodePng((await get(`${url}/iiif/3/coffee.png/full/,100/90/default.png`)).body);
    const m0 = await decodePng((await get(`${url}/iiif/3/coffee.png/full/,100/!0/default.png`)).body);
    const m90 = await decodePng((await get(`${url}/iiif/3/coffee.png/full/,100/!90/default.png`)).body);
    const r180 = await decodePng((await get(`${url}/iiif/3/coffee.png/full/,100/180/default.png`)).body);
    const [w, h] = [base.width, base.height];
    assertEquals([w, h, r90.width, r90.height], [150, 100, 100, 150]);
    const px = (
      img: typeof base,
      x: number,
      y: number,
    ) => [...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)];
    for (const [x, y] of [[0, 0], [149, 0], [17, 83], [149, 99]]) {
      assertEquals(px(r90, h - 1 - y, x), px(base, x, y), "90° clockwise");
      assertEquals(px(m0, w - 1 - x, y), px(base, x, y), "mirror");
      assertEquals(px(r180, w - 1 - x, h - 1 - y), px(base, x, y), "180°");
      assertEquals(px(m90, h - 1 - y, w - 1 - x), px(base, x, y), "mirror, then 90°");
    }
  });
});

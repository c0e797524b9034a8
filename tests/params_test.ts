/**
 * One rule for query parameters on every route: a parameter the route does not take is a 400 that names it
 * and what the route takes — tiles, descriptors, thumbnails and TileJSON as exports and Zarr already did —
 * while what real clients send is taken: the cache-busters and pins of CLIENT_PARAMS, signatures, and the
 * query OpenSeadragon carries from a Deep Zoom descriptor into its tiles.
 */
import { assert, assertEquals } from "./assert.ts";
import { get, withServer } from "./helpers.ts";
import { CLIENT_PARAMS } from "../service/query.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const CMU = "CMU-1-Small-Region.svs";

Deno.test(
  "misspelt parameters are 400s naming the parameter and what the route takes, on every route",
  opts,
  async () => {
    await withServer({ KV_PATH: "off" }, async (s) => {
      const cases: [string, string, RegExp][] = [
        [`/thumbnail/${CMU}.jpg?widht=400`, "widht", /a thumbnail \(it takes .*\bwidth\b/],
        [`/dzi/${CMU}.dzi?fromat=png`, "fromat", /a Deep Zoom descriptor \(it takes .*\bformat\b/],
        [`/dzi/${CMU}_files/12/0_0.jpeg?qualty=80`, "qualty", /a Deep Zoom tile \(it takes .*\bquality\b/],
        [`/dzi/${CMU}_files/12/0_0.png?op=threshold&tt=100`, "tt", /with op=threshold \(it takes .*\bt\b/],
        [`/xyz/${CMU}/3/0/0.png?opp=gray`, "opp", /an XYZ tile/],
        [`/xyz/${CMU}/tilejson.json?fromat=png`, "fromat", /a TileJSON document/],
        [`/iiif/3/${CMU}/full/256,/0/default.jpg?widht=1`, "widht", /an IIIF image request/],
        [`/images/${CMU}/associated/label.jpg?widht=100`, "widht", /an associated image \(it takes .*\bwidth\b/],
        [`/images/${CMU}/patches.tar?size=256&widht=1`, "widht", /a patch export with op=none/],
        [`/zarr/${CMU}/.zattrs?fromat=1`, "fromat", /an OME-Zarr key/],
        // A tensor option on a PNG tile means nothing: refused, not ignored.
        [`/dzi/${CMU}_files/12/0_0.png?dtype=float32`, "dtype", /a Deep Zoom tile/],
      ];
      for (const [path, name, what] of cases) {
        const r = await get(s.url + path);
        assertEquals(r.status, 400, `${path}: ${text(r.body).slice(0, 200)}`);
        const message = JSON.parse(text(r.body)).error.message as string;
        assert(message.startsWith(`unknown query parameter "${name}"`), `${path}: ${message}`);
        assert(what.test(message), `${path}: ${message}`);
        assert(message.includes(CLIENT_PARAMS.join(", ")), `${path} lists what every route takes: ${message}`);
      }
    });
  },
);

Deno.test(
  "what real clients send is taken: cache-busters, pins, and a descriptor's query in its tiles",
  opts,
  async () => {
    await withServer({ KV_PATH: "off" }, async (s) => {
      const version = JSON.parse(text((await get(`${s.url}/images/${CMU}`)).body)).version;
      const busters = `_=1733500000000&cb=7&cachebust=1&nocache=1&ts=3&v=${version}`;
      for (
        const path of [
          // OpenSeadragon: the descriptor's query rides into each tile URL (the viewer's mask overlay).
          `/dzi/${CMU}.dzi?op=mask&format=png`,
          `/dzi/${CMU}_files/12/0_0.png?op=mask&format=png`,
          `/dzi/${CMU}_files/11/0_0.jpeg?${busters}`,
          // Leaflet: TileJSON and its tile template, with a cache-buster.
          `/xyz/${CMU}/tilejson.json?op=gray&_=1`,
          `/xyz/${CMU}/3/0/0.png?op=gray&_=1`,
          // Mirador / OpenSeadragon IIIF: info.json and tiles, and the viewer's ?op= extension.
          `/iiif/3/${CMU}/info.json?_=1`,
          `/iiif/3/${CMU}/0,0,1024,1024/256,/0/default.jpg?cb=1`,
          `/iiif/3/${CMU}/0,0,1024,1024/256,/0/default.png?op=mask`,
          `/thumbnail/${CMU}.jpg?width=128&${busters}`,
          `/images/${CMU}/patches.ndjson?size=1024&downsample=4&_=1`,
        ]
      ) {
        const r = await get(s.url + path);
        assertEquals(r.status, 200, `${path}: ${text(r.body).slice(0, 200)}`);
      }
    });
  },
);

Deno.test(
  "bg=RRGGBB pads a JPEG edge tile in that colour (white without it), and is part of its key",
  opts,
  async () => {
    await withServer({ KV_PATH: "off" }, async (s) => {
      const corner = async (path: string) => {
        const r = await get(s.url + path);
        assertEquals(r.status, 200, text(r.body));
        const file = await Deno.makeTempFile({ suffix: ".jpg" });
        await Deno.writeFile(file, r.body);
        const py = `import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
print(*im.getpixel((im.width - 3, im.height - 3)))`;
        const out = await new Deno.Command("/usr/bin/python3", { args: ["-c", py, file] }).output();
        await Deno.remove(file);
        return { rgb: text(out.stdout).trim().split(" ").map(Number), etag: r.headers.get("etag") };
      };
      // rocket.jpg is 640×427: its zoom-0 tile holds it in the top 171 rows, the rest is padding.
      const plain = await corner("/xyz/rocket.jpg/0/0/0.jpg");
      const grey = await corner("/xyz/rocket.jpg/0/0/0.jpg?bg=DDDDDD");
      assert(plain.rgb.every((v) => v >= 250), `white padding: ${plain.rgb}`);
      assert(grey.rgb.every((v) => Math.abs(v - 221) <= 3), `grey padding: ${grey.rgb}`);
      assert(plain.etag !== grey.etag, "another tile, another key");
      assertEquals((await get(`${s.url}/xyz/rocket.jpg/0/0/0.jpg?bg=white`)).status, 400);
      // The TileJSON template carries it.
      const tj = JSON.parse(text((await get(`${s.url}/xyz/rocket.jpg/tilejson.json?bg=dddddd`)).body));
      assert(tj.tiles[0].endsWith("?bg=dddddd"), tj.tiles[0]);
    });
  },
);

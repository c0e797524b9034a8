/** Thumbnail geometry: fitting an image in a box. Pure, no I/O. */

/** The output size of a thumbnail fitted in `boxW` × `boxH` (either may be null), aspect kept. */
export function thumbnailSize(
  width: number,
  height: number,
  boxW: number | null,
  boxH: number | null,
): [number, number] {
  const sw = boxW === null ? Infinity : boxW / width;
  const sh = boxH === null ? Infinity : boxH / height;
  const s = Math.min(sw, sh, 1);
  return [Math.max(1, Math.round(width * s)), Math.max(1, Math.round(height * s))];
}

/** A rectangle in one coordinate plane (the plane is named by whoever holds it: `l0Region`, `valid`…). */
export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

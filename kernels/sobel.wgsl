// `sobel` (see sobel.ts): out = floor(sqrt((Gx² + Gy²) / 32)), Gx and Gy the 3×3 Sobel responses of Y
// (the gray op's luma) read at coordinates clamped to the valid rectangle. One invocation writes one
// word: four output pixels.

@group(0) @binding(4) var<storage, read_write> dst: array<u32>;

// Y at (x, y), clamped to the valid rectangle.
fn y_at(x: i32, y: i32) -> i32 {
  return i32(luma(clamp_y(y) * params.width + clamp_x(x)));
}

// The integer square root: f32's sqrt is not exact in WGSL, so its estimate is corrected by one.
fn isqrt(v: u32) -> u32 {
  var r = u32(sqrt(f32(v)));
  if (r * r > v) {
    r -= 1u;
  }
  if ((r + 1u) * (r + 1u) <= v) {
    r += 1u;
  }
  return r;
}

fn edge(p: u32) -> u32 {
  let x = i32(p % params.width);
  let y = i32(p / params.width);
  let a = y_at(x - 1, y - 1);
  let b = y_at(x, y - 1);
  let c = y_at(x + 1, y - 1);
  let d = y_at(x - 1, y);
  let f = y_at(x + 1, y);
  let g = y_at(x - 1, y + 1);
  let h = y_at(x, y + 1);
  let i = y_at(x + 1, y + 1);
  let gx = c + 2 * f + i - (a + 2 * d + g);
  let gy = g + 2 * h + i - (a + 2 * b + c);
  return isqrt(u32(gx * gx + gy * gy) / 32u);
}


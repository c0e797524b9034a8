// `threshold` (see threshold.ts): 255 where Y > t, else 0 (flipped by invert), Y the gray op's luma.
// One invocation writes one word: four output pixels.

@group(0) @binding(4) var<storage, read_write> dst: array<u32>;

// Output byte p: 255 where its luma > t, else 0, flipped by invert (packed: gpu/shaders.ts).
fn threshold_byte(p: u32) -> u32 {
  let hi = select(255u, 0u, params.invert == 1u);
  return select(255u - hi, hi, luma(p) > params.t);
}

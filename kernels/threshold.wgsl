// `threshold` (see threshold.ts): 255 where Y > t, else 0 (flipped by invert), Y the gray op's luma.
// One invocation writes one word: four output pixels.

@group(0) @binding(4) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size(64)
fn threshold(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let w = invocation_index(gid, groups);
  let n = pixel_count();
  if (w >= words_for(n)) {
    return;
  }
  let hi = select(255u, 0u, params.invert == 1u);
  let lo = 255u - hi;
  var out = array<u32, 4>(0u, 0u, 0u, 0u);
  for (var k = 0u; k < 4u; k++) {
    let p = w * 4u + k;
    if (p < n) {
      out[k] = select(lo, hi, luma(p) > params.t);
    }
  }
  dst[w] = pack4(out[0], out[1], out[2], out[3]);
}

// `gray` (see gray.ts): Y = (77·R + 150·G + 29·B + 128) >> 8; 1- and 2-channel input gives its first channel.
// One invocation writes one word: four output pixels.

@group(0) @binding(4) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size(64)
fn gray(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let w = invocation_index(gid, groups);
  let n = pixel_count();
  if (w >= words_for(n)) {
    return;
  }
  var out = array<u32, 4>(0u, 0u, 0u, 0u);
  for (var k = 0u; k < 4u; k++) {
    let p = w * 4u + k;
    if (p < n) {
      out[k] = luma(p);
    }
  }
  dst[w] = pack4(out[0], out[1], out[2], out[3]);
}

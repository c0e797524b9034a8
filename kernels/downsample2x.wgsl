// The 2× area downsample (see downsample2x.ts): the round-half-up mean of the existing pixels of each 2×2
// block (2 or 1 at an odd right or bottom edge). One invocation writes four output bytes.

@group(0) @binding(4) var<storage, read_write> dst: array<u32>;

fn sample(x: u32, y: u32, c: u32) -> u32 {
  return src_byte((y * params.width + x) * params.channels + c);
}

@compute @workgroup_size(64)
fn downsample2x(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let word = invocation_index(gid, groups);
  let ch = params.channels;
  let total = params.out_width * params.out_height * ch;
  if (word >= words_for(total)) {
    return;
  }
  var out = array<u32, 4>(0u, 0u, 0u, 0u);
  for (var k = 0u; k < 4u; k++) {
    let i = word * 4u + k;
    if (i < total) {
      let c = i % ch;
      let px = i / ch;
      let x0 = (px % params.out_width) * 2u;
      let y0 = (px / params.out_width) * 2u;
      let two_cols = x0 + 1u < params.width;
      let two_rows = y0 + 1u < params.height;
      var sum = sample(x0, y0, c);
      var n = 1u;
      if (two_cols) {
        sum += sample(x0 + 1u, y0, c);
        n += 1u;
      }
      if (two_rows) {
        sum += sample(x0, y0 + 1u, c);
        n += 1u;
        if (two_cols) {
          sum += sample(x0 + 1u, y0 + 1u, c);
          n += 1u;
        }
      }
      out[k] = (sum + n / 2u) / n;
    }
  }
  dst[word] = pack4(out[0], out[1], out[2], out[3]);
}

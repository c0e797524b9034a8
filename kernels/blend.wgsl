// `blend` (see blend.ts): K channels of 8-bit intensities → RGB. Composite: per output byte (pixel p,
// component k) min(255, (Σ_c i_c · colour_c,k + 127) / 255) with the K colours in `palette`; colormap (one
// channel, 256 palette entries): the table entry of i. One invocation writes four output bytes.

@group(0) @binding(4) var<storage, read_write> dst: array<u32>;

fn blended(i: u32) -> u32 {
  let ch = params.channels;
  let p = i / 3u;
  let shift = (i % 3u) * 8u;
  if (ch == 1u && params.colors == 256u) {
    return (palette[src_byte(p)] >> shift) & 255u;
  }
  var sum = 127u;
  for (var c = 0u; c < ch; c++) {
    sum += src_byte(p * ch + c) * ((palette[c] >> shift) & 255u);
  }
  return min(255u, sum / 255u);
}

@compute @workgroup_size(64)
fn blend(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let word = invocation_index(gid, groups);
  let total = pixel_count() * 3u;
  if (word >= words_for(total)) {
    return;
  }
  var out = array<u32, 4>(0u, 0u, 0u, 0u);
  for (var k = 0u; k < 4u; k++) {
    let i = word * 4u + k;
    if (i < total) {
      out[k] = blended(i);
    }
  }
  dst[word] = pack4(out[0], out[1], out[2], out[3]);
}

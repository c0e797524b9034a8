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


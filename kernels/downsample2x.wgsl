// The 2× area downsample (see downsample2x.ts): the round-half-up mean of the existing pixels of each 2×2
// block (2 or 1 at an odd right or bottom edge). One invocation writes four output bytes.

@group(0) @binding(4) var<storage, read_write> dst: array<u32>;

fn sample(x: u32, y: u32, c: u32) -> u32 {
  return src_byte((y * params.width + x) * params.channels + c);
}

// Output byte i (packed: gpu/shaders.ts): sample c of output pixel px, the mean of its 2×2 block.
fn down_byte(i: u32) -> u32 {
  let ch = params.channels;
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
  return (sum + n / 2u) / n;
}

// `quantize` (see quantize.ts). `levels`: per channel q = floor(v·N/256), out = (510·q + N−1) div (2·(N−1)),
// alpha (the last of 2 or 4 channels) kept; one invocation writes four output bytes. `palette`: the index
// of the nearest of K palette entries (squared RGB distance, ties to the lowest index), gray input
// compared as (v, v, v); one invocation writes four output pixels.

@group(0) @binding(4) var<storage, read_write> dst: array<u32>;

fn level(v: u32) -> u32 {
  let n = params.levels;
  let q = (v * n) / 256u;
  return (510u * q + n - 1u) / (2u * (n - 1u));
}

// Output byte i of `levels` (packed: gpu/shaders.ts): the level of sample i, alpha kept.
fn level_byte(i: u32) -> u32 {
  let ch = params.channels;
  let v = src_byte(i);
  return select(level(v), v, (ch == 2u || ch == 4u) && i % ch == ch - 1u);
}

fn nearest(p: u32) -> u32 {
  let ch = params.channels;
  let j = p * ch;
  let r = i32(src_byte(j));
  var g = r;
  var b = r;
  if (ch >= 3u) {
    g = i32(src_byte(j + 1u));
    b = i32(src_byte(j + 2u));
  }
  var best = 0u;
  var best_d = 0xffffffffu;
  for (var e = 0u; e < params.colors; e++) {
    let c = palette[e];
    let dr = r - i32(c & 255u);
    let dg = g - i32((c >> 8u) & 255u);
    let db = b - i32((c >> 16u) & 255u);
    let d = u32(dr * dr + dg * dg + db * db);
    if (d < best_d) {
      best_d = d;
      best = e;
    }
  }
  return best;
}


// `mask` (see mask.ts), one entry point per stage, each over the whole canvas with reads clamped to the
// valid rectangle: saturation (src → a), median 7×7 (a → b), threshold + dilate 5×5 as two separable
// passes (b → a → b), erode 5×5 (b → a → dst, packed four pixels to a word). `median_out` packs the
// median-filtered saturation instead, and `load_b` starts from one (the stats level's histogram and
// tissue map).

@group(0) @binding(4) var<storage, read_write> dst: array<u32>;

// S = max == 0 ? 0 : (510·(max − min) + max) div (2·max); gray input has S = 0.
@compute @workgroup_size(64)
fn saturation(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let p = invocation_index(gid, groups);
  if (p >= pixel_count()) {
    return;
  }
  let ch = params.channels;
  if (ch < 3u) {
    plane_a[p] = 0u;
    return;
  }
  let j = p * ch;
  let r = src_byte(j);
  let g = src_byte(j + 1u);
  let b = src_byte(j + 2u);
  let hi = max(r, max(g, b));
  let lo = min(r, min(g, b));
  plane_a[p] = select((510u * (hi - lo) + hi) / (2u * hi), 0u, hi == 0u);
}

// The 25th of the 49 values of the clamped 7×7 window: the largest v with fewer than 25 values below it,
// found bit by bit (8 rounds of 49 comparisons).
@compute @workgroup_size(64)
fn median7(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let p = invocation_index(gid, groups);
  if (p >= pixel_count()) {
    return;
  }
  let w = params.width;
  let x = i32(p % w);
  let y = i32(p / w);
  var window: array<u32, 49>;
  for (var dy = 0; dy < 7; dy++) {
    let row = clamp_y(y + dy - 3) * w;
    for (var dx = 0; dx < 7; dx++) {
      window[dy * 7 + dx] = plane_a[row + clamp_x(x + dx - 3)];
    }
  }
  var m = 0u;
  for (var bit = 128u; bit > 0u; bit = bit >> 1u) {
    let candidate = m | bit;
    var below = 0u;
    for (var i = 0; i < 49; i++) {
      below += select(0u, 1u, window[i] < candidate);
    }
    if (below <= 24u) {
      m = candidate;
    }
  }
  plane_b[p] = m;
}

fn binary(v: u32) -> u32 {
  return select(0u, 255u, v > params.t);
}

// The horizontal half of a 5×5 max (dilate: OR of 0/255 values, on the thresholded plane b) or min
// (erode: AND, on plane b as it is) at pixel p.
fn morph_h(p: u32, dilate: bool) -> u32 {
  let w = params.width;
  let x = i32(p % w);
  let row = (p / w) * w;
  var acc = select(255u, 0u, dilate);
  for (var d = -2; d <= 2; d++) {
    let v = plane_b[row + clamp_x(x + d)];
    acc = select(acc & v, acc | binary(v), dilate);
  }
  return acc;
}

// The vertical half, on plane a.
fn morph_v(p: u32, dilate: bool) -> u32 {
  let w = params.width;
  let x = p % w;
  let y = i32(p / w);
  var acc = select(255u, 0u, dilate);
  for (var d = -2; d <= 2; d++) {
    let v = plane_a[clamp_y(y + d) * w + x];
    acc = select(acc & v, acc | v, dilate);
  }
  return acc;
}

// Tissue where S > t, then the 5×5 dilate: b → a → b.
@compute @workgroup_size(64)
fn dilate_h(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let p = invocation_index(gid, groups);
  if (p < pixel_count()) {
    plane_a[p] = morph_h(p, true);
  }
}

@compute @workgroup_size(64)
fn dilate_v(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let p = invocation_index(gid, groups);
  if (p < pixel_count()) {
    plane_b[p] = morph_v(p, true);
  }
}

// The 5×5 erode: b → a → dst, the vertical half four pixels per invocation, packed into the output.
@compute @workgroup_size(64)
fn erode_h(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let p = invocation_index(gid, groups);
  if (p < pixel_count()) {
    plane_a[p] = morph_h(p, false);
  }
}

// Output byte p of `erode_v` (packed: gpu/shaders.ts): the vertical half of the erode.
fn eroded(p: u32) -> u32 {
  return morph_v(p, false);
}

// One-channel input (a median-filtered saturation) into plane b, for threshold + close alone (tissue map).
@compute @workgroup_size(64)
fn load_b(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let p = invocation_index(gid, groups);
  if (p >= pixel_count()) {
    return;
  }
  plane_b[p] = src_byte(p);
}

// The median-filtered saturation (plane b), packed.
fn median_byte(p: u32) -> u32 {
  return plane_b[p];
}

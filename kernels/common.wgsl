// Shared by every kernel (in each module's source after its generated `Params` struct: gpu/shaders.ts).
// Bindings of one job: its parameters, its 8-bit input packed four bytes to a word, two scratch planes of
// one u32 per pixel, and the palette. Each op file declares `dst` (binding 4) with the type it needs.
// Invocations run in workgroups of 64 over a 2-D grid of workgroups; `invocation_index` flattens it.


@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> plane_a: array<u32>;
@group(0) @binding(3) var<storage, read_write> plane_b: array<u32>;
@group(0) @binding(5) var<storage, read> palette: array<u32>;

const WORKGROUP: u32 = 64u;

fn invocation_index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * WORKGROUP;
}

// Byte i of the packed input.
fn src_byte(i: u32) -> u32 {
  return (src[i >> 2u] >> ((i & 3u) * 8u)) & 255u;
}

// Four bytes (each 0..255) packed into one little-endian word.
fn pack4(b0: u32, b1: u32, b2: u32, b3: u32) -> u32 {
  return b0 | (b1 << 8u) | (b2 << 16u) | (b3 << 24u);
}

// Luma of input pixel p: Y = (77·R + 150·G + 29·B + 128) >> 8; the first channel of 1- and 2-channel input.
fn luma(p: u32) -> u32 {
  let ch = params.channels;
  let j = p * ch;
  if (ch < 3u) {
    return src_byte(j);
  }
  return (77u * src_byte(j) + 150u * src_byte(j + 1u) + 29u * src_byte(j + 2u) + 128u) >> 8u;
}

fn pixel_count() -> u32 {
  return params.width * params.height;
}

// Number of 4-byte output words for `bytes` output bytes.
fn words_for(bytes: u32) -> u32 {
  return (bytes + 3u) / 4u;
}

// Coordinates clamped to the valid rectangle (replicated border).
fn clamp_x(x: i32) -> u32 {
  return u32(clamp(x, i32(params.valid_x0), i32(params.valid_x1)));
}
fn clamp_y(y: i32) -> u32 {
  return u32(clamp(y, i32(params.valid_y0), i32(params.valid_y1)));
}

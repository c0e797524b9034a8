// `gray` (see gray.ts): Y = (77·R + 150·G + 29·B + 128) >> 8; 1- and 2-channel input gives its first channel.
// One invocation writes one word: four output pixels.

@group(0) @binding(4) var<storage, read_write> dst: array<u32>;

// Output byte p: the luma of pixel p (the entry point `gray` is the shared packed loop: gpu/shaders.ts).
fn gray_byte(p: u32) -> u32 {
  return luma(p);
}

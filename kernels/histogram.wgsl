// 256-bin histogram of one-channel 8-bit input (see histogram.ts), with atomics: each workgroup counts
// into its own shared bins, then adds them to the global bins once.

// Runtime-sized on purpose: with a fixed-size array, wgpu (Deno 2.9.6) kept the 1,024-byte minimum after
// the pass switched pipelines, and rejected the next job's smaller output binding in the same batch.
@group(0) @binding(4) var<storage, read_write> bins: array<atomic<u32>>;

var<workgroup> local_bins: array<atomic<u32>, 256>;

@compute @workgroup_size(64)
fn histogram(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  for (var b = lid; b < 256u; b += WORKGROUP) {
    atomicStore(&local_bins[b], 0u);
  }
  workgroupBarrier();
  // Each invocation counts the four bytes of one input word.
  let word = invocation_index(gid, groups);
  let n = pixel_count();
  if (word < words_for(n)) {
    for (var k = 0u; k < 4u; k++) {
      if (word * 4u + k < n) {
        atomicAdd(&local_bins[(src[word] >> (k * 8u)) & 255u], 1u);
      }
    }
  }
  workgroupBarrier();
  for (var b = lid; b < 256u; b += WORKGROUP) {
    let v = atomicLoad(&local_bins[b]);
    if (v > 0u) {
      atomicAdd(&bins[b], v);
    }
  }
}

/**
 * The threshold of a 1-channel plane, 16 pixels an instruction, in WebAssembly SIMD: `thresholdKernel`'s
 * luma case (255 where Y > t, else 0; `invert` flips), the same bytes as its JS loop (tests/op_units_test.ts),
 * ~4× faster on a 256² plane with the two copies in and out (bench/README.md).
 * The module is small enough to write out by hand; in text form it is:
 *
 *   (module
 *     (memory (export "mem") 1)
 *     (func (export "thr") (param $n i32) (param $t i32) (param $flip i32)
 *       (local $i i32) (local $tv v128) (local $fv v128)
 *       (local.set $tv (i8x16.splat (local.get $t)))
 *       (local.set $fv (i8x16.splat (local.get $flip)))
 *       (block (loop
 *         (br_if 1 (i32.ge_u (local.get $i) (local.get $n)))
 *         (v128.store (local.get $i)
 *           (v128.xor (i8x16.gt_u (v128.load (local.get $i)) (local.get $tv)) (local.get $fv)))
 *         (local.set $i (i32.add (local.get $i) (i32.const 16)))
 *         (br 0)))))
 *
 * Where WebAssembly SIMD is missing, `thresholdSimd` answers false and the JS loop runs.
 */

// deno-fmt-ignore
const MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x07, 0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00, // type: (i32, i32, i32) -> ()
  0x03, 0x02, 0x01, 0x00, // function 0 has type 0
  0x05, 0x03, 0x01, 0x00, 0x01, // memory: 1 page, no maximum
  0x07, 0x0d, 0x02, // exports: 2
  0x03, 0x6d, 0x65, 0x6d, 0x02, 0x00, // "mem": memory 0
  0x03, 0x74, 0x68, 0x72, 0x00, 0x00, // "thr": function 0
  0x0a, 0x3e, 0x01, 0x3c, // code: 1 body of 60 bytes
  0x02, 0x01, 0x7f, 0x02, 0x7b, // locals: 1 i32, 2 v128
  0x20, 0x01, 0xfd, 0x0f, 0x21, 0x04, // $tv = i8x16.splat($t)
  0x20, 0x02, 0xfd, 0x0f, 0x21, 0x05, // $fv = i8x16.splat($flip)
  0x02, 0x40, 0x03, 0x40, // block, loop
  0x20, 0x03, 0x20, 0x00, 0x4f, 0x0d, 0x01, // br_if 1 ($i >= $n)
  0x20, 0x03, // address of the store
  0x20, 0x03, 0xfd, 0x00, 0x04, 0x00, // v128.load $i
  0x20, 0x04, 0xfd, 0x28, // i8x16.gt_u $tv
  0x20, 0x05, 0xfd, 0x51, // v128.xor $fv
  0xfd, 0x0b, 0x04, 0x00, // v128.store
  0x20, 0x03, 0x41, 0x10, 0x6a, 0x21, 0x03, // $i += 16
  0x0c, 0x00, 0x0b, 0x0b, // br 0, end loop, end block
  0x0b, // end
]);

interface Simd {
  mem: WebAssembly.Memory;
  thr: (n: number, t: number, flip: number) => void;
}

/** The instance (per thread), or null where WebAssembly SIMD is unavailable. */
const simd: Simd | null = (() => {
  try {
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(MODULE));
    return exports as unknown as Simd;
  } catch {
    return null;
  }
})();

/** True where the SIMD threshold runs (else `thresholdSimd` always answers false). */
export const HAS_THRESHOLD_SIMD = simd !== null;

/**
 * `dst[i] = src[i] > t ? 255 : 0` (flipped when `invert`) for the first `n` bytes, `n` a multiple of 16;
 * `dst` may be `src`. False (nothing written) where WebAssembly SIMD is unavailable.
 */
export function thresholdSimd(src: Uint8Array, dst: Uint8Array, n: number, t: number, invert: boolean): boolean {
  if (!simd || n % 16 !== 0) return false;
  const need = Math.ceil(n / 65536) - simd.mem.buffer.byteLength / 65536;
  if (need > 0) simd.mem.grow(need);
  const mem = new Uint8Array(simd.mem.buffer, 0, n);
  mem.set(src.subarray(0, n));
  simd.thr(n, t, invert ? 0xff : 0);
  dst.set(mem);
  return true;
}

/**
 * Batched remote reads (sources/remote_blocks.ts) against the bytes of the file itself: reads of one turn merged
 * into one range, each caller's bytes its own (writing into one never changes another's), a lone read handed
 * its range without a copy, small reads served from kept blocks.
 */
import { assert, assertEquals } from "./assert.ts";
import { BLOCK, blockReader, SMALL } from "../sources/remote_blocks.ts";

const file = Uint8Array.from({ length: 8 * BLOCK }, (_, i) => (i * 7 + (i >> 9)) & 255);

function counted() {
  const calls: [number, number][] = [];
  const fetched: Uint8Array[] = [];
  const read = blockReader(file.length, (offset, length) => {
    calls.push([offset, length]);
    const b = file.slice(offset, offset + length);
    fetched.push(b);
    return Promise.resolve(b);
  });
  return { read, calls, fetched };
}

Deno.test("remote reads: merged per turn, each caller's bytes its own, a lone read not copied", async () => {
  const { read, calls, fetched } = counted();
  const [a, b] = await Promise.all([read(BLOCK, SMALL * 2), read(BLOCK + SMALL * 3, SMALL * 2)]);
  assertEquals(calls.length, 1, "two reads a gap apart: one range");
  assertEquals(a, file.subarray(BLOCK, BLOCK + SMALL * 2));
  assertEquals(b, file.subarray(BLOCK + SMALL * 3, BLOCK + SMALL * 5));
  a.fill(0);
  assertEquals(b, file.subarray(BLOCK + SMALL * 3, BLOCK + SMALL * 5), "a caller's write stays its own");
  assertEquals(fetched[0], file.subarray(BLOCK, BLOCK + SMALL * 5), "nor reaches the fetched range");
  const lone = await read(5 * BLOCK, SMALL * 2);
  assertEquals(lone, file.subarray(5 * BLOCK, 5 * BLOCK + SMALL * 2));
  assert(lone.buffer === fetched[1].buffer, "a range fetched for one read is handed over, not copied");
  // Small reads come from the 64 KiB blocks, the second one without another request.
  const before = calls.length;
  assertEquals(await read(3 * BLOCK + 10, 100), file.subarray(3 * BLOCK + 10, 3 * BLOCK + 110));
  assertEquals(await read(3 * BLOCK + 500, 200), file.subarray(3 * BLOCK + 500, 3 * BLOCK + 700));
  assertEquals(calls.length, before + 1);
});

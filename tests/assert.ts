/** Assertions for Deno.test, on `node:assert/strict` (JSR's @std/assert is not reachable here). */
import assertNode from "node:assert/strict";

/** Deep, strict equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  assertNode.deepStrictEqual(actual, expected, msg);
}

/** A truthy condition. */
export function assert(cond: unknown, msg?: string): asserts cond {
  assertNode.ok(cond, msg);
}

/** `fn` throws. */
export function assertThrows(fn: () => unknown, msg?: string): void {
  assertNode.throws(fn, msg);
}

/** `actual` ≥ `min`, with a message that shows both. */
export function assertAtLeast(actual: number, min: number, what: string): void {
  assertNode.ok(actual >= min, `${what}: ${actual} < ${min}`);
}

/**
 * Reproducible random sampling of an export's tissue patches, pure: `limit` of the `n` tissue cells, drawn
 * uniformly without replacement by Floyd's algorithm from the Mulberry32 generator seeded with `seed`, and
 * returned in grid (row-major) order. Equal (n, limit, seed) give equal samples on every platform.
 */

/** The Mulberry32 generator: uniform 32-bit integers from a 32-bit seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A uniform integer in 0..`bound`-1 (rejection of the biased top of the 32-bit range). */
function below(next: () => number, bound: number): number {
  const limit = 2 ** 32 - (2 ** 32 % bound);
  for (;;) {
    const v = next();
    if (v < limit) return v % bound;
  }
}

/**
 * Which of `n` items (0-based ranks, ascending) a sample of `limit` with `seed` holds; every rank when
 * `limit` ≥ `n`. Floyd's algorithm: `limit` draws and a set of `limit` entries, whatever `n` is.
 */
export function sampleRanks(n: number, limit: number, seed: number): Uint32Array {
  if (limit >= n) return Uint32Array.from({ length: n }, (_, i) => i);
  const next = mulberry32(seed);
  const chosen = new Set<number>();
  for (let j = n - limit; j < n; j++) {
    const t = below(next, j + 1);
    chosen.add(chosen.has(t) ? j : t);
  }
  return Uint32Array.from(chosen).sort();
}

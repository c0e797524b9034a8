/**
 * Single-flight across a fleet: a tile being computed on one instance is not computed again on another. The
 * first to miss takes a short lock in the shared engine (Redis `SET … NX PX`); the others wait for the value
 * to land (a bounded poll), and compute it themselves when the lock is gone without a value (its holder
 * died: the lock expires with it) or past their deadline. Engines without locks (Deno KV, one machine) and an
 * engine that cannot be reached leave every instance to compute its own, as before.
 */
import type { BlobKey, BlobStore } from "./blob_store.ts";

/** How long a lock lives: past it the holder is taken for dead. */
export const FLEET_LOCK_MS = 15_000;
/** How often a waiter looks for the value. */
const POLL_MS = 50;

/** An engine that can lock a key for the fleet. */
export interface LockingStore extends BlobStore {
  /** A token when the lock on `key` was taken for `ms`, null when another holds it. */
  lock(key: BlobKey, ms: number): Promise<string | null>;
  /** Releases the lock if `token` still holds it. */
  unlock(key: BlobKey, token: string): Promise<void>;
  /** Whether anyone holds the lock on `key`. */
  locked(key: BlobKey): Promise<boolean>;
}

function locking(store: BlobStore | null): store is LockingStore {
  return !!store && "lock" in store;
}

/**
 * This instance's turn at `key`: the value another instance computed (`found`), or the go-ahead to compute
 * it (`release` to call once the value is stored). Waits at most `waitMs`.
 */
export async function fleetTurn<T>(
  store: BlobStore | null,
  key: BlobKey,
  read: () => Promise<T | null>,
  waitMs: number,
): Promise<{ found: T } | { release: () => Promise<void> }> {
  const alone = { release: () => Promise.resolve() };
  if (!locking(store)) return alone;
  const take = async () => {
    const token = await store.lock(key, FLEET_LOCK_MS);
    return token ? { release: () => store.unlock(key, token).catch(() => {}) } : null;
  };
  try {
    const mine = await take();
    if (mine) return mine;
    for (const end = Date.now() + waitMs; Date.now() < end;) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      const found = await read();
      if (found) return { found };
      if (!(await store.locked(key))) {
        // The holder may have stored the value and released the lock since the read above: read once more
        // before computing it again (it stores before it unlocks, so a free lock and no value means none).
        const landed = await read();
        return landed ? { found: landed } : (await take()) ?? alone;
      }
    }
  } catch {
    // The engine cannot be reached: compute it here.
  }
  return alone;
}

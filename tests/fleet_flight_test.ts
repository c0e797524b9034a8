/**
 * cache/fleet_flight.ts against a scripted engine: a waiter that finds the lock free takes the value the
 * holder stored meanwhile rather than computing it again (the race redis_test's single-flight case met
 * under load: the holder stored and unlocked between the waiter's read and its look at the lock).
 */
import { assert, assertEquals } from "./assert.ts";
import { fleetTurn, type LockingStore } from "../cache/fleet_flight.ts";
import type { BlobKey, StoredBlob } from "../cache/blob_store.ts";

/** An engine whose lock is held by another instance until `finish()` stores the value and unlocks. */
function scripted() {
  let value: StoredBlob | null = null, held = true, locksTaken = 0;
  const store: LockingStore = {
    engine: "scripted",
    get: () => Promise.resolve(value),
    set: (_k: BlobKey, b: StoredBlob) => Promise.resolve(void (value = b)).then(() => "stored" as const),
    close: () => {},
    lock: () => {
      if (held) return Promise.resolve(null);
      held = true;
      locksTaken++;
      return Promise.resolve("mine");
    },
    unlock: () => Promise.resolve(void (held = false)),
    locked: () => Promise.resolve(held),
  };
  const finish = () => {
    value = { bytes: new Uint8Array([1, 2, 3]), meta: {} };
    held = false;
  };
  return { store, finish, taken: () => locksTaken };
}

Deno.test("fleet single-flight: the value stored between a waiter's read and its lock check is taken", async () => {
  const { store, finish, taken } = scripted();
  let reads = 0;
  // The waiter's first poll reads nothing; right after that read the holder stores and unlocks.
  const read = async () => {
    const r = await store.get(["tile", "k"]);
    if (++reads === 2) finish();
    return r && r !== "corrupt" ? r : null;
  };
  const turn = await fleetTurn(store, ["tile", "k"], read, 5_000);
  assert("found" in turn, "the stored value, not a second computation");
  assertEquals(taken(), 0, "no lock taken to compute it again");
});

Deno.test("fleet single-flight: a free lock and no value (the holder died) is this instance's to compute", async () => {
  const { store, taken } = scripted();
  await store.unlock(["tile", "k"], "theirs");
  const turn = await fleetTurn(store, ["tile", "k"], () => Promise.resolve(null), 5_000);
  assert("release" in turn);
  assertEquals(taken(), 1);
});

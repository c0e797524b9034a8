/**
 * Large answers hold their bytes in the large-work budget (workers/large_work.ts) until they are sent or
 * their client is gone: 64 slow clients of 20 MB images held 700 MB of finished answers on the router
 * while new large work kept starting.
 */
import type { LargeWork } from "../workers/large_work.ts";

/** Answers from this size on are held in the budget while they are sent. */
export const LEASED_BODY_BYTES = 4 << 20;

/** The part of a large answer handed to the connection at a time. */
const CHUNK = 1 << 20;

/** Longest an answer holds its bytes, whatever happens to its stream (one nobody reads nor cancels). */
const MAX_HOLD_MS = 120_000;

/**
 * The body for `bytes`: the bytes themselves when small or when there is no budget (no worker pool), else
 * a stream of them that holds their size in `large` until it ends or is cancelled.
 */
export function leasedBody(large: LargeWork | undefined, bytes: Uint8Array): BodyInit {
  if (!large || bytes.byteLength < LEASED_BODY_BYTES) return bytes as Uint8Array<ArrayBuffer>;
  const letGo = large.hold(bytes.byteLength);
  const timer = setTimeout(letGo, MAX_HOLD_MS);
  Deno.unrefTimer(timer);
  const release = () => (clearTimeout(timer), letGo());
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(bytes.subarray(at, at + CHUNK));
      at += CHUNK;
      if (at >= bytes.byteLength) {
        controller.close();
        release();
      }
    },
    cancel() {
      release();
    },
  }, { highWaterMark: 0 });
}

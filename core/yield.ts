/**
 * A turn of the event loop without a timer: Deno's `setTimeout(…, 0)` waits about 2 ms (measured in
 * Deno 2.9.6: 2.1 ms a call, against 0.005 ms for `setImmediate`), which every job would pay before it ran.
 */
import { setImmediate } from "node:timers";

/**
 * Resolves after one turn of the event loop, so due timers (a worker's heartbeat) and queued messages (a
 * job's cancel) run first. Not a MessageChannel round trip: once Node compatibility is loaded (the WASM
 * codecs load `node:module`), port messages are delivered before timers and a heartbeat would starve
 * (tests/hardening_test.ts).
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

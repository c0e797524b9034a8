/**
 * The signal of a request's work: aborted when its client goes away or its time limit (TIMEOUT_MS) passes,
 * so queued work for it is dropped. The app's limits middleware registers each request's time-limit
 * controller; the client's own signal is linked only when some work asks for it (`workSignalOf`), since
 * watching a connection costs ~10 % of the throughput of cache hits (bench:load).
 */
const controllers = new WeakMap<Request, { work: AbortController; linked: boolean }>();

/** Registers `work`, aborted by the middleware when the request's time is up. */
export function setWorkController(request: Request, work: AbortController): void {
  controllers.set(request, { work, linked: false });
}

/** The work signal of `request` (its own signal where none was registered). */
export function workSignalOf(request: Request): AbortSignal {
  const entry = controllers.get(request);
  if (!entry) return request.signal;
  if (!entry.linked) {
    entry.linked = true;
    const gone = () => entry.work.abort();
    if (request.signal.aborted) gone();
    else request.signal.addEventListener("abort", gone, { once: true });
  }
  return entry.work.signal;
}

/**
 * The signal of a request's work: aborted when its client goes away or its time limit (TIMEOUT_MS) passes,
 * so queued work for it is dropped. Set by the app's limits middleware, read where work is started.
 */
const signals = new WeakMap<Request, AbortSignal>();

/** Records the work signal of `request`. */
export function setWorkSignal(request: Request, signal: AbortSignal): void {
  signals.set(request, signal);
}

/** The work signal of `request` (its own signal where none was recorded). */
export function workSignalOf(request: Request): AbortSignal {
  return signals.get(request) ?? request.signal;
}

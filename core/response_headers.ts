/**
 * Headers set on a made `Response` rather than passed as its init: Deno prepares an init's headers for its
 * HTTP server at once, which costs twice what setting them does (~4 µs a tile) and is wasted when the guard's
 * front writes the answer itself.
 */

/** `res` with `headers` set (an object's values set, pairs appended, in order). */
export function withHeaders(res: Response, headers: Record<string, string> | [string, string][]): Response {
  const h = res.headers;
  if (Array.isArray(headers)) { for (const [k, v] of headers) h.append(k, v); }
  else for (const k in headers) h.set(k, headers[k]);
  return res;
}

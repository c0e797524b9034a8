/**
 * CORS for a public, read-only image service: every answer may be read by any origin, and names the response
 * headers a viewer's script may see; a preflight (`OPTIONS`) is answered here with the methods served.
 * The headers are set on the route's own response after it is made. Hono's `cors()` sets them on a placeholder
 * response before the route runs, which makes Hono copy every route's response into a third `Response` and merge
 * the two header lists: 9 KiB of garbage and two sorted header walks a request on the router thread
 * (bench/README.md).
 */
import type { MiddlewareHandler } from "hono";

/** The methods the service answers (HEAD is GET without the body). */
const METHODS = "GET,HEAD";

/** How long a browser may keep a preflight's answer, in seconds. */
const PREFLIGHT_MAX_AGE = 86400;

/** The CORS headers every answer carries, as pairs (the fast path writes them without this middleware). */
export function corsPairs(exposeHeaders: string[]): [string, string][] {
  return [["access-control-allow-origin", "*"], ["access-control-expose-headers", exposeHeaders.join(",")]];
}

/** The CORS middleware: `Access-Control-Allow-Origin: *` and `Access-Control-Expose-Headers` on every answer. */
export function corsHeaders(exposeHeaders: string[]): MiddlewareHandler {
  const [[, origin], [, expose]] = corsPairs(exposeHeaders);
  return async (c, next) => {
    if (c.req.method === "OPTIONS") {
      const headers = new Headers({
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": expose,
        "Access-Control-Allow-Methods": METHODS,
        "Access-Control-Max-Age": String(PREFLIGHT_MAX_AGE),
      });
      const asked = c.req.header("Access-Control-Request-Headers");
      if (asked) {
        headers.set("Access-Control-Allow-Headers", asked.split(",").map((h) => h.trim()).join(","));
        headers.set("Vary", "Access-Control-Request-Headers");
      }
      return new Response(null, { status: 204, headers });
    }
    await next();
    let res = c.res;
    try {
      res.headers.set("Access-Control-Allow-Origin", origin);
    } catch {
      // Immutable headers (a response made by `fetch` or `Response.redirect`): answer a copy.
      res = new Response(res.body, res);
      res.headers.set("Access-Control-Allow-Origin", origin);
      c.res = undefined as unknown as Response; // replace, not merge (Hono's setter merges headers)
      c.res = res;
    }
    res.headers.set("Access-Control-Expose-Headers", expose);
  };
}

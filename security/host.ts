/**
 * The `Host` header checked before anything reads the request's URL: Deno builds `request.url` from it, so
 * a malformed one (`a b`, `[`, `x:99999`, markup) made `new URL` throw (a 500 on every route), and one with
 * a `/`, `?` or `#` moved the path the router saw. Such a request is a 400 `bad_host`; `/health` never
 * depends on `Host` and answers as for any other client.
 */
import type { MiddlewareHandler } from "hono";
import { HttpError } from "../errors.ts";

/** A host as RFC 3986 allows it in `Host`: a name or IPv4 address, or an IPv6 literal, and a port. */
const HOST = /^(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$/;

/** True when `host` (a `Host` header's value) is one a URL can carry; the empty value of HTTP/1.0 is. */
export function validHost(host: string): boolean {
  if (host === "") return true;
  const m = HOST.exec(host);
  if (!m || (m[1] !== undefined && Number(m[1]) > 65535)) return false;
  try {
    new URL(`http://${host}/`);
    return true;
  } catch {
    return false;
  }
}

/**
 * The middleware: 400 `bad_host` for a malformed `Host`, except for `/health`, which `health` answers as
 * if the request had come without one (`health` gets the request rebuilt on `http://localhost`).
 */
export function hostGuard(
  health: (req: Request) => Response | Promise<Response>,
  reply: (e: HttpError) => Response,
): MiddlewareHandler {
  return async (c, next) => {
    const host = c.req.raw.headers.get("host");
    if (host === null || validHost(host)) return await next();
    const url = c.req.raw.url, scheme = url.slice(0, url.indexOf("://") + 3);
    const path = url.startsWith(scheme + host) ? url.slice(scheme.length + host.length) : pathOf(url);
    if (path === "/health" || path.startsWith("/health?")) {
      const headers = new Headers(c.req.raw.headers);
      headers.delete("host");
      return await health(new Request(`http://localhost${path}`, { method: c.req.method, headers }));
    }
    return reply(new HttpError(400, "bad_host", `the Host header is malformed: ${JSON.stringify(host.slice(0, 100))}`));
  };
}

/** The path and query of a URL Deno built (its host rewritten, e.g. to punycode), or "" if it has none. */
function pathOf(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return "";
  }
}

/**
 * Absolute URLs in response bodies and headers (IIIF `id`, TileJSON `tiles`, `/images` links): from
 * `PUBLIC_URL` when set; else, with `TRUST_PROXY`, from the proxy's `Forwarded` (RFC 7239) or
 * `X-Forwarded-Proto|Host|Prefix` headers; else from the request's own origin. The last two come from the
 * request (its `Host`, or what the proxy passed on), so such a response is marked private: no shared cache
 * ever stores a body with a client-chosen host in it.
 */
import type { Context } from "hono";
import type { AppContext } from "../service/context.ts";

/** Headers an absolute URL may depend on under `TRUST_PROXY` (for `Vary`). */
export const FORWARDED_HEADERS = "Forwarded, X-Forwarded-Proto, X-Forwarded-Host, X-Forwarded-Prefix";

const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const PREFIX = /^(?:\/(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})+)*$/;

/** The first value of a comma-separated header, trimmed; undefined when absent or empty. */
function first(value: string | null): string | undefined {
  const v = value?.split(",")[0].trim();
  return v ? v : undefined;
}

/** `proto` and `host` of the first element of a `Forwarded` header (the client's side of the chain). */
export function parseForwarded(header: string | null): { proto?: string; host?: string } {
  if (!header) return {};
  const out: { proto?: string; host?: string } = {};
  // The first element ends at the first comma outside a quoted string.
  const element = /^(?:[^,"]|"(?:[^"\\]|\\.)*")*/.exec(header)?.[0] ?? "";
  for (const pair of element.match(/[^;]+/g) ?? []) {
    const at = pair.indexOf("=");
    if (at < 0) continue;
    const key = pair.slice(0, at).trim().toLowerCase();
    let value = pair.slice(at + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1).replace(/\\(.)/g, "$1");
    if (key === "proto" || key === "host") out[key] = value;
  }
  return out;
}

/** The public base a trusted proxy reports, checked; undefined where it reports nothing usable. */
export function forwardedBase(headers: Headers, own: URL): string | undefined {
  const fwd = parseForwarded(headers.get("forwarded"));
  const proto = (fwd.proto ?? first(headers.get("x-forwarded-proto")))?.toLowerCase();
  const host = fwd.host ?? first(headers.get("x-forwarded-host"));
  const prefix = first(headers.get("x-forwarded-prefix"))?.replace(/\/+$/, "");
  if (proto === undefined && host === undefined && prefix === undefined) return undefined;
  const scheme = proto === "http" || proto === "https" ? proto : own.protocol.slice(0, -1);
  const port = Number(/:(\d+)$/.exec(host ?? "")?.[1] ?? 0);
  const authority = host !== undefined && HOST.test(host) && port <= 65535 ? host : own.host;
  const path = prefix !== undefined && PREFIX.test(prefix) ? prefix : "";
  return `${scheme}://${authority}${path}`;
}

/** The base for absolute URLs of this request, and whether it came from the request (not configured). */
export function publicBase(ctx: AppContext, c: Context): { base: string; fromRequest: boolean } {
  if (ctx.config.publicUrl) return { base: ctx.config.publicUrl, fromRequest: false };
  const own = new URL(c.req.url);
  if (ctx.config.trustProxy) {
    const base = forwardedBase(c.req.raw.headers, own);
    if (base) return { base, fromRequest: true };
  }
  return { base: own.origin, fromRequest: true };
}

/** `Vary` of a body holding absolute URLs: the forwarding headers when they make its base; else none. */
export function varyFor(ctx: AppContext): string | undefined {
  return ctx.config.trustProxy && !ctx.config.publicUrl ? FORWARDED_HEADERS : undefined;
}

/** Sets `Cache-Control` (`cacheControlFor`) and `Vary` (`varyFor`) of a JSON body holding absolute URLs. */
export function headersForUrls(ctx: AppContext, c: Context, fromRequest: boolean, shared: string) {
  c.header("Cache-Control", cacheControlFor(fromRequest, shared));
  const vary = varyFor(ctx);
  if (vary) c.header("Vary", vary);
}

/** `Cache-Control` for a body holding absolute URLs: `shared` when the base is configured, else private. */
export function cacheControlFor(fromRequest: boolean, shared: string): string {
  return fromRequest ? "private, max-age=60" : shared;
}

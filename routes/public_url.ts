/**
 * Absolute URLs in response bodies (IIIF `id`, TileJSON `tiles`, `/images` links): from `PUBLIC_URL` when
 * set, else from the request's own origin — which the client chose (its `Host` header), so such a response
 * is marked private: no shared cache ever stores a body with a client-chosen host in it.
 */
import type { Context } from "hono";
import type { AppContext } from "./context.ts";

/** The base for absolute URLs of this request, and whether it came from the request (not configured). */
export function publicBase(ctx: AppContext, c: Context): { base: string; fromRequest: boolean } {
  if (ctx.config.publicUrl) return { base: ctx.config.publicUrl, fromRequest: false };
  return { base: new URL(c.req.url).origin, fromRequest: true };
}

/** `Cache-Control` for a body holding absolute URLs: `shared` when the base is configured, else private. */
export function cacheControlFor(fromRequest: boolean, shared: string): string {
  return fromRequest ? "private, max-age=60" : shared;
}

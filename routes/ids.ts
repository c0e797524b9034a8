/** Image ids in URL paths: one segment each, `/` inside an id as `%2F` or the configured substitute. */
import { badRequest } from "../errors.ts";
import { RENDER_PARAMS } from "../kernels/render.ts";

/**
 * Decodes one URL path segment holding an image id: `%2F` for `/`, or `slash` (the configured substitute)
 * for `/`; 400 when malformed.
 */
export function decodeId(raw: string, slash = ""): string {
  const id = decodePart(raw, "image id");
  return slash ? id.replaceAll(slash, "/") : id;
}

/** Percent-decodes a part of a URL path; 400 naming `what` when the encoding is malformed. */
export function decodePart(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw badRequest(`malformed percent-encoding in the ${what}`);
  }
}

/** An image id as one URL path segment: `/` written as `slash` when configured, else `%2F`. */
export function encodeId(id: string, slash = ""): string {
  return slash ? id.split("/").map(encodeURIComponent).join(slash) : encodeURIComponent(id);
}

/** The raw (still percent-encoded) path of a request. */
export function rawPath(url: string): string {
  return new URL(url).pathname;
}

/**
 * An identifier path segment split at its first `;` (a meta-identifier, as Cantaloupe's): the image id, and
 * the render parameters that follow as a URL-encoded query (`tcga.ome.tif;c=0%2C2&window=auto`). IIIF has no
 * query string in its base URI, so this is how an info.json carries a render into every tile URL.
 */
export function metaIdentifier(raw: string): { id: string; render: URLSearchParams } {
  const at = raw.indexOf(";");
  if (at < 0) return { id: raw, render: new URLSearchParams() };
  const render = new URLSearchParams(decodePart(raw.slice(at + 1), "identifier"));
  for (const k of render.keys()) {
    if (!RENDER_PARAMS.includes(k)) throw badRequest(`the identifier's ";" part takes render parameters, not "${k}"`);
  }
  return { id: raw.slice(0, at), render };
}

/** The render parameters of a query as a meta-identifier suffix (empty when there are none). */
export function renderSuffix(query: URLSearchParams): string {
  const kept = new URLSearchParams([...query].filter(([k]) => RENDER_PARAMS.includes(k)));
  return kept.size ? `;${encodeURIComponent(kept.toString())}` : "";
}

/** Image ids in URL paths: one segment each, `/` inside an id as `%2F` or the configured substitute. */
import { badRequest } from "../errors.ts";

/**
 * Decodes one URL path segment holding an image id: `%2F` for `/`, or `slash` (the configured substitute)
 * for `/`; 400 when malformed.
 */
export function decodeId(raw: string, slash = ""): string {
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    throw badRequest("malformed percent-encoding in the image id");
  }
  return slash ? id.replaceAll(slash, "/") : id;
}

/** An image id as one URL path segment: `/` written as `slash` when configured, else `%2F`. */
export function encodeId(id: string, slash = ""): string {
  return slash ? id.split("/").map(encodeURIComponent).join(slash) : encodeURIComponent(id);
}

/** The raw (still percent-encoded) path of a request. */
export function rawPath(url: string): string {
  return new URL(url).pathname;
}

/**
 * No filesystem path in a public response: the unauthenticated `/health` and `/ready` told anyone where the
 * service's native JPEG library and KV file live. Absolute paths in their texts become their last part.
 */

/** An absolute path inside a text (after its start, a space, a bracket, a quote or `=`). */
const PATH = /(^|[\s(\[="'])(\/[^\s)\]"',]*)/g;

/** `text` with every absolute path in it replaced by its last part (`/a/b/libturbojpeg.so.0` → `libturbojpeg.so.0`). */
export function withoutPaths(text: string): string {
  return text.replace(PATH, (_, lead: string, path: string) => {
    const last = path.split("/").filter(Boolean).pop() ?? "";
    return `${lead}${last}${path.endsWith("/") && last ? "/" : ""}`;
  });
}

/** `value` (JSON data) with `withoutPaths` applied to every string in it. */
export function redactPaths<T>(value: T): T {
  if (typeof value === "string") return withoutPaths(value) as T;
  if (Array.isArray(value)) return value.map(redactPaths) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactPaths(v)])) as T;
  }
  return value;
}

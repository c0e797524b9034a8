/**
 * Signed URLs: HMAC-SHA256 over the path and the query (keys sorted, `sig` left out), hex in `sig`,
 * an optional `exp` (Unix seconds) after which the URL is refused. Several keys verify (rotation: sign
 * with the first, keep the old ones for a while). A `scope=/path` parameter signs every path under that
 * path, by whole segments (`inScope`), with the same query: one signed `.dzi` URL covers the tiles a viewer
 * derives from it, and no other image whose id merely starts the same.
 * Comparisons are constant-time.
 */

const enc = new TextEncoder();

/** The canonical string that is signed: scope or path, then the sorted query without `sig`. */
export function signingInput(pathname: string, query: URLSearchParams): string {
  const params = [...query.entries()].filter(([k]) => k !== "sig").sort(([a, av], [b, bv]) =>
    a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0
  );
  const scope = query.get("scope");
  const subject = scope !== null ? `scope:${scope}` : pathname;
  return `${subject}?${new URLSearchParams(params).toString()}`;
}

async function hmacHex(key: string, data: string): Promise<string> {
  const k = await crypto.subtle.importKey("raw", enc.encode(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", k, enc.encode(data)));
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** True when `a` and `b` are equal, in time independent of where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = enc.encode(a), y = enc.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** `pathAndQuery` with `sig` (and `exp`/`scope` when given) added, signed with `key`. */
export async function signUrl(
  pathAndQuery: string,
  key: string,
  opts: { expiresAt?: number; scope?: string } = {},
): Promise<string> {
  const url = new URL(pathAndQuery, "http://x");
  url.searchParams.delete("sig");
  if (opts.expiresAt !== undefined) url.searchParams.set("exp", String(Math.floor(opts.expiresAt)));
  if (opts.scope !== undefined) url.searchParams.set("scope", opts.scope);
  const sig = await hmacHex(key, signingInput(url.pathname, url.searchParams));
  url.searchParams.set("sig", sig);
  return `${url.pathname}?${url.searchParams.toString()}`;
}

/**
 * True when `pathname` is under `scope` by whole path segments: the scope itself, anything below it
 * (`scope/…`), its Deep Zoom descriptor (`scope.dzi`) and tiles (`scope_files/…`); a scope ending in `/`
 * covers everything below that folder. `/dzi/s` does not cover `/dzi/slide.svs`.
 */
export function inScope(pathname: string, scope: string): boolean {
  if (!scope.startsWith("/")) return false;
  if (scope.endsWith("/")) return pathname.startsWith(scope);
  return pathname === scope || pathname === `${scope}.dzi` ||
    [`${scope}/`, `${scope}_files/`].some((p) => pathname.startsWith(p));
}

/** Why a URL's signature does not hold, or null when it does under one of `keys`. */
export async function verifyUrl(url: URL, keys: string[], now = Date.now() / 1000): Promise<string | null> {
  const sig = url.searchParams.get("sig");
  if (!sig) return "this URL must be signed (sig=)";
  const exp = url.searchParams.get("exp");
  if (exp !== null && !(Number(exp) > now)) return "this signed URL has expired";
  const scope = url.searchParams.get("scope");
  if (scope !== null && !inScope(url.pathname, scope)) {
    return "this URL is outside the signature's scope";
  }
  const input = signingInput(url.pathname, url.searchParams);
  let ok = false;
  for (const key of keys) ok = constantTimeEqual(await hmacHex(key, input), sig) || ok;
  return ok ? null : "bad signature";
}

/**
 * Remote sources over HTTP(S) without SSRF: only origins in `ALLOWED_ORIGINS`, http(s) only, no
 * credentials in URLs; loopback, private, link-local and other special addresses refused unless that
 * exact origin is listed (IP literals and `localhost`), DNS names resolved and checked before connecting;
 * every redirect hop checked again; each response bounded in time and bytes. Reads are range requests pinned
 * to the version seen first: `If-Match` and `If-Range` on a strong ETag, else `If-Unmodified-Since` and
 * `If-Range` on Last-Modified; every answer's `Content-Range` (offset, length, total size) and validators are
 * checked against that version, so a file that changes between or during reads is a 409, never mixed
 * pixels, and a file with no validator to pin to is refused (409) rather than read unpinned.
 * (A DNS answer can still change between the check and the connection; pin hosts by IP to rule that out.)
 */
import { HttpError } from "../errors.ts";
import { sha256Hex } from "../cache/key.ts";
import { type S3Signer, signS3 } from "./s3.ts";
import { azureAuthorized, type AzureSigner } from "./azure.ts";

/** What remote reads may do. Plain data (travels to workers in the source descriptor). */
export interface RemotePolicy {
  allowedOrigins: string[];
  timeoutMs: number;
  /** Largest response body accepted (a whole flat image, or one range). */
  maxBytes: number;
  /** Requests to this signer's origin are signed (a private S3 object); such a request never follows a redirect. */
  s3?: S3Signer;
  /** Requests to this signer's origin carry a blob SAS (a private Azure blob); never followed past a redirect. */
  azure?: AzureSigner;
}

/** A remote file's identity: its URL, size and version (strong ETag or Last-Modified). */
export interface RemoteHead {
  url: string;
  size: number;
  /** The strong ETag reads are pinned to, or null. */
  etag: string | null;
  /** Last-Modified as sent, or null. */
  lastModified: string | null;
  version: string;
}

const forbidden = (message: string) => new HttpError(403, "forbidden_origin", message);
const badGateway = (message: string) => new HttpError(502, "bad_gateway", message);

/** True for addresses a tile server must not reach by default (loopback, private, link-local, …). */
export function isSpecialAddress(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || a >= 224;
  }
  if (h.includes(":")) {
    if (h === "::1" || h === "::") return true;
    if (/^(fc|fd)/.test(h) || /^fe[89ab]/.test(h) || /^ff/.test(h)) return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    if (mapped) return isSpecialAddress(mapped[1]);
  }
  return false;
}

function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.startsWith("[");
}

/** 403 unless `url` may be fetched under `policy` (origin listed; special addresses only when listed). */
export async function checkRemoteUrl(url: URL, policy: RemotePolicy): Promise<void> {
  if (url.protocol !== "https:" && url.protocol !== "http:") throw forbidden(`only http(s) sources: ${url.protocol}`);
  if (url.username || url.password) throw forbidden("credentials in source URLs are not accepted");
  if (!policy.allowedOrigins.includes(url.origin)) {
    throw forbidden(`origin ${url.origin} is not in EDGETILE_ALLOWED_ORIGINS`);
  }
  // An IP literal or localhost that is listed is explicitly allowed; a listed DNS name must not resolve to a
  // special address.
  if (isIpLiteral(url.hostname) || url.hostname === "localhost") return;
  const addresses: string[] = [];
  for (const type of ["A", "AAAA"] as const) {
    try {
      addresses.push(...await Deno.resolveDns(url.hostname, type));
    } catch { /* no records of this type */ }
  }
  if (addresses.length === 0) throw badGateway(`cannot resolve ${url.hostname}`);
  const bad = addresses.find(isSpecialAddress);
  if (bad) throw forbidden(`${url.hostname} resolves to ${bad}, a private or special address`);
}

/**
 * The URL a remote id names; 400 `bad_id` when it is not one (`%` or a space in the host, an unclosed
 * `[::1`, a port past 65535): `new URL` threw, and that was a 500.
 */
export function parseRemoteId(id: string): URL {
  try {
    return new URL(id);
  } catch {
    throw new HttpError(400, "bad_id", `not a valid URL: ${JSON.stringify(id.slice(0, 200))}`);
  }
}

/** `fetch` with the policy applied to every hop, a time bound, and manual redirects (at most 5). */
export async function guardedFetch(url: string, init: RequestInit, policy: RemotePolicy): Promise<Response> {
  let current = parseRemoteId(url);
  for (let hop = 0; hop <= 5; hop++) {
    await checkRemoteUrl(current, policy);
    let res: Response;
    const signer = policy.s3?.origin === current.origin ? policy.s3 : undefined;
    const azure = policy.azure?.origin === current.origin ? policy.azure : undefined;
    try {
      const bound = { redirect: "manual", signal: AbortSignal.timeout(policy.timeoutMs) } as const;
      res = signer
        ? await fetch(await signS3(current, init, signer), bound)
        : await fetch(azure ? await azureAuthorized(current, azure) : current, { ...init, ...bound });
    } catch (err) {
      if ((err as Error).name === "TimeoutError") {
        throw new HttpError(504, "upstream_timeout", `${current.origin} did not answer in ${policy.timeoutMs} ms`);
      }
      throw badGateway(`cannot reach ${current.origin}: ${(err as Error).message}`);
    }
    if ([301, 302, 303, 307, 308].includes(res.status)) {
      if (signer || azure) {
        await res.body?.cancel();
        throw badGateway(
          `the store redirected a signed read of ${current.pathname} (${res.status}): check the region and the endpoint`,
        );
      }
      const location = res.headers.get("location");
      await res.body?.cancel();
      if (!location) throw badGateway("redirect without a Location");
      try {
        current = new URL(location, current);
      } catch {
        throw badGateway(`a redirect to a malformed URL: ${JSON.stringify(location.slice(0, 200))}`);
      }
      continue;
    }
    return res;
  }
  throw badGateway("too many redirects");
}

/** The body, refusing more than `maxBytes` (checked against Content-Length and while reading). */
export async function boundedBody(res: Response, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) {
    await res.body?.cancel();
    throw new HttpError(413, "too_large", `the source answered ${declared} bytes, over the limit of ${maxBytes}`);
  }
  const reader = res.body?.getReader();
  if (!reader) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let step: ReadableStreamReadResult<Uint8Array>;
    try {
      step = await reader.read();
    } catch (err) {
      // The time bound of the request covers its body: a body that stalls is the origin's timeout.
      const origin = new URL(res.url || "http://origin").origin;
      if ((err as Error).name === "TimeoutError") {
        throw new HttpError(504, "upstream_timeout", `${origin} stopped sending its answer (time limit)`);
      }
      throw badGateway(`${origin} broke off its answer: ${(err as Error).message}`);
    }
    const { done, value } = step;
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel();
      throw new HttpError(413, "too_large", `the source sent more than ${maxBytes} bytes`);
    }
    parts.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function upstreamError(res: Response, url: string): HttpError {
  if (res.status === 404 || res.status === 410) return new HttpError(404, "not_found", `no source at ${url}`);
  if (res.status === 401 || res.status === 403) {
    return new HttpError(502, "source_denied", `the source refused to be read (${res.status}): ${url}`);
  }
  if (res.status === 412) return new HttpError(409, "source_changed", `${url} changed while it was read; retry`);
  return badGateway(`${url} answered ${res.status}`);
}

/** Size and version of a remote file (HEAD, or a 1-byte range where HEAD is refused). */
export async function headRemote(url: string, policy: RemotePolicy): Promise<RemoteHead> {
  let res = await guardedFetch(url, { method: "HEAD" }, policy);
  let size = Number(res.headers.get("content-length") ?? NaN);
  if (!res.ok || !Number.isFinite(size)) {
    await res.body?.cancel();
    res = await guardedFetch(url, { headers: { Range: "bytes=0-0" } }, policy);
    await res.body?.cancel();
    if (res.status !== 206 && !res.ok) throw upstreamError(res, url);
    size = Number(/\/(\d+)$/.exec(res.headers.get("content-range") ?? "")?.[1] ?? res.headers.get("content-length"));
  }
  if (!Number.isFinite(size) || size <= 0) throw badGateway(`${url} did not say its size`);
  const rawEtag = res.headers.get("etag");
  const etag = rawEtag && !rawEtag.startsWith("W/") ? rawEtag : null;
  const lastModified = res.headers.get("last-modified");
  if (!etag && !lastModified) {
    throw sourceChanged(
      `${url} sends neither a strong ETag nor Last-Modified: its reads cannot be pinned to one version, so ` +
        `tiles could mix two versions of the file; serve it with one of them`,
      "source_unpinnable",
    );
  }
  // The version: size plus a short hash of the validators.
  const short = sha256Hex(`${etag ?? ""}|${lastModified ?? ""}`).slice(0, 12);
  return { url, size, etag, lastModified, version: `${size.toString(36)}-r${short}` };
}

const sourceChanged = (message: string, code = "source_changed") => new HttpError(409, code, message);

/**
 * 409 unless `res` answers for the pinned version: its validators (where sent) equal the head's, and a 206's
 * `Content-Range` is exactly the bytes asked for out of the pinned size.
 */
function checkPinned(res: Response, head: RemoteHead, offset: number, length: number) {
  const etag = res.headers.get("etag"), lastModified = res.headers.get("last-modified");
  if (
    (head.etag && etag && etag !== head.etag) ||
    (head.lastModified && lastModified && lastModified !== head.lastModified)
  ) {
    throw sourceChanged(`${head.url} changed while it was read (its validators differ); retry`);
  }
  if (res.status !== 206) return;
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get("content-range") ?? "");
  if (!m) throw badGateway(`${head.url} answered a range without a valid Content-Range`);
  if (m[3] !== "*" && Number(m[3]) !== head.size) {
    throw sourceChanged(`${head.url} changed while it was read (${m[3]} bytes, was ${head.size}); retry`);
  }
  const end = Math.min(offset + length, head.size) - 1;
  if (Number(m[1]) !== offset || Number(m[2]) !== end) {
    throw badGateway(`${head.url} answered bytes ${m[1]}-${m[2]} for ${offset}-${end}`);
  }
}

/** Reads `length` bytes at `offset` of a remote file, pinned to its ETag when it has one. */
export async function readRemoteRange(
  head: RemoteHead,
  offset: number,
  length: number,
  policy: RemotePolicy,
): Promise<Uint8Array> {
  const headers: Record<string, string> = { Range: `bytes=${offset}-${offset + length - 1}` };
  // Pinned: a changed file is 412 (If-Match, If-Unmodified-Since) or a whole 200 (If-Range), never other bytes.
  if (head.etag) headers["If-Match"] = head.etag;
  else if (head.lastModified) headers["If-Unmodified-Since"] = head.lastModified;
  const validator = head.etag ?? head.lastModified;
  if (validator) headers["If-Range"] = validator;
  const res = await guardedFetch(head.url, { headers }, policy);
  const whole = offset === 0 && length >= head.size;
  try {
    if (res.status === 206 || (res.ok && whole)) checkPinned(res, head, offset, length);
  } catch (err) {
    await res.body?.cancel();
    throw err;
  }
  if (res.status === 206) return await exactBody(res, head, Math.min(offset + length, head.size) - offset, policy);
  if (res.ok && whole) return await exactBody(res, head, head.size, policy);
  await res.body?.cancel();
  if (res.ok && validator) {
    // A whole answer to a pinned range: the file changed (If-Range), or the server ignores ranges.
    throw sourceChanged(`${head.url} answered the whole file to a pinned range: it changed, or ignores ranges`);
  }
  throw res.ok ? badGateway(`${head.url} does not serve byte ranges`) : upstreamError(res, head.url);
}

/** The body, which must be exactly `n` bytes (a shorter or longer one is not the pinned bytes). */
async function exactBody(res: Response, head: RemoteHead, n: number, policy: RemotePolicy): Promise<Uint8Array> {
  let body: Uint8Array;
  try {
    body = await boundedBody(res, Math.min(policy.maxBytes, n));
  } catch (err) {
    // Past the range (not past the size limit): the origin's fault, not a too-large source.
    if (err instanceof HttpError && err.status === 413 && n < policy.maxBytes) {
      throw badGateway(`${head.url} sent more than the ${n} bytes of its range`);
    }
    throw err;
  }
  if (body.length !== n) throw badGateway(`${head.url} sent ${body.length} bytes for a range of ${n}`);
  return body;
}

/**
 * HTTP/1.1 for the requests the connection guard's front hands to the app in-process (security/conn_guard.ts
 * `Front.serve`) instead of relaying them to `Deno.serve` over loopback: the `Request` the HTTP server would
 * have made from the head (its `url` the same string, or the head is relayed), and the app's `Response`
 * written as the HTTP server writes it — status line and canonical reason, the app's headers, then
 * `content-length` (a whole body: a static one, or a stream that ends at once) or `transfer-encoding:
 * chunked`, then `date`; no body and no length for 1xx, 204 and 304. Deno 2.9's server compresses nothing,
 * so neither does this.
 */

/** Canonical reason phrases (those hyper writes; an unknown status gets none, as there). */
const REASONS: Record<number, string> = {
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Payload Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  422: "Unprocessable Entity",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** Request targets whose URL the `URL` parser leaves as sent (no dot segments, `\`, `#` or bytes to escape). */
const PLAIN_TARGET = /^\/(?!.*(?:\/\.{1,2}(?:[/?]|$)|%2e|\\|#))[\x21-\x7e]*$/i;

/**
 * The `Request` the HTTP server would make of a plain keep-alive `GET` head (`target` and alternating header
 * names and values as sent), its work aborted by `signal` — or null where the server's might differ, so the
 * head is relayed: a target `new Request` would normalise (its `url` must be `http://{Host}{target}`, the
 * string `Deno.serve` gives), no `Host` or more than one, `Expect`, or a value `Headers` refuses.
 */
export function frontRequest(target: string, headers: string[], signal: AbortSignal): Request | null {
  if (!PLAIN_TARGET.test(target)) return null;
  const pairs: [string, string][] = [];
  let host: string | null = null;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    if (name.length === 4 && name.toLowerCase() === "host") {
      if (host !== null) return null;
      host = headers[i + 1];
    } else if (name.length === 6 && name.toLowerCase() === "expect") return null;
    pairs.push([name, headers[i + 1]]);
  }
  if (!host) return null;
  const url = `http://${host}${target}`;
  try {
    const req = new Request(url, { signal });
    if (req.url !== url) return null;
    const h = req.headers; // appended: cheaper than a `headers` init
    for (const [k, v] of pairs) h.append(k, v);
    return req;
  } catch {
    return null; // a Host or value the URL or Headers parser refuses: the HTTP server answers it
  }
}

const enc = new TextEncoder();
let dateSec = -1;
let dateBytes = new Uint8Array(0);

/** `date: …` (as the HTTP server writes it, to the second), the empty line that ends a head, as bytes. */
export function dateLine(): Uint8Array {
  const sec = Math.floor(Date.now() / 1000);
  if (sec !== dateSec) {
    dateSec = sec;
    dateBytes = enc.encode(`date: ${new Date(sec * 1000).toUTCString()}\r\n\r\n`);
  }
  return dateBytes;
}

/** `HTTP/1.1 {status} {reason}` and its line end, as the HTTP server writes it. */
export function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${REASONS[status] ?? ""}\r\n`;
}

/** A whole body is read into memory up to this size; past it (or without a length) it is streamed. */
const WHOLE_BYTES = 16 << 20;

/** Where a response's bytes go: each call's parts written in order (the guard's writes, under its deadline). */
export type WriteParts = (parts: Uint8Array[]) => Promise<void>;

/**
 * Writes `res` through `write` as HTTP/1.1. Returns false when the connection must close after it (the app
 * said `Connection: close`); throws when a write fails (the body's stream is cancelled first) or a stream
 * ends short of its `Content-Length` (the connection is then unusable).
 */
export async function writeResponse(res: Response, write: WriteParts): Promise<boolean> {
  const { status } = res;
  let head = statusLine(status), length = -1, keepAlive = true;
  // forEach: the same sorted, combined list as iterating the headers, at a tenth of the cost.
  res.headers.forEach((v, k) => {
    if (k === "content-length") length = Number(v);
    else if (k !== "transfer-encoding") head += `${k}: ${v}\r\n`;
    if (k === "connection" && /\bclose\b/i.test(v)) keepAlive = false;
  });
  if (status < 200 || status === 204 || status === 304) {
    await res.body?.cancel();
    await write([enc.encode(head), dateLine()]);
    return keepAlive;
  }
  // A whole body of known length is taken as bytes (`res.body` would make it a stream first).
  if (length >= 0 && length <= WHOLE_BYTES) {
    const body = await res.bytes();
    if (body.length !== length) throw new Error("the body is not as long as its Content-Length");
    await write([enc.encode(`${head}content-length: ${length}\r\n`), dateLine(), body]);
    return keepAlive;
  }
  if (res.body === null) {
    await write([enc.encode(`${head}content-length: 0\r\n`), dateLine()]);
    return keepAlive;
  }
  const reader = res.body.getReader();
  try {
    const first = await reader.read();
    // A static body's stream has ended already; a producer's next chunk is not waited for before the head.
    const next = first.done ? Promise.resolve(first) : reader.read();
    const second = await Promise.race([next, new Promise<null>((r) => setTimeout(() => r(null), 0))]);
    if (second?.done && length < 0) {
      // A body that was whole after all (a static one): framed by its length, as the HTTP server does.
      const body = first.value ?? new Uint8Array(0);
      await write([enc.encode(`${head}content-length: ${body.length}\r\n`), dateLine(), body]);
      return keepAlive;
    }
    const chunked = length < 0;
    await write([
      enc.encode(chunked ? `${head}transfer-encoding: chunked\r\n` : `${head}content-length: ${length}\r\n`),
      dateLine(),
    ]);
    let sent = 0;
    const send = (b: Uint8Array) => {
      sent += b.length;
      if (!chunked && sent > length) throw new Error("the body is longer than its Content-Length");
      return chunked ? write([enc.encode(`${b.length.toString(16)}\r\n`), b, CRLF]) : write([b]);
    };
    if (!first.done && first.value.length) await send(first.value);
    for (let r = await next; !r.done; r = await reader.read()) if (r.value.length) await send(r.value);
    if (chunked) await write([LAST_CHUNK]);
    else if (sent !== length) throw new Error("the body ended before its Content-Length");
    return keepAlive;
  } catch (err) {
    await reader.cancel().catch(() => {});
    throw err;
  }
}

const CRLF = enc.encode("\r\n");
const LAST_CHUNK = enc.encode("0\r\n\r\n");

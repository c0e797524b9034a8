/**
 * Raw HTTP/1.1 for the front's tests: requests written as bytes on one connection, whole responses
 * (`Content-Length` or chunked) split off what comes back, and heads compared without what differs per answer.
 */

const enc = new TextEncoder();

/** Reads from `conn` until `done(text)` says the bytes so far are whole (latin-1), or it closes. */
export async function readUntil(conn: Deno.Conn, done: (b: Uint8Array) => boolean): Promise<Uint8Array> {
  let buf = new Uint8Array(0);
  const chunk = new Uint8Array(65536);
  const deadline = setTimeout(() => conn.close(), 20_000); // only catches a hang
  try {
    while (!done(buf)) {
      const n = await conn.read(chunk).catch(() => null);
      if (n === null) break;
      const next = new Uint8Array(buf.length + n);
      next.set(buf);
      next.set(chunk.subarray(0, n), buf.length);
      buf = next;
    }
  } finally {
    clearTimeout(deadline);
  }
  return buf;
}

/** The whole responses (content-length or chunked) at the start of `b`, up to a partial one; `bodiless[i]`: the i-th answers a HEAD. */
export function responses(b: Uint8Array, bodiless: boolean[] = []): { head: string; body: Uint8Array }[] {
  const out: { head: string; body: Uint8Array }[] = [];
  const text = new TextDecoder("latin1").decode(b);
  for (let at = 0; at < b.length;) {
    const end = text.indexOf("\r\n\r\n", at);
    if (end < 0) return out;
    const head = text.slice(at, end), status = Number(head.slice(9, 12));
    let from = end + 4;
    if (/\r\ntransfer-encoding: chunked/i.test(head)) {
      const parts: number[] = [];
      for (;;) {
        const line = text.indexOf("\r\n", from);
        if (line < 0) return out;
        const size = parseInt(text.slice(from, line), 16);
        if (line + 2 + size + 2 > b.length) return out;
        for (let i = 0; i < size; i++) parts.push(b[line + 2 + i]);
        from = line + 2 + size + 2;
        if (size === 0) break;
      }
      out.push({ head, body: new Uint8Array(parts) });
    } else {
      const len = bodiless[out.length] || status === 304 || status === 204
        ? 0
        : Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (from + len > b.length) return out;
      out.push({ head, body: b.slice(from, from + len) });
      from += len;
    }
    at = from;
  }
  return out;
}

/** Sends `raw` on a new connection to `port` and reads `count` whole responses. */
export async function exchange(port: number, raw: string, count: number, bodiless: boolean[] = []) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(enc.encode(raw));
    const bytes = await readUntil(conn, (b) => responses(b, bodiless).length >= count);
    return responses(bytes, bodiless);
  } finally {
    conn.close();
  }
}

/**
 * A head's lines but `date`, the per-request timing and whether the tile cache had it, lower-cased and
 * sorted (header order may differ).
 */
export const stable = (head: string) =>
  head.split("\r\n").filter((l) => !/^(date|server-timing|x-cache):/i.test(l)).map((l) => l.toLowerCase()).sort();

/** A GET head with a Host and a User-Agent. */
export const get = (path: string, host = "127.0.0.1", extra = "") =>
  `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: serve-test\r\n${extra}\r\n`;

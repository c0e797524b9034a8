/**
 * Request framing for the connection guard (security/conn_guard.ts): where each request head a client sends
 * begins and ends, and how long a body follows, by HTTP/1.1 framing (heads end at an empty line; a
 * `Content-Length` body is skipped; a chunked request body makes the connection opaque). The guard needs it
 * for its header deadline and to answer a head itself (its front, service/fast_hits.ts) without relaying it.
 */

import { Llhttp } from "./llhttp.ts";

/** The largest request head accepted (as Deno's HTTP server: past it the connection is closed). */
const MAX_HEAD_BYTES = 64 * 1024;

/**
 * A head that ended in the bytes just fed: `start`/`end` are its offsets in them (`start` is -1 when it began
 * in an earlier read), `method` its method as sent, `body` whether a body follows it (or the stream is opaque
 * from there on).
 */
export type OnHead = (start: number, end: number, method: string, body: boolean) => void;

/** Tracks request heads in the bytes a client sends: scans for line feeds, copies only a head split across reads. */
export class RequestFraming {
  /** "idle": between requests; "head": inside a head; "body": skipping a body; "opaque": not tracked. */
  state: "idle" | "head" | "body" | "opaque" = "idle";
  /** The parts of a head begun in earlier reads (copies), their length, and its last two bytes. */
  #parts: Uint8Array[] = [];
  #headLen = 0;
  #last1 = -1;
  #last2 = -1;
  #bodyLeft = 0;

  /**
   * Feeds client bytes; returns how many request heads ended in them, and tells `onHead` of each.
   * Throws past `MAX_HEAD_BYTES`.
   */
  feed(b: Uint8Array, onHead?: OnHead): number {
    let heads = 0;
    for (let i = 0; i < b.length && this.state !== "opaque";) {
      if (this.state === "body") {
        const n = Math.min(this.#bodyLeft, b.length - i);
        this.#bodyLeft -= n;
        i += n;
        if (this.#bodyLeft === 0) this.state = "idle";
        continue;
      }
      let start = -1;
      if (this.state === "idle") {
        while (i < b.length && (b[i] === 13 || b[i] === 10)) i++; // stray CRLF between requests
        if (i === b.length) break;
        this.state = "head";
        this.#parts = [];
        this.#headLen = 0;
        this.#last1 = this.#last2 = -1;
        start = i;
      }
      // Inside a head from i: it ends at a line feed after a line feed (or CR LF).
      const at = (k: number) => k >= i ? b[k] : k === i - 1 ? this.#last1 : this.#last2;
      let end = -1;
      for (let j = b.indexOf(10, i); j !== -1; j = b.indexOf(10, j + 1)) {
        const p1 = at(j - 1);
        if (p1 === 10 || (p1 === 13 && at(j - 2) === 10)) {
          end = j + 1;
          break;
        }
      }
      const stop = end === -1 ? b.length : end;
      this.#headLen += stop - i;
      if (this.#headLen > MAX_HEAD_BYTES) throw new Error("request head too large");
      if (end === -1) {
        this.#last2 = b.length - i >= 2 ? b[b.length - 2] : this.#last1;
        this.#last1 = b[b.length - 1];
        this.#parts.push(b.slice(i));
        return heads;
      }
      const method = this.#endHead(this.#parts.length ? [...this.#parts, b.subarray(i, end)] : [b.subarray(i, end)]);
      heads++;
      onHead?.(start, end, method, (this.state as string) !== "idle");
      i = end;
    }
    return heads;
  }

  /** Reads the framing of a complete head; returns its method. */
  #endHead(parts: Uint8Array[]): string {
    this.#parts = [];
    // The first 8 KiB of the head as latin-1 text: where Content-Length or Transfer-Encoding would be.
    let text = "";
    for (const p of parts) {
      if (text.length >= 8192) break;
      text += String.fromCharCode.apply(null, p.subarray(0, 8192 - text.length) as unknown as number[]);
    }
    const method = text.slice(0, Math.max(0, text.indexOf(" ")));
    text = text.toLowerCase();
    if (/\r?\ntransfer-encoding:/.test(text)) {
      this.state = "opaque";
      return method;
    }
    const len = /\r?\ncontent-length:\s*(\d+)/.exec(text);
    this.#bodyLeft = len ? Number(len[1]) : 0;
    this.state = this.#bodyLeft > 0 ? "body" : "idle";
    return method;
  }
}

/** What llhttp read of one complete head (`parseHead`). */
export interface ParsedHead {
  /** The request target as sent (path and query). */
  target: string;
  /** Header names and values, alternating, as sent. */
  headers: string[];
}

let parser: Llhttp | undefined;
let parsed: ParsedHead | null = null;
let complete = false, clean = false, many = false;

/** The one parser of the thread, its callbacks set once. */
function makeParser(): Llhttp {
  const p = new Llhttp();
  p[Llhttp.kOnHeaders] = () => void (many = true);
  p[Llhttp.kOnHeadersComplete] = (
    major: number,
    minor: number,
    headers: string[],
    method: number,
    url: string,
    _status: unknown,
    _message: unknown,
    upgrade: boolean,
    keepAlive: boolean,
  ) => {
    // llhttp's method index 1 is GET.
    if (major === 1 && minor === 1 && method === 1 && !upgrade && keepAlive && !many) parsed = { target: url, headers };
    return 0;
  };
  p[Llhttp.kOnMessageComplete] = () => void (complete = true);
  return p;
}

/**
 * The target and headers of one complete `GET` head with no body, read by llhttp — or null when it is not
 * a plain HTTP/1.1 keep-alive `GET` (another version or method, `Connection: close`, an upgrade, more headers
 * than llhttp reports at once, anything malformed): such a head is relayed to the HTTP server as it is.
 */
export function parseHead(head: Uint8Array): ParsedHead | null {
  parser ??= makeParser();
  parsed = null;
  complete = many = false;
  // The parser is reused as it stands after a whole keep-alive GET (ready for the next message); after
  // anything else it starts anew.
  if (!clean) parser.initialize(Llhttp.REQUEST, {});
  const r = parser.execute(head);
  clean = r === head.length && complete && parsed !== null;
  return clean ? parsed : null;
}

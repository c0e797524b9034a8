/**
 * Which relayed requests of a connection still await the end of their response: the connection guard's
 * front (security/conn_guard.ts) may answer a request itself only when none does, so answers stay in request
 * order. Response heads are read by the runtime's own HTTP/1.1 parser (llhttp, as `node:_http_common` ships
 * it in Deno): status, bodiless 204/304 and HEAD answers, interim 1xx. A body of known length is counted past
 * here (llhttp walking a tile's bytes in JS cost 9 µs a response under load); a response without one
 * (chunked, or ended by the close) has llhttp frame every byte of the connection from then on. Anything
 * llhttp cannot frame (a parse error, a protocol switch) makes the connection untracked for good: relayed only.
 */
import { Llhttp } from "./llhttp.ts";

/** The longest response head looked for (the HTTP server's are far shorter). */
const MAX_HEAD = 64 * 1024;

/** The responses owed on one relayed connection, by the upstream bytes seen. */
export class ResponseTracking {
  /** Methods of the relayed requests whose final response has not ended, oldest first. */
  #owed: string[] = [];
  #parser: Llhttp | undefined;
  #status = 0;
  /** A head begun in earlier reads. */
  #head: Uint8Array | undefined;
  /** Body bytes of the current response still to pass (its Content-Length), and the length just read. */
  #skip = 0;
  #length = 0;
  /** llhttp frames every byte from here on (a response without a length was seen). */
  #whole = false;
  /** The stream could not be framed: no request may be answered out of band on this connection again. */
  broken = false;

  /** Notes a request relayed upstream (its method: a HEAD answer has no body whatever its length says). */
  relayed(method: string): void {
    this.#owed.push(method);
  }

  /** Whether every relayed request has had its whole response. */
  get idle(): boolean {
    return !this.broken && this.#owed.length === 0;
  }

  /** Feeds the bytes the upstream sent. */
  feed(b: Uint8Array): void {
    let cur = b, at = 0;
    if (this.#head) { // a head split across reads: look at it whole
      cur = new Uint8Array(this.#head.length + b.length);
      cur.set(this.#head);
      cur.set(b, this.#head.length);
      this.#head = undefined;
    }
    while (at < cur.length && !this.broken) {
      if (this.#whole) return this.#execute(at ? cur.subarray(at) : cur);
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, cur.length - at);
        this.#skip -= n;
        at += n;
        if (this.#skip === 0) this.#owed.shift();
        continue;
      }
      const end = headEnd(cur, at);
      if (end < 0) {
        if (cur.length - at > MAX_HEAD) this.broken = true;
        else this.#head = cur.slice(at);
        return;
      }
      this.#execute(cur.subarray(at, end));
      at = end;
    }
  }

  #execute(b: Uint8Array) {
    if (this.broken) return;
    const r = (this.#parser ??= this.#make()).execute(b);
    if (r instanceof Error) this.broken = true;
  }

  #make(): Llhttp {
    const p = new Llhttp();
    p.initialize(Llhttp.RESPONSE, {});
    // Returning 1 tells llhttp the message has no body: a HEAD's answer, or one whose body is counted here.
    p[Llhttp.kOnHeadersComplete] = (
      _major: number,
      _minor: number,
      headers: string[],
      _method: unknown,
      _url: unknown,
      status: number,
    ) => {
      this.#status = status;
      this.#length = 0;
      if (status === 101) this.broken = true;
      if (this.#owed[0] === "HEAD") return 1;
      if (this.#whole || status < 200 || status === 204 || status === 304) return 0;
      const length = lengthOf(headers);
      if (length === null) { // chunked or to the close: llhttp frames it, and all that follows
        this.#whole = true;
        return 0;
      }
      this.#length = length;
      return 1;
    };
    p[Llhttp.kOnMessageComplete] = () => {
      // An interim answer (100 Continue) is followed by the final one.
      if (this.#status < 200) return;
      if (this.#length > 0) this.#skip = this.#length; // ends once its body has passed
      else this.#owed.shift();
      this.#length = 0;
    };
    // No body callback: where llhttp frames a body it then skips its bytes without handing slices to JS.
    return p;
  }
}

/** The offset just past the first CR LF CR LF in `b` from `from`, or -1. */
function headEnd(b: Uint8Array, from: number): number {
  for (let i = b.indexOf(13, from); i !== -1 && i + 3 < b.length; i = b.indexOf(13, i + 1)) {
    if (b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i + 4;
  }
  return -1;
}

/** The Content-Length of a head's headers (alternating names and values), or null when the body is not sized by one. */
function lengthOf(headers: string[]): number | null {
  let length: number | null = null;
  for (let i = 0; i < headers.length; i += 2) {
    const k = headers[i].toLowerCase();
    if (k === "transfer-encoding") return null;
    if (k === "content-length") {
      if (!/^\d+$/.test(headers[i + 1]) || (length !== null && length !== Number(headers[i + 1]))) return null;
      length = Number(headers[i + 1]);
    }
  }
  return length;
}

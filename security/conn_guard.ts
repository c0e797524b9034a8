/**
 * Connection deadlines in front of `Deno.serve`, which has none (denoland/deno#3515): a TCP front that
 * relays each connection to the HTTP server on loopback and closes it when the client
 * - takes longer than `headerMs` to send a request head once it started one (or to start the first):
 *   slowloris, dripping a header byte every few seconds, holds nothing for long;
 * - does not take a response chunk within `writeMs` (a client that never reads its 64 MiB body);
 * - leaves a keep-alive connection without a byte either way for `idleMs`.
 * Request heads are found by HTTP/1.1 framing of what the client sends (heads end at an empty line;
 * a `Content-Length` body is skipped; a chunked request body makes the connection opaque: idle and write
 * deadlines only). Closing the connection makes the HTTP server cancel the response and its work.
 */

/** The deadlines, in milliseconds. */
export interface ConnDeadlines {
  headerMs: number;
  writeMs: number;
  idleMs: number;
}

/** Counters of connections closed by each deadline (for /metrics and tests). */
export interface ConnGuardStats {
  accepted: number;
  open: number;
  closedHeader: number;
  closedWrite: number;
  closedIdle: number;
}

/** A running guard: its address, its counters, and how to stop it. */
export interface ConnGuard {
  readonly addr: Deno.NetAddr;
  readonly stats: ConnGuardStats;
  /** Stops accepting connections (those open go on). */
  close(): void;
  /** Resolves when every relayed connection has ended (a drain: after the HTTP server's shutdown). */
  settled(): Promise<void>;
  /** The client behind a relay, by the address the HTTP server sees it from (undefined: not a relay's). */
  clientOf(relay: Deno.NetAddr): Deno.NetAddr | undefined;
}

/** The largest request head accepted (as Deno's HTTP server: past it the connection is closed). */
const MAX_HEAD_BYTES = 64 * 1024;

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

  /** Feeds client bytes; returns how many request heads ended in them. Throws past `MAX_HEAD_BYTES`. */
  feed(b: Uint8Array): number {
    let heads = 0;
    for (let i = 0; i < b.length && this.state !== "opaque";) {
      if (this.state === "body") {
        const n = Math.min(this.#bodyLeft, b.length - i);
        this.#bodyLeft -= n;
        i += n;
        if (this.#bodyLeft === 0) this.state = "idle";
        continue;
      }
      if (this.state === "idle") {
        while (i < b.length && (b[i] === 13 || b[i] === 10)) i++; // stray CRLF between requests
        if (i === b.length) break;
        this.state = "head";
        this.#parts = [];
        this.#headLen = 0;
        this.#last1 = this.#last2 = -1;
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
      this.#endHead(this.#parts.length ? [...this.#parts, b.subarray(i, end)] : [b.subarray(i, end)]);
      heads++;
      i = end;
    }
    return heads;
  }

  #endHead(parts: Uint8Array[]) {
    this.#parts = [];
    // The first 8 KiB of the head as latin-1 text: where Content-Length or Transfer-Encoding would be.
    let text = "";
    for (const p of parts) {
      if (text.length >= 8192) break;
      text += String.fromCharCode.apply(null, p.subarray(0, 8192 - text.length) as unknown as number[]);
    }
    text = text.toLowerCase();
    if (/\r?\ntransfer-encoding:/.test(text)) {
      this.state = "opaque";
      return;
    }
    const len = /\r?\ncontent-length:\s*(\d+)/.exec(text);
    this.#bodyLeft = len ? Number(len[1]) : 0;
    this.state = this.#bodyLeft > 0 ? "body" : "idle";
  }
}

/** Relays one client connection to `upstream` under the deadlines. */
async function relay(
  client: Deno.TcpConn,
  upstreamAddr: Deno.NetAddr,
  d: ConnDeadlines,
  stats: ConnGuardStats,
  clients: Map<number, Deno.NetAddr>,
) {
  let upstream: Deno.TcpConn;
  try {
    upstream = await Deno.connect({ hostname: upstreamAddr.hostname, port: upstreamAddr.port });
  } catch {
    client.close();
    return;
  }
  // The HTTP server sees this relay's own loopback port: it names the client behind it (`clientOf`).
  const relayPort = (upstream.localAddr as Deno.NetAddr).port;
  clients.set(relayPort, client.remoteAddr as Deno.NetAddr);
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  const framing = new RequestFraming();
  // A new connection owes its first head within headerMs, as does a head once begun.
  let awaitingHead = true, headSince = performance.now(), lastByte = headSince, writingSince = 0, closed = false;
  const close = (why?: "closedHeader" | "closedWrite" | "closedIdle") => {
    if (closed) return;
    closed = true;
    if (why) stats[why]++;
    clearInterval(timer);
    for (const c of [client, upstream]) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
  };
  const timer = setInterval(() => {
    const now = performance.now();
    if (awaitingHead && now - headSince > d.headerMs) close("closedHeader");
    else if (writingSince && now - writingSince > d.writeMs) close("closedWrite");
    else if (!awaitingHead && !writingSince && now - lastByte > d.idleMs) close("closedIdle");
  }, Math.max(20, Math.min(d.headerMs, d.writeMs, d.idleMs) / 4));
  const fromClient = async () => {
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await client.read(buf);
      if (n === null) break;
      lastByte = performance.now();
      const before = framing.state;
      framing.feed(buf.subarray(0, n));
      if (framing.state === "head" && before !== "head") headSince = lastByte;
      awaitingHead = framing.state === "head";
      for (let at = 0; at < n;) at += await upstream.write(buf.subarray(at, n));
    }
    // The client finished sending (a half-close): the response may still come.
    await upstream.closeWrite();
  };
  const toClient = async () => {
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await upstream.read(buf);
      if (n === null) break;
      writingSince = performance.now();
      for (let at = 0; at < n;) at += await client.write(buf.subarray(at, n));
      writingSince = 0;
      lastByte = performance.now();
    }
  };
  const up = fromClient().catch(() => close());
  await toClient().catch(() => {});
  close();
  await up;
  clients.delete(relayPort);
}

/** Listens on `hostname:port` and relays every connection to `upstream` under `deadlines`. */
export function guardConnections(
  listen: { hostname: string; port: number },
  upstream: Deno.NetAddr,
  deadlines: ConnDeadlines,
): ConnGuard {
  const listener = Deno.listen({ hostname: listen.hostname, port: listen.port });
  const stats: ConnGuardStats = { accepted: 0, open: 0, closedHeader: 0, closedWrite: 0, closedIdle: 0 };
  const clients = new Map<number, Deno.NetAddr>();
  (async () => {
    for await (const conn of listener) {
      stats.accepted++;
      stats.open++;
      relay(conn, upstream, deadlines, stats, clients).finally(() => stats.open--);
    }
  })().catch(() => {/* the listener was closed */});
  return {
    addr: listener.addr as Deno.NetAddr,
    stats,
    clientOf: (relay) => relay.hostname === upstream.hostname ? clients.get(relay.port) : undefined,
    close: () => listener.close(),
    settled: async () => {
      while (stats.open > 0) await new Promise((r) => setTimeout(r, 20));
    },
  };
}

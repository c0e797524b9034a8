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
 *
 * The front (`front`, optional): a complete plain `GET` head that arrives while the connection owes no
 * relayed response is offered to it first; an answer it gives (a repeated tile from the memory cache,
 * `/health`: service/fast_hits.ts) is written to the client here, under the same write deadline, and the
 * head is never relayed — no second connection's bytes, no HTTP server work. One it does not answer may be
 * served in-process (`serve`: the app's response, written by security/front_http.ts), one at a time per
 * connection. Responses relayed are framed (security/response_framing.ts) so a front answer is never written
 * before an earlier request's.
 */
import { type OnHead, parseHead, RequestFraming } from "./request_framing.ts";
import { ResponseTracking } from "./response_framing.ts";
import { writeResponse } from "./front_http.ts";

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

/** A request the front is offered: its target and headers as sent, and the client's address. */
export interface FrontRequest {
  target: string;
  /** Header names and values, alternating, as sent. */
  headers: string[];
  client: Deno.NetAddr;
}

/** What answers at the front. */
export interface Front {
  /**
   * Whether a request for `target` (as the request line names it) may be answered here: a hint, so a head
   * nobody remembers is relayed without being parsed (a wrong "no" only relays it).
   */
  wants(target: string): boolean;
  /** The whole HTTP/1.1 response's bytes in parts, or null to relay the request. */
  answer(req: FrontRequest): Uint8Array[] | null;
  /**
   * The app's answer to a request `answer` left, made in-process and written here (security/front_http.ts),
   * or null to relay it. `signal` aborts the work when the connection ends before the answer is written.
   */
  serve?(req: FrontRequest, signal: AbortSignal): Promise<Response> | null;
}

/** The request target of the request line at `b[start]` (`GET /a?b HTTP/1.1`: `/a?b`), as latin-1 text. */
function targetOf(b: Uint8Array, start: number, end: number): string {
  const from = start + 4, to = b.indexOf(32, from);
  if (to < 0 || to >= end || to - from > 8192) return "";
  return String.fromCharCode.apply(null, b.subarray(from, to) as unknown as number[]);
}

/** Front answers up to this size are written from pooled buffers (a fresh one costs more than the copy). */
const POOLED_BYTES = 64 * 1024;
const pool: Uint8Array[] = [];

/** What every relay shares: deadlines, counters, the client table, the front and whether it is on. */
interface RelayShared {
  d: ConnDeadlines;
  stats: ConnGuardStats;
  clients: Map<number, Deno.NetAddr>;
  front?: Front;
  /** False once the guard is closed (a drain): every request goes to the HTTP server, which ends them. */
  open: boolean;
}

/** Relays one client connection to `upstream` under the deadlines, answering what the front can. */
async function relay(client: Deno.TcpConn, upstreamAddr: Deno.NetAddr, g: RelayShared) {
  const { d, stats, clients } = g;
  let upstream: Deno.TcpConn;
  try {
    upstream = await Deno.connect({ hostname: upstreamAddr.hostname, port: upstreamAddr.port });
  } catch {
    client.close();
    return;
  }
  // The HTTP server sees this relay's own loopback port: it names the client behind it (`clientOf`).
  const relayPort = (upstream.localAddr as Deno.NetAddr).port;
  const peer = client.remoteAddr as Deno.NetAddr;
  clients.set(relayPort, peer);
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  const framing = new RequestFraming();
  const owed = g.front ? new ResponseTracking() : undefined;
  // A new connection owes its first head within headerMs, as does a head once begun. (Date.now(): the
  // deadlines need milliseconds, and it costs a tenth of performance.now() on the hot path.)
  let awaitingHead = true, headSince = Date.now(), lastByte = headSince, writingSince = 0, closed = false;
  const close = (why?: "closedHeader" | "closedWrite" | "closedIdle") => {
    if (closed) return;
    closed = true;
    if (why) stats[why]++;
    clearInterval(timer);
    serving?.abort();
    for (const c of [client, upstream]) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
  };
  const timer = setInterval(() => {
    const now = Date.now();
    if (awaitingHead && now - headSince > d.headerMs) close("closedHeader");
    else if (writingSince && now - writingSince > d.writeMs) close("closedWrite");
    else if (!awaitingHead && !writingSince && now - lastByte > d.idleMs) close("closedIdle");
  }, Math.max(20, Math.min(d.headerMs, d.writeMs, d.idleMs) / 4));
  const toClientAll = async (b: Uint8Array) => {
    writingSince = Date.now();
    for (let at = 0; at < b.length;) at += await client.write(b.subarray(at));
    writingSince = 0;
    lastByte = Date.now();
  };
  // One write of an answer's parts, through a pooled buffer when it fits one.
  // A larger answer is written part by part: a copy of a large body into one buffer costs more than a write.
  const answerClient = async (parts: Uint8Array[]) => {
    let size = 0;
    for (const p of parts) size += p.length;
    if (size > POOLED_BYTES) {
      for (const p of parts) await toClientAll(p);
      return;
    }
    const buf = pool.pop() ?? new Uint8Array(POOLED_BYTES);
    for (let at = 0, i = 0; i < parts.length; at += parts[i++].length) buf.set(parts[i], at);
    await toClientAll(buf.subarray(0, size));
    if (pool.length < 64) pool.push(buf);
  };
  // Heads the front answered in the bytes just read, in order: [start, end, the answer's bytes, or the app's
  // response being made in-process].
  const answered: [number, number, Uint8Array[] | Promise<Response>][] = [];
  // The work of the in-process answer not yet written (one at a time: a pipelined head behind it is relayed).
  let serving: AbortController | undefined;
  let chunk: Uint8Array = new Uint8Array(0);
  const onHead: OnHead = (start, end, method, body) => {
    const f = g.front!;
    if (g.open && start >= 0 && !body && method === "GET" && owed!.idle) {
      // A head the front may serve is parsed anyway (its target from there); else only one it may answer.
      const parsing = !!f.serve && !serving;
      let wanted = !parsing && f.wants(targetOf(chunk, start, end));
      const head = parsing || wanted ? parseHead(chunk.subarray(start, end)) : null;
      if (parsing && head) wanted = f.wants(head.target);
      const req = head && { target: head.target, headers: head.headers, client: peer };
      const answer = req && wanted && f.answer(req);
      if (answer) return void answered.push([start, end, answer]);
      if (req && f.serve && !serving) {
        const work = new AbortController();
        const made = f.serve(req, work.signal);
        if (made) {
          serving = work;
          return void answered.push([start, end, made]);
        }
      }
    }
    owed!.relayed(method);
  };
  // Writes the app's response made in-process; the connection closes after it when the app says so.
  const writeServed = async (made: Promise<Response>) => {
    const res = await made;
    if (closed) return void await res.body?.cancel();
    const keepAlive = await writeResponse(res, answerClient);
    serving = undefined;
    if (!keepAlive) close();
  };
  // One read's bytes: the framing fed (heads found, the front asked), then relayed or answered in order.
  const take = async (bytes: Uint8Array) => {
    const before = framing.state;
    chunk = bytes;
    answered.length = 0;
    framing.feed(bytes, owed ? onHead : undefined);
    if (framing.state === "head" && before !== "head") headSince = Date.now();
    awaitingHead = framing.state === "head";
    const parts = answered.length ? answered.splice(0) : answered;
    // An answer made in-process: the client is read again meanwhile, into the same buffer; these bytes are kept.
    if (serving) bytes = bytes.slice();
    let from = 0;
    for (const [start, end, answer] of parts) {
      for (let at = from; at < start;) at += await upstream.write(bytes.subarray(at, start));
      await (answer instanceof Promise ? writeServed(answer) : answerClient(answer));
      from = end;
    }
    for (let at = from; at < bytes.length;) at += await upstream.write(bytes.subarray(at, bytes.length));
  };
  // The turns still to come behind an answer made in-process (undefined: none).
  let later: Promise<void> | undefined;
  const fromClient = async () => {
    const buf = new Uint8Array(16 * 1024); // request heads are small (a longer one spans reads)
    // While an answer is made in-process the client is still read (its going away aborts the work): what it
    // sends meanwhile waits its turn, copied, up to 256 KiB before reading pauses. A failed turn closes.
    let waiting = 0;
    const after = (p: Promise<void>) => {
      const mine: Promise<void> = later = p.then(() => void (later === mine && (later = undefined)), () => close());
    };
    for (;;) {
      const n = await client.read(buf);
      if (n === null) break;
      lastByte = Date.now();
      if (later) {
        const copy = buf.slice(0, n);
        waiting += n;
        after(later.then(() => {
          waiting -= n;
          return take(copy);
        }));
        if (waiting > 256 * 1024) await later;
        continue;
      }
      const taking = take(buf.subarray(0, n));
      if (!serving) {
        await taking;
        continue;
      }
      after(taking);
    }
    // The client finished sending. An answer still being made is for a client gone: the work stops and the
    // connection closes (as the HTTP server does with a half-closed one); a relayed response may still come.
    if (serving) return close();
    await later;
    await upstream.closeWrite();
  };
  const toClient = async () => {
    // 16 KiB while responses are small (an idle connection holds it), 64 KiB once one fills it.
    let buf = new Uint8Array(16 * 1024);
    for (;;) {
      const n = await upstream.read(buf);
      if (n === null) break;
      owed?.feed(buf.subarray(0, n));
      await toClientAll(buf.subarray(0, n));
      if (n === buf.length && n < 64 * 1024) buf = new Uint8Array(64 * 1024);
    }
  };
  const up = fromClient().catch(() => close());
  await toClient().catch(() => {});
  // The HTTP server closed its side (a drain): an answer made in-process is still written, then the end.
  await later;
  close();
  await up;
  clients.delete(relayPort);
}

/**
 * Listens on `hostname:port` and relays every connection to `upstream` under `deadlines`; `front` answers
 * what it can without the HTTP server.
 */
export function guardConnections(
  listen: { hostname: string; port: number },
  upstream: Deno.NetAddr,
  deadlines: ConnDeadlines,
  front?: Front,
): ConnGuard {
  const listener = Deno.listen({ hostname: listen.hostname, port: listen.port });
  const stats: ConnGuardStats = { accepted: 0, open: 0, closedHeader: 0, closedWrite: 0, closedIdle: 0 };
  const shared: RelayShared = { d: deadlines, stats, clients: new Map(), front, open: true };
  (async () => {
    for await (const conn of listener) {
      stats.accepted++;
      stats.open++;
      relay(conn, upstream, shared).finally(() => stats.open--);
    }
  })().catch(() => {/* the listener was closed */});
  return {
    addr: listener.addr as Deno.NetAddr,
    stats,
    clientOf: (relay) => relay.hostname === upstream.hostname ? shared.clients.get(relay.port) : undefined,
    close: () => {
      shared.open = false;
      listener.close();
    },
    settled: async () => {
      while (stats.open > 0) await new Promise((r) => setTimeout(r, 20));
    },
  };
}

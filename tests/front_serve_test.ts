/**
 * The guard's front serving the app in-process (`service.front.serve`, security/front_http.ts): a plain `GET`
 * no remembered tile answers is given to the app with the `Request` the HTTP server would make and written
 * as the HTTP server writes it — the same bytes as `Deno.serve` for the same request (date aside), in order
 * with relayed and front answers on one connection, its work aborted when the client goes, its streamed
 * body under the write deadline. The writer against `Deno.serve` itself, response by response.
 */
import { assert, assertEquals } from "./assert.ts";
import { startServer } from "./helpers.ts";
import { type ConnGuard, type Front, guardConnections } from "../security/conn_guard.ts";
import { dateLine, frontRequest, writeResponse } from "../security/front_http.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const enc = new TextEncoder();
const SAMPLES = new URL("../samples/", import.meta.url).pathname;

/** Reads from `conn` until `done(text)` says the bytes so far are whole (latin-1), or it closes. */
async function readUntil(conn: Deno.Conn, done: (b: Uint8Array) => boolean): Promise<Uint8Array> {
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

/** Splits whole responses (content-length or chunked) off `b`; `bodiless[i]`: the i-th answers a HEAD. */
function responses(b: Uint8Array, bodiless: boolean[] = []): { head: string; body: Uint8Array }[] | null {
  const out: { head: string; body: Uint8Array }[] = [];
  const text = new TextDecoder("latin1").decode(b);
  for (let at = 0; at < b.length;) {
    const end = text.indexOf("\r\n\r\n", at);
    if (end < 0) return null;
    const head = text.slice(at, end), status = Number(head.slice(9, 12));
    let from = end + 4;
    if (/\r\ntransfer-encoding: chunked/i.test(head)) {
      const parts: number[] = [];
      for (;;) {
        const line = text.indexOf("\r\n", from);
        if (line < 0) return null;
        const size = parseInt(text.slice(from, line), 16);
        if (line + 2 + size + 2 > b.length) return null;
        for (let i = 0; i < size; i++) parts.push(b[line + 2 + i]);
        from = line + 2 + size + 2;
        if (size === 0) break;
      }
      out.push({ head, body: new Uint8Array(parts) });
    } else {
      const len = bodiless[out.length] || status === 304 || status === 204
        ? 0
        : Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (from + len > b.length) return null;
      out.push({ head, body: b.slice(from, from + len) });
      from += len;
    }
    at = from;
  }
  return out;
}

/** Sends `raw` on a new connection to `port` and reads `count` whole responses. */
async function exchange(port: number, raw: string, count: number, bodiless: boolean[] = []) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(enc.encode(raw));
    const bytes = await readUntil(conn, (b) => (responses(b, bodiless)?.length ?? 0) >= count);
    return responses(bytes, bodiless) ?? [];
  } finally {
    conn.close();
  }
}

/**
 * A head's lines but `date`, the per-request timing and whether the tile cache had it, lower-cased and
 * sorted (header order may differ).
 */
const stable = (head: string) =>
  head.split("\r\n").filter((l) => !/^(date|server-timing|x-cache):/i.test(l)).map((l) => l.toLowerCase()).sort();

/** The app behind the guard with `service.front`, its in-process answers counted; the HTTP server beside it. */
async function withServe(
  fn: (port: number, s: ReturnType<typeof startServer>, served: () => number, guard: ConnGuard) => Promise<void>,
  wrap?: (f: Front) => Front,
) {
  const s = startServer({ IMAGES_DIR: SAMPLES, BACKEND: "workers", WORKERS: "2", MEMORY_CACHE_MB: "0" });
  const inner = new URL(s.url);
  let count = 0;
  const real = s.service.front;
  const counted: Front = {
    ...real,
    serve: (r, signal) => {
      const made = real.serve!(r, signal);
      if (made) count++;
      return made;
    },
  };
  const guard = guardConnections(
    { hostname: "127.0.0.1", port: 0 },
    { transport: "tcp", hostname: inner.hostname, port: Number(inner.port) },
    { headerMs: 10_000, writeMs: 1_500, idleMs: 60_000 },
    wrap ? wrap(counted) : counted,
  );
  try {
    await fn(guard.addr.port, s, () => count, guard);
  } finally {
    guard.close();
    await s.close();
    await guard.settled();
  }
}

const get = (path: string, host = "127.0.0.1", extra = "") =>
  `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: serve-test\r\n${extra}\r\n`;

Deno.test("in-process answers are the HTTP server's bytes (date and timing aside), not relayed", opts, async () => {
  await withServe(async (port, s, served) => {
    const innerPort = Number(new URL(s.url).port);
    const paths = [
      "/iiif/3/CMU-1-Small-Region.svs/0,0,256,256/256,/0/default.jpg", // a stored JPEG tile
      "/iiif/3/coffee.png/0,0,200,100/100,/0/gray.png",
      "/iiif/3/coffee.png/info.json",
      "/iiif/3/coffee.png/0,0,0,0/max/0/default.jpg", // a 400
      "/iiif/3/none.png/info.json", // a 404
      "/nowhere",
      "/images",
      "/health",
    ];
    for (const path of paths) {
      const before = served();
      const [ours] = await exchange(port, get(path), 1);
      const [theirs] = await exchange(innerPort, get(path), 1);
      assertEquals(served(), before + (path === "/health" ? 0 : 1), `${path}: in-process`);
      assertEquals(stable(ours.head), stable(theirs.head), path);
      assert(/\r\ndate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/.test(ours.head), ours.head);
      if (!path.endsWith("info.json") && path !== "/images") assertEquals(ours.body, theirs.body, path);
      else {assertEquals(
          JSON.parse(new TextDecoder().decode(ours.body)),
          JSON.parse(new TextDecoder().decode(theirs.body)),
        );}
    }
    // What the HTTP server must read: a Host it would refuse, dot segments, HEAD, a conditional request.
    const before = served();
    const tile = "/iiif/3/coffee.png/0,0,64,64/64,/0/default.jpg";
    const [etagged] = await exchange(port, get(tile), 1);
    const etag = /\r\netag: (.+)/i.exec(etagged.head)![1];
    const relayed = await exchange(
      port,
      get(tile, "a b") + get("/iiif/3/x/../coffee.png/info.json") + `HEAD ${tile} HTTP/1.1\r\nHost: h\r\n\r\n` +
        get(tile, "h", `If-None-Match: ${etag}\r\n`) + get(tile),
      5,
      [false, false, true, false, false],
    );
    const [dots] = await exchange(innerPort, get("/iiif/3/x/../coffee.png/info.json"), 1);
    assertEquals(relayed.map((r) => r.head.slice(9, 12)), ["400", dots.head.slice(9, 12), "200", "304", "200"]);
    assertEquals(served(), before + 1, "only the last (and the first, alone) in-process");
  });
});

Deno.test("in-process, relayed and front answers on one connection come back in request order", opts, async () => {
  await withServe(async (port) => {
    const kinds = [
      { req: get("/iiif/3/coffee.png/0,0,300,300/300,/0/default.png"), status: 200, has: /image\/png/ },
      { req: get("/iiif/3/coffee.png/0,0,64,64/64,/0/gray.jpg"), status: 200, has: /image\/jpeg/ },
      {
        req: `HEAD /iiif/3/coffee.png/info.json HTTP/1.1\r\nHost: h\r\n\r\n`,
        status: 200,
        has: /json/,
        bodiless: true,
      },
      { req: get("/health"), status: 200, has: /json/ },
      { req: get("/iiif/3/none.png/info.json"), status: 404, has: /json/ },
      { req: `POST /health HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n`, status: 404, has: /json/ },
    ];
    let seed = 7;
    const r = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let round = 0; round < 10; round++) {
      const chosen = Array.from({ length: 2 + Math.floor(r() * 6) }, () => kinds[Math.floor(r() * kinds.length)]);
      const bytes = enc.encode(chosen.map((k) => k.req).join(""));
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        for (let at = 0; at < bytes.length;) { // random pieces, with pauses: heads split across reads
          const n = 1 + Math.floor(r() * 120);
          await conn.write(bytes.subarray(at, at + n));
          at += n;
          if (r() < 0.3) await new Promise((res) => setTimeout(res, 2));
        }
        const bodiless = chosen.map((k) => !!k.bodiless);
        const got = responses(
          await readUntil(conn, (b) => (responses(b, bodiless)?.length ?? 0) >= chosen.length),
          bodiless,
        )!;
        assertEquals(got.length, chosen.length);
        got.forEach((g, i) => {
          assertEquals(Number(g.head.slice(9, 12)), chosen[i].status, `round ${round}, answer ${i}`);
          assert(chosen[i].has.test(g.head), `round ${round}, answer ${i}: ${g.head}`);
        });
      } finally {
        conn.close();
      }
    }
  });
});

Deno.test(
  "in-process work is aborted when its client goes; a streamed body that is not read meets the write deadline",
  opts,
  async () => {
    const signals: AbortSignal[] = [];
    await withServe(async (port, s, _served, guard) => {
      // The answer is held back 400 ms; the client leaves meanwhile.
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(enc.encode(get("/iiif/3/coffee.png/0,0,64,64/64,/0/default.jpg")));
      for (let i = 0; i < 200 && !signals.length; i++) await new Promise((r) => setTimeout(r, 10));
      conn.close();
      for (let i = 0; i < 200 && !signals[0]?.aborted; i++) await new Promise((r) => setTimeout(r, 10));
      assert(signals[0]?.aborted, "the work of a client gone is aborted");
      // A 48 MB export (12 MB npy patches, a streamed body) a client never reads: closed at the write deadline,
      // the export's work ended. 60 s only catches a hang.
      const before = s.service.context.backend.pending;
      const lazy = await Deno.connect({ hostname: "127.0.0.1", port });
      await lazy.write(enc.encode(get("/images/CMU-1-Small-Region.svs/patches.tar?size=2048&min=0&format=npy")));
      const t0 = performance.now();
      while (guard.stats.closedWrite === 0 && performance.now() - t0 < 60_000) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assertEquals(guard.stats.closedWrite, 1, "closed as a client that does not read");
      await new Promise((r) => setTimeout(r, 1000));
      assert(s.service.context.backend.pending <= before, "no export work left behind");
      lazy.close();
    }, (f) => ({
      ...f,
      serve: (r, signal) => {
        if (!r.target.includes("64,64/64,")) return f.serve!(r, signal);
        signals.push(signal);
        return new Promise((res) => setTimeout(res, 400)).then(() => f.serve!(r, signal)!);
      },
    }));
  },
);

Deno.test("writeResponse writes what Deno.serve writes for the same Response", opts, async () => {
  const streamOf = (...parts: string[]) =>
    new ReadableStream<Uint8Array>({
      async pull(c) {
        await new Promise((r) => setTimeout(r, 5)); // parts apart: not one whole body
        const p = parts.shift();
        if (p === undefined) c.close();
        else c.enqueue(enc.encode(p));
      },
    });
  const cases: Record<string, () => Response> = {
    bytes: () => new Response(enc.encode("tile bytes"), { headers: { "content-type": "image/jpeg", etag: '"e"' } }),
    json: () => Response.json({ a: 1 }, { status: 404 }),
    empty: () => new Response(null),
    "304": () => new Response(null, { status: 304, headers: { etag: '"e"' } }),
    "204": () => new Response(null, { status: 204 }),
    unknown: () => new Response("x", { status: 599 }),
    stream: () => new Response(streamOf("ab", "cde", "")),
    sized: () => new Response(streamOf("ab", "cd"), { headers: { "content-length": "4" } }),
    repeated: () => {
      const h = new Headers({ "x-a": "1" });
      h.append("vary", "a");
      h.append("vary", "b");
      return new Response("v", { headers: h });
    },
  };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => cases[new URL(req.url).pathname.slice(1)](),
  );
  try {
    for (const name of Object.keys(cases)) {
      const [theirs] = await exchange(server.addr.port, get(`/${name}`), 1);
      const written: Uint8Array[] = [];
      const keep = await writeResponse(
        cases[name](),
        (parts) => Promise.resolve(void written.push(...parts.map((p) => p.slice()))),
      );
      assert(keep);
      const all = new Uint8Array(written.reduce((n, p) => n + p.length, 0));
      written.reduce((at, p) => (all.set(p, at), at + p.length), 0);
      const [ours] = responses(all)!;
      assertEquals(stable(ours.head), stable(theirs.head), name);
      assertEquals(new TextDecoder().decode(ours.body), new TextDecoder().decode(theirs.body), name);
    }
  } finally {
    await server.shutdown();
  }
  // A stream short of its Content-Length cannot be framed: the connection ends.
  let threw = false;
  await writeResponse(new Response(streamOf("ab"), { headers: { "content-length": "9" } }), () => Promise.resolve())
    .catch(
      () => threw = true,
    );
  assert(threw, "a body short of its length throws");
  assertEquals(
    await writeResponse(new Response("x", { headers: { connection: "close" } }), () => Promise.resolve()),
    false,
  );
  assert(/^date: .+ GMT\r\n\r\n$/.test(new TextDecoder().decode(dateLine())));
});

Deno.test("frontRequest: the HTTP server's Request, or null where its URL or headers could differ", () => {
  const signal = new AbortController().signal;
  const h = (...kv: string[]) => ["Host", "a:8", ...kv];
  const req = frontRequest("/iiif/3/x.svs/0,0,256,256/256,/0/default.jpg?y=1", h("Accept", "*/*"), signal)!;
  assertEquals(req.url, "http://a:8/iiif/3/x.svs/0,0,256,256/256,/0/default.jpg?y=1");
  assertEquals(req.headers.get("accept"), "*/*");
  assertEquals(req.signal.aborted, false);
  for (
    const [target, headers] of [
      ["/a/../b", h()],
      ["/a/./b", h()],
      ["/a/%2E%2E/b", h()],
      ["/a\\b", h()],
      ["/a/..", h()],
      ["http://a:8/x", h()],
      ["*", h()],
      ["/x", ["Accept", "*/*"]],
      ["/x", h("Host", "b")],
      ["/x", ["Host", "a b"]],
      ["/x", ["Host", ""]],
      ["/x", h("Expect", "100-continue")],
      ["/x", h("X-Bad", "a\x00b")],
    ] as [string, string[]][]
  ) assertEquals(frontRequest(target, headers, signal), null, `${target} ${headers.join(",")}`);
});

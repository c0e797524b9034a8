/**
 * security/front_http.ts alone: `writeResponse` writes what `Deno.serve` writes for the same `Response`
 * (every framing: a whole body, none, 204/304, a stream, a stream of known length, repeated headers), and
 * `frontRequest` makes the `Request` the HTTP server would make, or none where its URL or headers could differ.
 */
import { assert, assertEquals } from "./assert.ts";
import { dateLine, frontRequest, writeResponse } from "../security/front_http.ts";
import { exchange, get, responses, stable } from "./raw_http.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const enc = new TextEncoder();

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
      const [ours] = responses(all);
      assertEquals(stable(ours.head), stable(theirs.head), name);
      assertEquals(new TextDecoder().decode(ours.body), new TextDecoder().decode(theirs.body), name);
    }
  } finally {
    await server.shutdown();
  }
  // A producer's head is written with its first chunk, not after its second (an export's next patch).
  let open: () => void = () => {};
  const gate = new Promise<void>((r) => open = r);
  let sent = 0, headFirst = false, timedOut = false;
  // Only catches a writer that waits for the second chunk (which waits for the head): it fails then.
  const timer = setTimeout(() => (timedOut = true, open()), 10_000);
  const producer = new ReadableStream<Uint8Array>({
    async pull(c) {
      if (sent++ === 0) return c.enqueue(enc.encode("first"));
      await gate;
      c.enqueue(enc.encode("second"));
      c.close();
    },
  });
  await writeResponse(new Response(producer), (parts) => {
    if (!headFirst && new TextDecoder().decode(parts[0]).startsWith("HTTP/1.1 200")) {
      headFirst = !timedOut;
      open();
    }
    return Promise.resolve();
  });
  clearTimeout(timer);
  assert(headFirst, "the head went out before the second chunk was made");
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

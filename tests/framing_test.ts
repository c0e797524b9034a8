/**
 * The connection guard's HTTP/1.1 framing units: responses owed on a relayed connection
 * (security/response_framing.ts) end however the upstream's bytes are split, and only a plain keep-alive
 * `GET` head is offered to the front (security/request_framing.ts `parseHead`).
 */
import { assert, assertEquals } from "./assert.ts";
import { ResponseTracking } from "../security/response_framing.ts";
import { parseHead } from "../security/request_framing.ts";

const enc = new TextEncoder();

Deno.test("response framing: owed responses end however the bytes are split (lengths, chunks, HEAD, 1xx)", () => {
  const stream = enc.encode(
    "HTTP/1.1 100 Continue\r\n\r\n" +
      "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello" +
      "HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\n" + // the HEAD's: no body follows
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
      "HTTP/1.1 304 Not Modified\r\netag: x\r\n\r\n",
  );
  for (let split = 1; split < stream.length; split += 7) {
    const t = new ResponseTracking();
    for (const m of ["POST", "HEAD", "GET", "GET"]) t.relayed(m);
    assert(!t.idle);
    t.feed(stream.subarray(0, split));
    t.feed(stream.subarray(split));
    assert(t.idle, `idle after every response (split at ${split})`);
  }
  const byByte = new ResponseTracking();
  for (const m of ["POST", "HEAD", "GET", "GET"]) byByte.relayed(m);
  for (let i = 0; i < stream.length; i++) {
    assert(!byByte.idle, `owed before the last byte (${i})`);
    byByte.feed(stream.subarray(i, i + 1));
  }
  assert(byByte.idle, "one byte a read: heads and bodies split everywhere");
  const owed = new ResponseTracking();
  owed.relayed("GET");
  owed.relayed("GET");
  owed.feed(enc.encode("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhel"));
  assert(!owed.idle, "a body not yet whole");
  owed.feed(enc.encode("lo"));
  assert(!owed.idle, "one of two owed");
  const broken = new ResponseTracking();
  broken.relayed("GET");
  broken.feed(enc.encode("NOT HTTP\r\n\r\n"));
  assert(broken.broken && !broken.idle, "unframeable: relayed for good");
});

Deno.test("parseHead: only a plain HTTP/1.1 keep-alive GET is offered to the front", () => {
  const p = (s: string) => parseHead(enc.encode(s));
  assertEquals(p("GET /a?b=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: y\r\n\r\n"), {
    target: "/a?b=1",
    headers: ["Host", "x", "User-Agent", "y"],
  });
  for (
    const s of [
      "GET /a HTTP/1.0\r\nHost: x\r\n\r\n",
      "HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      "GET /a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
      "GET /a HTTP/1.1\r\nHost x\r\n\r\n",
      "GET /a HTTP/1.1\r\n" + Array.from({ length: 40 }, (_, i) => `X-H${i}: v\r\n`).join("") + "\r\n",
    ]
  ) assertEquals(p(s), null, s);
  // The parser is reused after a good head and renewed after a bad one: the next good head is read.
  assertEquals(p("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")?.target, "/ok");
});

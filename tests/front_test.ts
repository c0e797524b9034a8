/**
 * The connection guard's front (security/conn_guard.ts with service/fast_hits.ts `answerFront`): a repeated
 * tile and `/health` answered by the guard itself — the HTTP server's own bytes but for the date, counted —
 * and never out of order: a request pipelined behind one the HTTP server still answers waits its turn
 * (responses framed by security/response_framing.ts, HEAD and interim answers included); everything
 * conditional, unusual or malformed goes to the HTTP server. The framing units: tests/framing_test.ts.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, get, startServer } from "./helpers.ts";
import { type Front, guardConnections } from "../security/conn_guard.ts";
import { readUntil, responses } from "./raw_http.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const enc = new TextEncoder();

/** One raw response: status line and headers as sent, and its body. */
interface RawResponse {
  head: string;
  status: number;
  body: Uint8Array;
}

/** Reads `count` responses from `conn`; `bodiless[i]`: the i-th answers a HEAD (or is a 304). */
async function readResponses(conn: Deno.Conn, count: number, bodiless: boolean[] = []): Promise<RawResponse[]> {
  const bytes = await readUntil(conn, (b) => responses(b, bodiless).length >= count);
  const got = responses(bytes, bodiless).slice(0, count);
  if (got.length < count) throw new Error(`closed after ${got.length} responses`);
  return got.map(({ head, body }) => ({ head, status: Number(head.slice(9, 12)), body }));
}

/** A response's header lines but those that differ between two answers of one tile (date and timings). */
const stableHeaders = (head: string) =>
  head.split("\r\n").slice(1).filter((l) => !/^(date|server-timing|x-cache):/i.test(l)).map((l) => l.toLowerCase())
    .sort();

async function withFront(fn: (port: number, s: ReturnType<typeof startServer>) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  await Deno.copyFile(`${DATA}skimage__coffee.png`, `${dir}/photo.png`);
  const s = startServer({ IMAGES_DIR: dir, BACKEND: "workers", WORKERS: "1" });
  const inner = new URL(s.url);
  const front: Front = { wants: (t) => s.service.fast.wants(t), answer: (r) => s.service.fast.answerFront(r) };
  const guard = guardConnections(
    { hostname: "127.0.0.1", port: 0 },
    { transport: "tcp", hostname: inner.hostname, port: Number(inner.port) },
    { headerMs: 10_000, writeMs: 10_000, idleMs: 60_000 },
    front,
  );
  host = `127.0.0.1:${guard.addr.port}`;
  try {
    await fn(guard.addr.port, s);
  } finally {
    guard.close();
    await s.close();
    await guard.settled();
    await Deno.remove(dir, { recursive: true });
  }
}

const TILE = "/iiif/3/photo.png/0,0,256,256/256,/0/gray.jpg";
/** The guard's address as clients name it in Host (the fast path remembers URLs with it). */
let host = "";
const req = (path: string, extra = "", method = "GET") =>
  `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: front-test\r\n${extra}\r\n`;

Deno.test("the front answers a repeated tile and /health with the HTTP server's bytes, counted", opts, async () => {
  await withFront(async (port, s) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      // The first is computed, the second a hit of the full path (and remembered), the third the front's.
      await conn.write(enc.encode(req(TILE)));
      const [computed] = await readResponses(conn, 1);
      await conn.write(enc.encode(req(TILE)));
      const [hit] = await readResponses(conn, 1);
      const served = s.service.fast.servedFront;
      await conn.write(enc.encode(req(TILE)));
      const [front] = await readResponses(conn, 1);
      assertEquals(s.service.fast.servedFront, served + 1, "answered by the front");
      assertEquals([computed.status, hit.status, front.status], [200, 200, 200]);
      assertEquals(front.body, computed.body);
      assertEquals(stableHeaders(front.head), stableHeaders(hit.head));
      assert(/\r\ndate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT/.test(front.head), front.head);
      assert(/\r\nx-cache: hit/.test(front.head));
      // /health from the front: the same headers as the route's, a JSON body.
      await conn.write(enc.encode(req("/health")));
      const [health] = await readResponses(conn, 1);
      assertEquals(s.service.fast.servedFront, served + 2);
      assertEquals(JSON.parse(new TextDecoder().decode(health.body)).status, "ok");
      const viaRoute = await fetch(`${s.url}/health?x`); // a query: the route's answer (a 400), not the front's
      await viaRoute.body?.cancel();
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      assert(/edgetile_http_requests_total\{method="GET",route="\/health",status="200"\} [1-9]/.test(metrics));
    } finally {
      conn.close();
    }
  });
});

Deno.test("the front never answers before an earlier request's response; HEAD and 304 are framed", opts, async () => {
  await withFront(async (port, s) => {
    // Warm: the tile is a remembered hit.
    for (let i = 0; i < 2; i++) assertEquals((await get(`http://${host}${TILE}`)).status, 200);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      // A computed tile (another size: the worker's work), then the remembered one, in one write: the
      // remembered one is not the front's to answer while the first is owed, and comes second.
      const served = s.service.fast.servedFront;
      await conn.write(enc.encode(req("/iiif/3/photo.png/0,0,300,300/300,/0/default.png") + req(TILE)));
      const [slow, quick] = await readResponses(conn, 2);
      assertEquals([slow.status, quick.status], [200, 200]);
      assert(/content-type: image\/png/i.test(slow.head), "the first request's answer first");
      assert(/content-type: image\/jpeg/i.test(quick.head));
      assertEquals(s.service.fast.servedFront, served, "relayed behind the owed response");
      // Once nothing is owed, the front answers again on this connection.
      await conn.write(enc.encode(req(TILE)));
      await readResponses(conn, 1);
      assertEquals(s.service.fast.servedFront, served + 1);
      // A HEAD (its length but no body), a conditional GET (304): each framed, so the next is the front's.
      const etag = /\r\netag: (.+)/i.exec(quick.head)![1];
      await conn.write(enc.encode(req(TILE, "", "HEAD")));
      const [head] = await readResponses(conn, 1, [true]);
      assertEquals(head.status, 200);
      await conn.write(enc.encode(req(TILE, `If-None-Match: ${etag}\r\n`)));
      const [notModified] = await readResponses(conn, 1);
      assertEquals(notModified.status, 304);
      assertEquals(s.service.fast.servedFront, served + 1, "HEAD and conditional requests: the HTTP server");
      await conn.write(enc.encode(req(TILE)));
      const [again] = await readResponses(conn, 1);
      assertEquals(again.body, quick.body);
      assertEquals(s.service.fast.servedFront, served + 2, "nothing owed after HEAD and 304: the front again");
      // A malformed Host goes to the HTTP server (its 400), and Connection: close too.
      await conn.write(enc.encode(`GET ${TILE} HTTP/1.1\r\nHost: a b\r\n\r\n`));
      const [bad] = await readResponses(conn, 1);
      assertEquals(bad.status, 400);
      await conn.write(enc.encode(req(TILE, "Connection: close\r\n")));
      const [last] = await readResponses(conn, 1);
      assertEquals(last.status, 200);
      assertEquals(s.service.fast.servedFront, served + 2, "Connection: close: the HTTP server");
    } finally {
      conn.close();
    }
  });
});

Deno.test("the front: a file rewritten under its name is never answered from memory", opts, async () => {
  await withFront(async (port, s) => {
    for (let i = 0; i < 2; i++) await get(`http://${host}${TILE}`);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(enc.encode(req(TILE)));
      const [before] = await readResponses(conn, 1);
      const dir = s.service.context.config.imagesDir;
      await Deno.copyFile(`${DATA}openslide-python__boxes.png`, `${dir}/photo.png`);
      let after: RawResponse;
      do { // a change within this second: 503 until it settles
        await conn.write(enc.encode(req(TILE)));
        [after] = await readResponses(conn, 1);
      } while (after.status === 503);
      assertEquals(after.status, 200);
      assert(after.body.length !== before.body.length || after.body.some((v, i) => v !== before.body[i]));
    } finally {
      conn.close();
    }
  });
});

Deno.test(
  "the front under random pipelines split anywhere: every answer in order, right, and the guard alive",
  opts,
  async () => {
    await withFront(async (port, s) => {
      for (let i = 0; i < 2; i++) await get(`http://${host}${TILE}`);
      const tile = (await get(`http://${host}${TILE}`)).body;
      const etag = (await get(`http://${host}${TILE}`)).headers.get("etag")!;
      // Each kind: the request, and what its answer must be (status, a header it must carry, the body if known).
      const kinds: { req: string; status: number; has: RegExp; body?: Uint8Array; bodiless?: boolean }[] = [
        { req: req(TILE), status: 200, has: /content-type: image\/jpeg/i, body: tile },
        { req: req("/health"), status: 200, has: /content-type: application\/json/i },
        { req: req("/iiif/3/photo.png/0,0,128,128/64,/0/default.png"), status: 200, has: /content-type: image\/png/i },
        { req: req(TILE, "", "HEAD"), status: 200, has: /content-length: \d+/i, bodiless: true },
        { req: req(TILE, `If-None-Match: ${etag}\r\n`), status: 304, has: /etag/i, bodiless: true },
        { req: req("/images/none.tif"), status: 404, has: /application\/json/i },
        // (A body the handler does not read would let hyper close the connection when it arrives late: none here.)
        { req: `POST /health HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 0\r\n\r\n`, status: 404, has: /json/i },
      ];
      let seed = 41;
      const r = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
      const before = s.service.fast.servedFront;
      for (let round = 0; round < 12; round++) {
        const chosen = Array.from({ length: 3 + Math.floor(r() * 8) }, () => kinds[Math.floor(r() * kinds.length)]);
        const bytes = enc.encode(chosen.map((k) => k.req).join(""));
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        try {
          // Written in random pieces (heads split across reads), with pauses so the guard sees them apart.
          for (let at = 0; at < bytes.length;) {
            const n = 1 + Math.floor(r() * 90);
            await conn.write(bytes.subarray(at, at + n));
            at += n;
            if (r() < 0.3) await new Promise((res) => setTimeout(res, 2));
          }
          const got = await readResponses(conn, chosen.length, chosen.map((k) => !!k.bodiless));
          got.forEach((g, i) => {
            const k = chosen[i];
            assertEquals(g.status, k.status, `round ${round}, answer ${i}: ${k.req.split("\r\n")[0]}`);
            assert(k.has.test(g.head), `round ${round}, answer ${i}: ${g.head}`);
            if (k.body) assertEquals(g.body, k.body);
          });
        } finally {
          conn.close();
        }
      }
      assert(s.service.fast.servedFront > before, "some answered at the front");
      // Garbage and an oversized head end their own connections only.
      for (const junk of ["\x00\x01\x02 nonsense\r\n\r\n", "GET / HTTP/1.1\r\n" + "X: " + "a".repeat(70_000)]) {
        const c = await Deno.connect({ hostname: "127.0.0.1", port });
        await c.write(enc.encode(junk)).catch(() => {});
        c.close();
      }
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await conn.write(enc.encode(req("/health")));
        assertEquals((await readResponses(conn, 1))[0].status, 200, "still answering");
      } finally {
        conn.close();
      }
    });
  },
);

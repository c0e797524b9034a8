/**
 * The guard's front serving the app in-process (`service.front.serve`, security/front_http.ts): a plain `GET`
 * no remembered tile answers is given to the app with the `Request` the HTTP server would make and written
 * as the HTTP server writes it — the same bytes as `Deno.serve` for the same request (date aside), in order
 * with relayed and front answers on one connection, its work aborted when the client goes, its streamed
 * body under the write deadline. The writer and the Request alone: tests/front_http_test.ts.
 */
import { assert, assertEquals } from "./assert.ts";
import { startServer } from "./helpers.ts";
import { exchange, get, readUntil, responses, stable } from "./raw_http.ts";
import { type ConnGuard, type Front, guardConnections } from "../security/conn_guard.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const enc = new TextEncoder();
const SAMPLES = new URL("../samples/", import.meta.url).pathname;

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
    // What the HTTP server must read (a Host it would refuse, dot segments, HEAD), each on its own connection;
    // a conditional request is the app's like any other (its 304).
    const tile = "/iiif/3/coffee.png/0,0,64,64/64,/0/default.jpg";
    const [etagged] = await exchange(port, get(tile), 1);
    const etag = /\r\netag: (.+)/i.exec(etagged.head)![1];
    const [dots] = await exchange(innerPort, get("/iiif/3/x/../coffee.png/info.json"), 1);
    for (
      const [raw, status, inProcess] of [
        [get(tile, "a b"), "400", false],
        [get("/iiif/3/x/../coffee.png/info.json"), dots.head.slice(9, 12), false],
        [`HEAD ${tile} HTTP/1.1\r\nHost: h\r\n\r\n`, "200", false],
        [get(tile, "h", `If-None-Match: ${etag}\r\n`), "304", true],
      ] as [string, string, boolean][]
    ) {
      const before = served();
      const [r] = await exchange(port, raw, 1, [raw.startsWith("HEAD")]);
      assertEquals(r.head.slice(9, 12), status, raw);
      assertEquals(served(), before + (inProcess ? 1 : 0), raw);
    }
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
          await readUntil(conn, (b) => responses(b, bodiless).length >= chosen.length),
          bodiless,
        );
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
      // The answer is held back until its work is aborted (10 s at most); the client leaves meanwhile.
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(enc.encode(get("/iiif/3/coffee.png/0,0,64,64/64,/0/default.jpg")));
      for (let i = 0; i < 1000 && !signals.length; i++) await new Promise((r) => setTimeout(r, 10));
      conn.close();
      for (let i = 0; i < 1000 && !signals[0]?.aborted; i++) await new Promise((r) => setTimeout(r, 10));
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
        const held = new Promise((res) => {
          const timer = setTimeout(res, 10_000);
          signal.addEventListener("abort", () => res(clearTimeout(timer)), { once: true });
        });
        return held.then(() => f.serve!(r, signal)!);
      },
    }));
  },
);

Deno.test(
  "an in-process answer that fails outside the app's error handler is a JSON 500, not a reset",
  opts,
  async () => {
    await withServe(async (port, s) => {
      const fetch = s.service.app.fetch;
      s.service.app.fetch = () => Promise.reject(new Error("a bug below the app"));
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await conn.write(enc.encode(get("/iiif/3/coffee.png/info.json")));
        const [failed] = responses(await readUntil(conn, (b) => responses(b).length >= 1));
        assertEquals(failed?.head.slice(9, 12), "500");
        assertEquals(JSON.parse(new TextDecoder().decode(failed.body)).error.code, "internal");
        s.service.app.fetch = fetch;
        await conn.write(enc.encode(get("/iiif/3/coffee.png/info.json")));
        const [next] = responses(await readUntil(conn, (b) => responses(b).length >= 1));
        assertEquals(next?.head.slice(9, 12), "200", "the connection still serves");
      } finally {
        s.service.app.fetch = fetch;
        conn.close();
      }
    });
  },
);

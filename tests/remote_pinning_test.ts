/**
 * Remote sources' pinning and range answers: a swapped file is 409 then served anew; wrong-length ranges are 502s.
 */
import { assert, assertEquals } from "./assert.ts";
import { decodePng, get, startServer } from "./helpers.ts";
import { startVersionedOrigin, whiteAndBlack } from "./remote_origins.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

const enc = encodeURIComponent;

Deno.test(
  "remote pinning: If-Range/If-Unmodified-Since sent; a swapped file is 409, then served anew; unpinnable is 409",
  opts,
  async () => {
    const [white, black] = whiteAndBlack();
    const seen: Record<string, string | null>[] = [];
    let current = { bytes: white, lastModified: "Mon, 02 Nov 2026 10:00:00 GMT" };
    // A conforming server (RFC 9110): If-Unmodified-Since → 412, If-Range → 200 whole file when it changed.
    const origin = startVersionedOrigin((req) => {
      const h = (k: string) => req.headers.get(k);
      seen.push({ range: h("range"), ifRange: h("if-range"), ifUnmodified: h("if-unmodified-since") });
      return current;
    });
    const unpinned = startVersionedOrigin(() => ({ bytes: white, etag: 'W/"weak"' }));
    const s = startServer({
      BACKEND: "workers",
      WORKERS: "2",
      ALLOWED_ORIGINS: `${origin.url},${unpinned.url}`,
      // Long enough that the swap below lands while the first version is still trusted, however loaded the
      // machine (1 s was not, on a busy 2-core machine).
      REMOTE_REVALIDATE_S: "8",
    });
    try {
      const id = enc(`${origin.url}/a.tif`);
      const t0 = Date.now();
      const first = await get(`${s.url}/dzi/${id}_files/9/0_0.png`);
      assertEquals(first.status, 200);
      const ranged = seen.filter((r) => r.range);
      assert(ranged.length > 0 && ranged.every((r) => r.ifRange && r.ifUnmodified), JSON.stringify(ranged));
      // The file is replaced while the service still trusts the old version: the origin (ignoring the
      // conditions) sends the new bytes with the new Last-Modified, which the service refuses.
      current = { bytes: black, lastModified: "Tue, 03 Nov 2026 10:00:00 GMT" };
      const during = await get(`${s.url}/dzi/${id}_files/9/1_1.png`);
      assertEquals(during.status, 409, new TextDecoder().decode(during.body));
      // Past REMOTE_REVALIDATE_S since the version was taken: the new one is seen.
      await new Promise((r) => setTimeout(r, Math.max(0, t0 + 8_200 - Date.now())));
      const after = await get(`${s.url}/dzi/${id}_files/9/1_1.png`);
      assertEquals(after.status, 200);
      assertEquals(new Set((await decodePng(after.body)).data).size, 1);
      assertEquals((await decodePng(after.body)).data[0], 0, "the new file's pixels");
      // Only a weak ETag, no Last-Modified: nothing to pin reads to.
      const r = await get(`${s.url}/images/${enc(`${unpinned.url}/w.tif`)}`);
      const err = JSON.parse(new TextDecoder().decode(r.body)).error;
      assertEquals([r.status, err.code], [409, "source_unpinnable"], err.message);
    } finally {
      await s.close();
      await origin.close();
      await unpinned.close();
    }
  },
);

Deno.test(
  "an origin whose range answers are longer or shorter than asked is a 502, not a 413 or pixels",
  opts,
  async () => {
    const [white] = whiteAndBlack();
    for (const extra of [100, -100]) {
      // The right Content-Range, the wrong body (a broken origin or proxy).
      const server = startVersionedOrigin(() => ({
        bytes: white,
        lastModified: "Mon, 02 Nov 2026 10:00:00 GMT",
        extra,
      }));
      const origin = server.url;
      const s = startServer({ BACKEND: "inline", ALLOWED_ORIGINS: origin, REMOTE_REVALIDATE_S: "0" });
      try {
        const r = await get(`${s.url}/images/${enc(`${origin}/a.tif`)}`);
        const err = JSON.parse(new TextDecoder().decode(r.body)).error;
        assertEquals([r.status, err.code], [502, "bad_gateway"], `${extra}: ${err.message}`);
      } finally {
        await s.close();
        await server.close();
      }
    }
  },
);

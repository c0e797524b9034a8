/**
 * The fast path of a repeated tile request (service/fast_hits.ts): the same answer as the full path (status,
 * bytes, every header but the timings and `X-Cache`), counted in the metrics; conditional requests, `HEAD` and
 * signed services take the full path; a file rewritten under the same name is never answered from before.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, get, startServer } from "./helpers.ts";
import { signUrl } from "../security/signing.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const headersOf = (h: Headers) =>
  [...h].filter(([k]) => k !== "server-timing" && k !== "x-cache" && k !== "date").sort();

async function requestsCounted(url: string, route: string): Promise<number> {
  const m = text((await get(`${url}/metrics`)).body);
  const re = new RegExp(
    `^edgetile_http_requests_total\\{method="GET",route="${route.replace(/[*/]/g, "\\$&")}",status="200"\\} (\\d+)`,
    "m",
  );
  return Number(re.exec(m)?.[1] ?? 0);
}

Deno.test(
  "a repeated tile: the full path's answer, from the fast path, counted; a rewritten file is never served from before",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    await Deno.copyFile(`${DATA}skimage__coffee.png`, `${dir}/photo.png`);
    const s = startServer({ IMAGES_DIR: dir, BACKEND: "workers", WORKERS: "1" });
    try {
      const tile = `${s.url}/iiif/3/photo.png/0,0,256,256/256,/0/gray.jpg`;
      const first = await get(tile); // computed: the full path
      const second = await get(tile); // a memory hit: remembered after the first, answered fast
      const before = s.service.fast.served;
      const third = await get(tile);
      assertEquals(s.service.fast.served, before + 1, "the third request took the fast path");
      assertEquals([first.status, second.status, third.status], [200, 200, 200]);
      assertEquals(third.body, first.body);
      assertEquals(headersOf(third.headers), headersOf(second.headers), "the same headers as the full path's hit");
      assertEquals(third.headers.get("x-cache"), "hit");
      const counted = await requestsCounted(s.url, "/iiif/3/*");
      await get(tile);
      assertEquals(await requestsCounted(s.url, "/iiif/3/*"), counted + 1, "a fast answer is counted like any");
      // Conditional and HEAD requests take the full path (its 304, its Content-Length).
      const served = s.service.fast.served;
      const cond = await fetch(tile, { headers: { "If-None-Match": third.headers.get("etag")! } });
      await cond.body?.cancel();
      assertEquals(cond.status, 304);
      const head = await fetch(tile, { method: "HEAD" });
      assertEquals(head.headers.get("content-length"), String(first.body.length));
      assertEquals(s.service.fast.served, served, "neither answered fast");
      // The file rewritten under its name (another image): its next answer is the new file's, not the memory's.
      await Deno.copyFile(`${DATA}openslide-python__boxes.png`, `${dir}/photo.png`);
      let after = await get(tile);
      for (let i = 0; i < 50 && after.status !== 200; i++) after = await get(tile); // a change in this second: 503
      assertEquals(after.status, 200);
      assert(after.headers.get("etag") !== third.headers.get("etag"), "a new version, a new ETag");
      assert(after.body.length !== third.body.length || after.body.some((v, i) => v !== third.body[i]), "new pixels");
    } finally {
      await s.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("with signing on, a signed tile is never answered by the fast path", opts, async () => {
  const s = startServer({ IMAGES_DIR: DATA, SIGNING_KEY: "k" });
  try {
    const signed = await signUrl("/iiif/3/skimage__coffee.png/full/64,/0/default.jpg", "k");
    for (let i = 0; i < 3; i++) assertEquals((await get(`${s.url}${signed}`)).status, 200);
    assertEquals(s.service.fast.served, 0, "every request checked by the full path's signature rule");
  } finally {
    await s.close();
  }
});

/**
 * IIIF on every readable sample, and a client's Host header never in a cacheable answer (PUBLIC_URL).
 */
import { assert, assertEquals } from "./assert.ts";
import { get, jpegSize, startServer, type TestServer, withServer } from "./helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test("every readable sample serves IIIF info.json and the tiles a viewer asks for first", opts, async () => {
  const { DATA } = await import("./helpers.ts");
  const s = startServer({ BACKEND: "workers", WORKERS: "2", IMAGES_DIR: DATA });
  try {
    const list = JSON.parse(new TextDecoder().decode((await get(`${s.url}/images`)).body));
    for (const img of list.images.filter((i: { supported: boolean }) => i.supported)) {
      const id = encodeURIComponent(img.id);
      const info = JSON.parse(new TextDecoder().decode((await get(`${s.url}/iiif/3/${id}/info.json`)).body));
      assertEquals([info.width, info.height], [img.width, img.height], img.id);
      const { scaleFactors } = info.tiles[0];
      const top = scaleFactors.at(-1);
      // The coarsest whole-image request, and the bottom-right tile at full resolution (spec formula).
      const [tw, W, H] = [info.tiles[0].width, info.width, info.height];
      const xr = Math.floor((W - 1) / tw) * tw, yr = Math.floor((H - 1) / tw) * tw;
      const urls: [string, [number, number]][] = [
        [`full/${Math.ceil(W / top)},${Math.ceil(H / top)}/0/default.jpg`, [Math.ceil(W / top), Math.ceil(H / top)]],
        [`${xr},${yr},${W - xr},${H - yr}/${W - xr},${H - yr}/0/default.jpg`, [W - xr, H - yr]],
      ];
      for (const [path, size] of urls) {
        const r = await get(`${s.url}/iiif/3/${id}/${path}`);
        assertEquals(r.status, 200, `${img.id} ${path}`);
        assertEquals(jpegSize(r.body), size, `${img.id} ${path}`);
      }
    }
  } finally {
    await s.close();
  }
});

Deno.test("a client's Host header never lands in a cacheable body or header (PUBLIC_URL)", opts, async () => {
  // What Deno.serve hands the app for a request with `Host: evil.example` (fetch cannot set Host).
  const asEvil = (s: TestServer, path: string) =>
    s.service.fetch(new Request(`http://evil.example${path}`, { redirect: "manual" }));
  // Unset: absolute URLs come from the request, and such bodies are private; headers are relative.
  await withServer({}, async (s) => {
    const info = await asEvil(s, "/iiif/3/coffee.png/info.json");
    assertEquals((await info.json()).id, "http://evil.example/iiif/3/coffee.png", "the request's own origin");
    assert(/private/.test(info.headers.get("cache-control")!), "never stored by shared caches");
    const tj = await asEvil(s, "/xyz/coffee.png/tilejson.json");
    assert((await tj.json()).tiles[0].startsWith("http://evil.example/"));
    assert(/private/.test(tj.headers.get("cache-control")!));
    const base = await asEvil(s, "/iiif/3/coffee.png");
    // Relative to the request: right under any proxy prefix, never the client's host.
    assertEquals([base.status, base.headers.get("location")], [303, "coffee.png/info.json"]);
    assertEquals(
      new URL(base.headers.get("location")!, "https://h/prefix/iiif/3/coffee.png").href,
      "https://h/prefix/iiif/3/coffee.png/info.json",
    );
    const tile = await asEvil(s, "/iiif/3/coffee.png/full/64,/0/default.jpg");
    await tile.body?.cancel();
    const canonical = /^<([^>]+)>;rel="canonical"/.exec(tile.headers.get("link")!)![1];
    assertEquals(
      new URL(canonical, "https://h/prefix/iiif/3/coffee.png/full/64,/0/default.jpg").href,
      "https://h/prefix/iiif/3/coffee.png/full/64,43/0/default.jpg",
    );
  });
  // Set: every absolute URL is the configured one, whatever the Host; the bodies are public again.
  await withServer({ PUBLIC_URL: "https://tiles.example.org/edge/" }, async (s) => {
    const info = await asEvil(s, "/iiif/3/coffee.png/info.json");
    assertEquals((await info.json()).id, "https://tiles.example.org/edge/iiif/3/coffee.png");
    assert(/public/.test(info.headers.get("cache-control")!));
    const images = await (await asEvil(s, "/images/coffee.png")).json();
    assertEquals(images.urls.dzi, "https://tiles.example.org/edge/dzi/coffee.png.dzi");
    const base = await asEvil(s, "/iiif/3/coffee.png");
    assertEquals(base.headers.get("location"), "https://tiles.example.org/edge/iiif/3/coffee.png/info.json");
  });
});

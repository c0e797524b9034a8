/**
 * Behind proxies: `TRUST_PROXY` takes the public scheme, host and prefix from `Forwarded` or
 * `X-Forwarded-*` (checked, and ignored unless trusted); `SLASH_SUBSTITUTE` lets ids with `/` travel
 * without `%2F`; `Vary` where a body depends on request headers.
 */
import { assert, assertEquals } from "./assert.ts";
import { SAMPLES, withServer } from "./helpers.ts";
import { forwardedBase, parseForwarded } from "../routes/public_url.ts";

const ask = (
  s: { service: { fetch(r: Request): Promise<Response> } },
  path: string,
  headers = {},
) => s.service.fetch(new Request(`http://10.0.0.7:8000${path}`, { headers, redirect: "manual" }));

Deno.test("Forwarded and X-Forwarded-* parsing: the first element, quoted values, bad values ignored", () => {
  assertEquals(parseForwarded('for=1.2.3.4;proto=https;host="tiles.example.org:8443", for=10.0.0.1;proto=http'), {
    proto: "https",
    host: "tiles.example.org:8443",
  });
  assertEquals(parseForwarded('for="[2001:db8::1]:80";host=a.example, host=b.example'), { host: "a.example" });
  const own = new URL("http://10.0.0.7:8000/x");
  const h = (o: Record<string, string>) => new Headers(o);
  assertEquals(forwardedBase(h({}), own), undefined);
  assertEquals(
    forwardedBase(
      h({ "x-forwarded-proto": "https", "x-forwarded-host": "tiles.example.org", "x-forwarded-prefix": "/edge/" }),
      own,
    ),
    "https://tiles.example.org/edge",
  );
  // Forwarded wins over X-Forwarded-*; a host with a path, a scheme other than http(s) or a prefix with a
  // quote or a space is ignored (the request's own value stays).
  assertEquals(
    forwardedBase(h({ forwarded: "proto=https;host=a.example", "x-forwarded-host": "b.example" }), own),
    "https://a.example",
  );
  assertEquals(
    forwardedBase(h({ "x-forwarded-host": "evil.example/x", "x-forwarded-proto": "javascript" }), own),
    "http://10.0.0.7:8000",
  );
  assertEquals(forwardedBase(h({ "x-forwarded-prefix": '/a"><script>' }), own), "http://10.0.0.7:8000");
  assertEquals(forwardedBase(h({ "x-forwarded-host": "a.example, proxy.internal" }), own), "http://a.example");
  // Malformed percent-encoding in a prefix, a port past 65535: ignored too.
  assertEquals(forwardedBase(h({ "x-forwarded-prefix": "/%zz" }), own), "http://10.0.0.7:8000");
  assertEquals(forwardedBase(h({ "x-forwarded-prefix": "/a%20b" }), own), "http://10.0.0.7:8000/a%20b");
  assertEquals(forwardedBase(h({ forwarded: "host=a.example:99999" }), own), "http://10.0.0.7:8000");
});

Deno.test("TRUST_PROXY: IIIF id, TileJSON and /images links carry the proxy's scheme, host and prefix", async () => {
  const fwd = { "X-Forwarded-Proto": "https", "X-Forwarded-Host": "tiles.example.org", "X-Forwarded-Prefix": "/edge" };
  await withServer({ TRUST_PROXY: "true" }, async (s) => {
    const info = await ask(s, "/iiif/3/coffee.png/info.json", fwd);
    assertEquals((await info.json()).id, "https://tiles.example.org/edge/iiif/3/coffee.png");
    assert(/Accept/.test(info.headers.get("vary")!) && /X-Forwarded-Host/.test(info.headers.get("vary")!));
    assert(/private/.test(info.headers.get("cache-control")!), "a body from request headers is never shared");
    const tj = await (await ask(s, "/xyz/coffee.png/tilejson.json", { Forwarded: "proto=https;host=maps.example" }))
      .json();
    assert(tj.tiles[0].startsWith("https://maps.example/xyz/coffee.png/"), tj.tiles[0]);
    const list = await ask(s, "/images", fwd);
    assert(/X-Forwarded-Prefix/.test(list.headers.get("vary") ?? ""), "Vary on the forwarding headers");
    const coffee = (await list.json()).images.find((i: { id: string }) => i.id === "coffee.png");
    assertEquals(coffee.urls.iiif, "https://tiles.example.org/edge/iiif/3/coffee.png/info.json");
  });
  // Not trusted (the default): the same headers change nothing.
  await withServer({}, async (s) => {
    const info = await ask(s, "/iiif/3/coffee.png/info.json", fwd);
    assertEquals((await info.json()).id, "http://10.0.0.7:8000/iiif/3/coffee.png");
    assertEquals(info.headers.get("vary"), "Accept");
  });
});

Deno.test("SLASH_SUBSTITUTE: ids with / work without %2F, and the links the service writes use it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edgetile-slash-" });
  try {
    await Deno.mkdir(`${dir}/cases/2024`, { recursive: true });
    await Deno.copyFile(`${SAMPLES}coffee.png`, `${dir}/cases/2024/coffee.png`);
    await withServer({ IMAGES_DIR: dir, SLASH_SUBSTITUTE: "~" }, async (s) => {
      const list = await (await ask(s, "/images")).json();
      assertEquals(list.images[0].id, "cases/2024/coffee.png");
      assertEquals(list.images[0].urls.dzi, "http://10.0.0.7:8000/dzi/cases~2024~coffee.png.dzi");
      for (
        const path of [
          "/dzi/cases~2024~coffee.png.dzi",
          "/dzi/cases~2024~coffee.png_files/9/0_0.jpeg",
          "/iiif/3/cases~2024~coffee.png/full/64,/0/default.jpg",
          "/xyz/cases~2024~coffee.png/0/0/0.png",
          "/thumbnail/cases~2024~coffee.png.jpg",
          "/images/cases~2024~coffee.png",
          "/dzi/cases%2F2024%2Fcoffee.png.dzi", // %2F still works
        ]
      ) {
        const res = await ask(s, path);
        await res.body?.cancel();
        assertEquals(res.status, 200, path);
      }
    });
    // Without a substitute, ~ is just a character (here: no such file).
    await withServer({ IMAGES_DIR: dir }, async (s) => {
      const res = await ask(s, "/dzi/cases~2024~coffee.png.dzi");
      await res.body?.cancel();
      assertEquals(res.status, 404);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

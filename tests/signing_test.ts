/** Signed URLs and admin options through the real server. */
import { assert, assertEquals } from "./assert.ts";
import { get, SAMPLES, startServer } from "./helpers.ts";
import { constantTimeEqual, signUrl, verifyUrl } from "../security/signing.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test("signed URLs: required, rotating keys, expiry, tamper-proof, prefix scopes for Deep Zoom", opts, async () => {
  const s = startServer({
    BACKEND: "workers",
    WORKERS: "2",
    IMAGES_DIR: SAMPLES,
    SIGNING_KEY: "new-key,old-key",
    ADMIN_TOKEN: "adm",
  });
  try {
    const tile = "/dzi/CMU-1-Small-Region.svs_files/12/3_5.jpeg";
    assertEquals((await get(s.url + tile)).status, 403, "unsigned");
    assertEquals((await get(s.url + (await signUrl(tile, "new-key")))).status, 200, "current key");
    assertEquals((await get(s.url + (await signUrl(tile, "old-key")))).status, 200, "old key still verifies");
    assertEquals((await get(s.url + (await signUrl(tile, "stolen")))).status, 403, "unknown key");
    const withOp = await signUrl(`${tile}?op=gray`, "new-key");
    assertEquals((await get(s.url + withOp)).status, 200);
    assertEquals((await get(s.url + withOp.replace("op=gray", "op=mask"))).status, 403, "query tampered");
    assertEquals((await get(s.url + withOp.replace("3_5", "3_6"))).status, 403, "path tampered");
    const expired = await signUrl(tile, "new-key", { expiresAt: Date.now() / 1000 - 5 });
    const r = await get(s.url + expired);
    assertEquals(r.status, 403);
    assert(new TextDecoder().decode(r.body).includes("expired"));
    assertEquals(
      (await get(s.url + (await signUrl(tile, "new-key", { expiresAt: Date.now() / 1000 + 60 })))).status,
      200,
    );
    // One signed .dzi URL with a scope covers the tiles a viewer derives from it (same query appended).
    const dzi = await signUrl("/dzi/CMU-1-Small-Region.svs.dzi?op=mask", "new-key", {
      scope: "/dzi/CMU-1-Small-Region.svs",
    });
    assertEquals((await get(s.url + dzi)).status, 200);
    const query = dzi.slice(dzi.indexOf("?"));
    assertEquals(
      (await get(`${s.url}/dzi/CMU-1-Small-Region.svs_files/11/1_1.png${query}`)).status,
      200,
      "a tile under the scope",
    );
    assertEquals((await get(`${s.url}/dzi/coffee.png_files/9/0_0.png${query}`)).status, 403, "another image");
    // Scopes match whole path segments: one signed for /dzi/CMU covers no image whose id starts with "CMU".
    const narrow = await signUrl("/dzi/CMU.dzi", "new-key", { scope: "/dzi/CMU" });
    const narrowQuery = narrow.slice(narrow.indexOf("?"));
    for (const p of ["/dzi/CMU-1-Small-Region.svs.dzi", "/dzi/CMU-1-Small-Region.svs_files/11/1_1.png"]) {
      assertEquals((await get(`${s.url}${p}${narrowQuery}`)).status, 403, `${p} is outside /dzi/CMU`);
    }
    const iiif = await signUrl("/iiif/3/coffee.png/info.json", "new-key", { scope: "/iiif/3/coffee.png" });
    const iiifQuery = iiif.slice(iiif.indexOf("?"));
    assertEquals((await get(`${s.url}${iiif}`)).status, 200, "the IIIF image's info.json");
    assertEquals((await get(`${s.url}/iiif/3/coffee.png/full/64,/0/default.jpg${iiifQuery}`)).status, 200);
    assertEquals((await get(`${s.url}/iiif/3/coffee.pngx/info.json${iiifQuery}`)).status, 403, "a longer id");
    // Open without a signature: the viewer page, health, readiness.
    for (const open of ["/", "/viewer/app.js", "/health", "/ready"]) {
      assertEquals((await get(s.url + open)).status, 200, open);
    }
    // Admin options: the token, or a signature that covers them.
    const refresh = await signUrl(`${tile}?cache=refresh`, "new-key");
    assertEquals((await get(s.url + refresh)).headers.get("x-cache"), "refresh");
    const byToken = await fetch(s.url + (await signUrl(tile, "new-key")) + "&cache=false", {
      headers: { Authorization: "Bearer adm" },
    });
    await byToken.body?.cancel();
    assertEquals(byToken.status, 403, "cache=false added after signing breaks the signature");
  } finally {
    await s.close();
  }
});

Deno.test("signing primitives and the sign CLI", async () => {
  assert(constantTimeEqual("abc", "abc") && !constantTimeEqual("abc", "abd") && !constantTimeEqual("abc", "abcd"));
  const signed = await signUrl("/x?b=2&a=1", "k");
  assertEquals(await verifyUrl(new URL("http://h" + signed), ["k"]), null);
  // Parameter order does not matter.
  const u = new URL("http://h" + signed);
  const reordered = new URL(`http://h/x?a=1&b=2&sig=${u.searchParams.get("sig")}`);
  assertEquals(await verifyUrl(reordered, ["k"]), null);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-env=EDGETILE_SIGNING_KEY", "cli/sign.ts", "/dzi/a.dzi?op=gray", "--expires", "60"],
    cwd: new URL("..", import.meta.url).pathname,
    env: { EDGETILE_SIGNING_KEY: "k,old" },
  }).output();
  const line = new TextDecoder().decode(out.stdout).trim();
  assert(/^\/dzi\/a\.dzi\?.*sig=[0-9a-f]{64}/.test(line), line);
  assertEquals(await verifyUrl(new URL("http://h" + line), ["k"]), null);
});

/**
 * Fuzzed HTTP heads (Host, Forwarded, X-Forwarded-*) and remote ids: never a 5xx.
 */
import { assert, assertEquals } from "./assert.ts";
import { SAMPLES, startServer } from "./helpers.ts";
import { signUrl } from "../security/signing.ts";
import { rng } from "./fuzz_rng.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test("fuzzed HTTP heads (Host, Forwarded, X-Forwarded-*) and remote ids: never a 5xx", opts, async () => {
  const hosts = [
    "a b",
    "[",
    "x:99999",
    "<b>x</b>",
    "%",
    "%20",
    "a/b",
    "a?b",
    "a#b",
    "[::1",
    "::1",
    "é.example",
    "x:-1",
  ];
  const forwarded = [
    'for=1.2.3.4;proto=https;host="a b"',
    "proto=ftp;host=[",
    'host="x:99999"',
    "for=;host=;proto=",
    '"unclosed',
    "host=%",
  ];
  const remote = [
    "http://%20/x.svs",
    "http://a%20b/x.svs",
    "http://%/x.svs",
    "http://[::1/x.svs",
    "http://127.0.0.1:99999/x.svs",
    "https://[zz]/x.svs",
    "http:///x.svs",
    "http://a b/x.svs",
  ];
  const r = rng(36);
  const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)];
  const envs: Record<string, string>[] = [{}, { TRUST_PROXY: "true", ALLOWED_ORIGINS: "http://127.0.0.1:1" }, {
    SIGNING_KEY: "k",
  }];
  for (const env of envs) {
    const s = startServer({ BACKEND: "workers", WORKERS: "1", IMAGES_DIR: SAMPLES, ...env });
    const port = Number(new URL(s.url).port);
    const paths = ["/health", "/images", "/images/coffee.png", "/iiif/3/coffee.png/info.json", "/dzi/coffee.png.dzi"];
    try {
      const heads: string[] = [];
      for (const host of hosts) for (const p of paths) heads.push(`GET ${p} HTTP/1.1\r\nHost: ${host}\r\n`);
      for (let i = 0; i < 60; i++) {
        const extra = [
          `Forwarded: ${pick(forwarded)}\r\n`,
          `X-Forwarded-Host: ${pick(hosts)}\r\n`,
          `X-Forwarded-Proto: ${pick(["https", "ftp", "", "a b"])}\r\n`,
          `X-Forwarded-Prefix: ${pick(["/a b", "//", "/%", "/x/../y", ""])}\r\n`,
        ].filter(() => r() < 0.6).join("");
        heads.push(`GET ${pick(paths)} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${extra}`);
      }
      for (const id of remote) {
        for (const route of ["/images/", "/iiif/3/"]) {
          const path = `${route}${encodeURIComponent(id)}${route === "/iiif/3/" ? "/info.json" : ""}`;
          heads.push(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`);
          const signed = await signUrl(path, "k");
          heads.push(`GET ${signed} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`);
        }
      }
      for (const head of heads) {
        const { status, body } = await rawRequest(port, head);
        assert(status >= 200 && status < 500, `${JSON.stringify(head)} → ${status} ${body.slice(0, 200)}`);
        if (head.startsWith("GET /health ")) assertEquals(status, 200, `${JSON.stringify(head)}: /health`);
        if (status >= 400) assert(body.startsWith('{"error"'), `${JSON.stringify(head)}: a JSON error`);
      }
      // The malformed hosts and remote ids are named as such.
      const bad = await rawRequest(port, `GET /images HTTP/1.1\r\nHost: a b\r\n`);
      assertEquals([bad.status, JSON.parse(bad.body).error.code], [400, "bad_host"]);
      if ("ALLOWED_ORIGINS" in env) {
        const id = await rawRequest(port, `GET /images/${encodeURIComponent(remote[1])} HTTP/1.1\r\nHost: x\r\n`);
        assertEquals([id.status, JSON.parse(id.body).error.code], [400, "bad_id"]);
      }
    } finally {
      await s.close();
    }
  }
});

/** One raw HTTP/1.1 request (any head, as a client may send it): the status line's code and the body. */
async function rawRequest(port: number, head: string): Promise<{ status: number; body: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(head + "Connection: close\r\n\r\n"));
    const text = await new Response(conn.readable).text();
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
    return { status, body: text.slice(text.indexOf("\r\n\r\n") + 4) };
  } catch (err) {
    throw new Error(`${JSON.stringify(head)}: ${(err as Error).message}`);
  }
}

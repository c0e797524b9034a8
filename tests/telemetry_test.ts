/**
 * Operations: the access log (text and JSON, levels), `edgetile_http_*` metrics by method/route/status,
 * process and build metrics, the version in /health, and `HEAD` with the real `Content-Length`.
 */
import { assert, assertEquals } from "./assert.ts";
import { get, withServer } from "./helpers.ts";
import { configureLog, type LogFormat, type LogLevel } from "../telemetry/log.ts";
import denoJson from "../deno.json" with { type: "json" };

const TILE = "/dzi/CMU-1-Small-Region.svs_files/11/1_1.jpeg";

/** Routes this thread's log lines into arrays for the test's time. */
function capture(level: LogLevel, format: LogFormat) {
  const out: string[] = [], err: string[] = [];
  configureLog(level, format, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { out, err };
}

Deno.test("access log: one line per request with method, path, status, bytes, ms, cache, backend, codec tier", async () => {
  await withServer({}, async (s) => {
    const lines = capture("info", "json");
    try {
      const first = await get(`${s.url}${TILE}?op=gray`);
      const second = await get(`${s.url}${TILE}?op=gray`);
      await get(`${s.url}/no/such/route`);
      // A streamed export: logged when its last byte is out, with the bytes really sent.
      const tar = await get(`${s.url}/images/CMU-1-Small-Region.svs/patches.tar?size=256&min=0.9&format=png`);
      await new Promise((r) => setTimeout(r, 50));
      const records = lines.out.map((l) => JSON.parse(l));
      assertEquals(records.length, 4, lines.out.join("\n"));
      const [a, b, missing, exported] = records;
      for (const r of records) {
        assertEquals([r.level, r.msg, r.method, typeof r.ms, r.codecs], [
          "info",
          "request",
          "GET",
          "number",
          s.service.context.codecs.tier,
        ]);
        assert(!Number.isNaN(Date.parse(r.time)), r.time);
      }
      assertEquals([a.path, a.status, a.bytes, a.cache, a.backend], [
        `${TILE}?op=gray`,
        200,
        first.body.length,
        "miss",
        "workers",
      ]);
      assertEquals([b.status, b.bytes, b.cache], [200, second.body.length, "hit"]);
      assertEquals([missing.status, missing.route], [404, "unmatched"]);
      assertEquals([exported.status, exported.bytes, exported.route], [200, tar.body.length, "/images/*"]);
      assert(tar.body.length > 100_000, "a real export");
    } finally {
      configureLog("warn", "text");
    }
  });
});

Deno.test("access log as text, and levels: warn silences it", async () => {
  await withServer({}, async (s) => {
    try {
      const text = capture("info", "text");
      const tile = await get(`${s.url}${TILE}`);
      assertEquals(text.out.length, 1);
      const re = new RegExp(
        `^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z INFO GET ${
          TILE.replaceAll(".", "\\.")
        } 200 ${tile.body.length} B [\\d.]+ ms cache=\\w+ backend=workers codecs=\\w+ route=/dzi/\\* client=127\\.0\\.0\\.1 ua=\\S+$`,
      );
      assert(re.test(text.out[0]), text.out[0]);
      const quiet = capture("warn", "text");
      await get(`${s.url}${TILE}`);
      assertEquals(quiet.out.length + quiet.err.length, 0, "no access line at warn");
    } finally {
      configureLog("warn", "text");
    }
  });
});

Deno.test("HEAD answers the real Content-Length (was 0), without a body", async () => {
  await withServer({}, async (s) => {
    for (const path of [TILE, "/images", "/dzi/CMU-1-Small-Region.svs.dzi", "/images/CMU-1-Small-Region.svs"]) {
      const body = (await get(`${s.url}${path}`)).body;
      const head = await fetch(`${s.url}${path}`, { method: "HEAD" });
      assertEquals(head.status, 200, path);
      assertEquals(head.headers.get("content-length"), String(body.length), path);
      assertEquals((await head.arrayBuffer()).byteLength, 0, path);
    }
  });
});

Deno.test("metrics: edgetile_http_* by method, route and status (no ok label); process, build and version", async () => {
  await withServer({}, async (s) => {
    await get(`${s.url}${TILE}`);
    await get(`${s.url}${TILE}`);
    await fetch(`${s.url}${TILE}`, { method: "HEAD" }).then((r) => r.body?.cancel());
    await get(`${s.url}/dzi/nope.svs.dzi`);
    const text = new TextDecoder().decode((await get(`${s.url}/metrics`)).body);
    const value = (line: string) =>
      Number(new RegExp(`^${line.replace(/[{}*/.]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1]);
    assertEquals(value('edgetile_http_requests_total{method="GET",route="/dzi/*",status="200"}'), 2);
    assertEquals(value('edgetile_http_requests_total{method="HEAD",route="/dzi/*",status="200"}'), 1);
    assertEquals(value('edgetile_http_requests_total{method="GET",route="/dzi/*",status="404"}'), 1);
    assertEquals(value('edgetile_http_request_duration_seconds_count{method="GET",route="/dzi/*",status="200"}'), 2);
    assert(value('edgetile_http_response_bytes_total{route="/dzi/*"}') > 1000);
    assert(!/\bok="/.test(text), "no ok label");
    assert(!/^http_request/m.test(text), "every HTTP metric is prefixed");
    assertEquals(value(`edgetile_build_info{version="${denoJson.version}",deno="${Deno.version.deno}"}`), 1);
    for (
      const name of [
        "edgetile_process_cpu_seconds_total",
        "edgetile_process_heap_used_bytes",
        "edgetile_process_rss_bytes",
      ]
    ) {
      assert(value(name) > 0, name);
    }
    assert(value("edgetile_process_start_time_seconds") > 1.7e9);
    assertEquals(value("edgetile_worker_restarts_total"), 0);
    const health = JSON.parse(new TextDecoder().decode((await get(`${s.url}/health`)).body));
    assertEquals(health.version, denoJson.version);
    assert(/^\d+\.\d+\.\d+$/.test(health.version));
  });
});

Deno.test("HEAD on a streamed export ends: its work is cancelled and it is not left in flight", async () => {
  await withServer({}, async (s) => {
    const path = "/images/CMU-1-Small-Region.svs/patches.tar?size=256&min=0&format=png";
    for (let i = 0; i < 3; i++) {
      const head = await fetch(`${s.url}${path}`, { method: "HEAD" });
      assertEquals([head.status, head.headers.get("content-type")], [200, "application/x-tar"]);
      await head.body?.cancel();
    }
    // The patches already in flight finish unobserved, and nothing more starts (20 s only catches a hang).
    for (let i = 0; i < 200 && s.service.context.backend.pending > 0; i++) await new Promise((r) => setTimeout(r, 100));
    const text = new TextDecoder().decode((await get(`${s.url}/metrics`)).body);
    // Only the /metrics request itself is in flight (the HEADs stayed in flight for ever: 4).
    assertEquals(/^edgetile_http_requests_in_flight (\d+)$/m.exec(text)?.[1], "1");
    assertEquals(
      /^edgetile_http_requests_total\{method="HEAD",route="\/images\/\*",status="200"\} (\d+)$/m.exec(text)?.[1],
      "3",
    );
    assertEquals(s.service.context.backend.pending, 0, "no export work left");
  });
});

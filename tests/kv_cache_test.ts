/**
 * The Deno KV cache failing or odd: an unwritable path, degraded readiness, blobs with kilobytes of metadata.
 */
import { assert, assertEquals } from "./assert.ts";
import { KvBlobStore } from "../cache/kv_store.ts";
import { get, withServer } from "./helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const TILE = "/dzi/CMU-1-Small-Region.svs_files/12/3_5.jpeg";

Deno.test("KV path unwritable: tiles still served (memory only), the failure counted in /metrics", opts, async () => {
  await withServer({ KV_PATH: "/proc/edgetile-no/cache.kv" }, async (s) => {
    const a = await get(s.url + TILE);
    assertEquals(a.status, 200);
    assertEquals((await get(s.url + TILE)).headers.get("x-cache"), "hit", "the memory layer still works");
    const metrics = new TextDecoder().decode((await get(`${s.url}/metrics`)).body);
    assert(/edgetile_kv_errors_total\{op="open"\} 1/.test(metrics), "open failure counted");
    assert(/edgetile_cache_hits_total\{layer="memory"\} 1/.test(metrics));
    assert(/edgetile_cache_misses_total 1/.test(metrics));
    assert(/http_request_duration_seconds_bucket\{[^}]*route="\/dzi\/\*"/.test(metrics), "latency histogram by route");
    assert(/edgetile_backend_info\{backend="workers"\} 1/.test(metrics));
    assert(/edgetile_backend_queue_depth 0/.test(metrics));
  });
  await withServer({ KV_PATH: "off", MEMORY_CACHE_MB: "0" }, async (s) => {
    assertEquals((await get(s.url + TILE)).headers.get("x-cache"), "miss");
    assertEquals((await get(s.url + TILE)).headers.get("x-cache"), "miss", "no cache at all still serves");
  });
});

Deno.test("/ready says degraded when KV writes fail or the KV file was deleted while open", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    await withServer({ KV_PATH: `${dir}/cache.kv` }, async (s) => {
      assertEquals((await get(`${s.url}/dzi/CMU-1-Small-Region.svs_files/9/0_0.jpeg`)).status, 200);
      const ready = async () => JSON.parse(new TextDecoder().decode((await get(`${s.url}/ready`)).body));
      assertEquals((await ready()).status, "ready");
      // Deleted under the running server: SQLite writes on to the unlinked file, silently.
      await Deno.remove(`${dir}/cache.kv`);
      const r = await ready();
      assertEquals(r.status, "degraded");
      assert(r.degraded.some((d: string) => /deleted/.test(d)), JSON.stringify(r));
      // A KV that fails its writes (closed under the cache): tiles are still served, /ready says why.
      ((await s.service.context.cache.store) as KvBlobStore).kv.close();
      assertEquals((await get(`${s.url}/dzi/CMU-1-Small-Region.svs_files/9/0_1.jpeg`)).status, 200);
      await new Promise((r) => setTimeout(r, 100));
      const r2 = await ready();
      assert(r2.degraded.some((d: string) => /KV (set|get) failed/.test(d)), JSON.stringify(r2));
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("KV blobs with kilobytes of metadata (statistics JSON) beside near-inline bytes are stored and read back", async () => {
  // A 58,000-byte blob with ~10 KB of metadata: inline, the manifest passed Deno KV's 65,536-byte value limit.
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new KvBlobStore(kv);
    const bytes = Uint8Array.from({ length: 58_000 }, (_, i) => (i * 7) & 255);
    const meta = { stats: JSON.stringify({ histogram: Array.from({ length: 1500 }, (_, i) => i * 1001) }) };
    assert(meta.stats.length > 8000);
    assertEquals(await store.set(["stats", "x"], { bytes, meta }, 60), "stored");
    const back = await store.get(["stats", "x"]);
    assert(back !== null && back !== "corrupt");
    assertEquals([back.bytes.length, back.bytes[57_999], back.meta.stats], [58_000, bytes[57_999], meta.stats]);
    // Metadata that cannot fit a manifest at all is refused, not thrown.
    assertEquals(await store.set(["stats", "y"], { bytes, meta: { stats: "x".repeat(70_000) } }, 60), "too_large");
  } finally {
    kv.close();
  }
});

/** The tile cache with a real Deno KV file: hits, 304s, single-flight, chunking, versions, failures. */
import { assert, assertEquals } from "./assert.ts";
import { DATA, get, type TestServer, withServer } from "./helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const TILE = "/dzi/CMU-1-Small-Region.svs_files/12/3_5.jpeg";

function runs(s: TestServer): number {
  return s.service.context.cache.computations;
}

Deno.test(
  "hit after miss with identical bytes; a restart is served from the KV file; 304 without pixel work",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    const env = { KV_PATH: `${dir}/sub/cache.kv` }; // the folder does not exist yet
    try {
      let etag = "", bytes: Uint8Array = new Uint8Array();
      await withServer(env, async (s) => {
        const a = await get(s.url + TILE);
        assertEquals([a.status, a.headers.get("x-cache")], [200, "miss"]);
        etag = a.headers.get("etag")!;
        assert(/^"[0-9a-f]{64}"$/.test(etag), etag);
        assert(a.headers.get("server-timing")!.includes("cache;dur="), "Server-Timing has the cache phase");
        const b = await get(s.url + TILE);
        assertEquals([b.status, b.headers.get("x-cache"), b.headers.get("etag")], [200, "hit", etag]);
        assertEquals(b.body, a.body);
        bytes = a.body;
        const before = runs(s);
        const c = await fetch(s.url + TILE, { headers: { "If-None-Match": etag } });
        assertEquals(c.status, 304);
        await c.body?.cancel();
        assertEquals(runs(s), before, "304 did no pixel work");
        assertEquals(runs(s), 1);
      });
      // A new process-equivalent: cold memory, same KV file.
      await withServer(env, async (s) => {
        const r304 = await fetch(s.url + TILE, { headers: { "If-None-Match": `W/${etag}, "other"` } });
        assertEquals(r304.status, 304);
        await r304.body?.cancel();
        const r = await get(s.url + TILE);
        assertEquals([r.status, r.headers.get("x-cache")], [200, "hit"]);
        assertEquals(r.body, bytes);
        assertEquals(runs(s), 0, "served from KV without the pipeline");
        // t=otsu resolves from the image stats stored in KV: still no pixel work after a restart.
        await withStatsWarm(s);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

async function withStatsWarm(s: TestServer) {
  const first = await get(`${s.url}/dzi/CMU-1-Small-Region.svs_files/11/1_1.png?op=threshold`);
  assertEquals(first.status, 200);
  assertEquals(s.service.context.stats.computations, 1);
}

Deno.test(
  "200 concurrent identical requests compute once; a failure fails every waiter and is not cached",
  opts,
  async () => {
    await withServer({}, async (s) => {
      const all = await Promise.all(
        Array.from({ length: 200 }, () => get(`${s.url}/dzi/CMU-1-Small-Region.svs_files/12/4_6.png`)),
      );
      assert(all.every((r) => r.status === 200));
      assert(all.every((r) => r.body.length === all[0].body.length && r.body.every((v, i) => v === all[0].body[i])));
      assertEquals(runs(s), 1);
    });
    const dir = await Deno.makeTempDir();
    try {
      const svs = await Deno.readFile(DATA + "large_image__rgba_geotiff.tiff");
      await Deno.writeFile(`${dir}/cut.tif`, svs.subarray(0, 470_000));
      await withServer({ IMAGES_DIR: dir }, async (s) => {
        const url = `${s.url}/dzi/cut.tif_files/10/2_2.png`;
        const all = await Promise.all(Array.from({ length: 20 }, () => get(url)));
        assert(all.every((r) => r.status === 422), "every waiter gets the error");
        assertEquals(runs(s), 1);
        assertEquals((await get(url)).status, 422);
        assertEquals(runs(s), 2, "the failure was not cached");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "a 300 KiB tile round-trips through KV chunks; a corrupted manifest or chunk is recomputed",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    const env = { KV_PATH: `${dir}/cache.kv`, IMAGES_DIR: DATA };
    // The 600×400 photo as PNG: over 300 KiB, several 64 KiB chunks.
    const url = "/thumbnail/skimage__coffee.png.png?width=600";
    try {
      let bytes: Uint8Array = new Uint8Array();
      await withServer(env, async (s) => {
        const r = await get(s.url + url);
        assertEquals(r.status, 200);
        assert(r.body.length > 300 * 1024, `tile of ${r.body.length} bytes`);
        bytes = r.body;
      });
      await withServer(env, async (s) => {
        const r = await get(s.url + url);
        assertEquals(r.headers.get("x-cache"), "hit");
        assertEquals(r.body, bytes, "identical after chunking");
        assertEquals(runs(s), 0);
      });
      // Damage the entry: drop one chunk.
      const kv = await Deno.openKv(`${dir}/cache.kv`);
      let chunkKey: Deno.KvKey | null = null;
      for await (const e of kv.list({ prefix: ["tile"] })) if (e.key.length === 5 && e.key[4] === 1) chunkKey = e.key;
      assert(chunkKey, "found a chunk");
      await kv.delete(chunkKey!);
      kv.close();
      await withServer(env, async (s) => {
        const r = await get(s.url + url);
        assertEquals([r.headers.get("x-cache"), runs(s)], ["miss", 1], "missing chunk → recomputed");
        assertEquals(r.body, bytes);
        assertEquals(Number((await s.service.context.metrics.cacheCorrupt.get()).values[0]?.value ?? 0), 1);
      });
      // The recomputed tile overwrote the entry; now damage its manifest.
      const kv2 = await Deno.openKv(`${dir}/cache.kv`);
      for await (const e of kv2.list({ prefix: ["tile"] })) {
        if (e.key.length === 2) {
          await kv2.set(e.key, { v: 1, length: "x" });
        }
      }
      kv2.close();
      await withServer(env, async (s) => {
        assertEquals((await get(s.url + url)).headers.get("x-cache"), "miss", "bad manifest → recomputed");
      });
      await withServer(env, async (s) => {
        assertEquals((await get(s.url + url)).headers.get("x-cache"), "hit", "and overwritten");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("replacing the source gives a new ETag and new pixels; ?v= pins a version", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(DATA + "skimage__coffee.png", `${dir}/img.png`);
    await withServer({ IMAGES_DIR: dir, KV_PATH: `${dir}/cache.kv` }, async (s) => {
      const tile = `${s.url}/dzi/img.png_files/9/0_0.png`;
      const a = await get(tile);
      const version = JSON.parse(new TextDecoder().decode((await get(`${s.url}/images/img.png`)).body)).version;
      const pinned = await get(`${tile}?v=${version}`);
      assertEquals(pinned.headers.get("cache-control"), "public, max-age=31536000, immutable");
      assertEquals(pinned.headers.get("etag"), a.headers.get("etag"), "the same pixels");
      assert(!a.headers.get("cache-control")!.includes("immutable"));
      await Deno.copyFile(DATA + "openslide-python__boxes.png", `${dir}/img.png`);
      const b = await get(tile);
      assertEquals(b.status, 200);
      assert(b.headers.get("etag") !== a.headers.get("etag"), "new ETag");
      assert(b.body.length !== a.body.length || b.body.some((v, i) => v !== a.body[i]), "new pixels");
      assertEquals(b.headers.get("x-cache"), "miss");
      const old = await get(`${tile}?v=${version}`);
      assertEquals(old.status, 404);
      assertEquals(JSON.parse(new TextDecoder().decode(old.body)).error.code, "stale_version");
      const stale = await fetch(tile, { headers: { "If-None-Match": a.headers.get("etag")! } });
      assertEquals(stale.status, 200, "the old ETag no longer matches");
      await stale.body?.cancel();
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "a same-size file copied over another with its mtime kept (cp -p, rsync -a) is a new version: no stale tiles",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      // An uncompressed TIFF, and the same file with its pixels inverted: same size, different pixels.
      const original = await Deno.readFile(DATA + "libvips__sample.tif");
      const inverted = original.slice();
      for (let i = 4096; i < inverted.length - 4096; i++) inverted[i] = 255 - inverted[i];
      const file = `${dir}/img.tif`;
      await Deno.writeFile(file, original);
      const mtime = (await Deno.stat(file)).mtime!;
      await withServer({ IMAGES_DIR: dir, KV_PATH: `${dir}/cache.kv` }, async (s) => {
        const tile = `${s.url}/dzi/img.tif_files/9/0_0.png`;
        const a = await get(tile);
        assertEquals(a.status, 200);
        await new Promise((r) => setTimeout(r, 1100)); // a later ctime (Deno reports it in whole seconds)
        // Written in place (same inode), mtime put back as `cp -p` does.
        await Deno.writeFile(file, inverted);
        await Deno.utime(file, mtime, mtime);
        const b = await get(tile);
        assertEquals(b.headers.get("x-cache"), "miss", "a new version, not the cached tile");
        assert(b.body.length !== a.body.length || b.body.some((v, i) => v !== a.body[i]), "new pixels");
        // Replaced by rename (rsync -a, tar): a new inode, mtime kept.
        await Deno.writeFile(`${dir}/tmp`, original);
        await Deno.utime(`${dir}/tmp`, mtime, mtime);
        await Deno.rename(`${dir}/tmp`, file);
        const c = await get(tile);
        assertEquals(c.headers.get("x-cache"), "miss");
        assertEquals(c.body, a.body, "the original pixels again");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("cache=false bypasses, cache=refresh recomputes (admin only); bad values are 400", opts, async () => {
  await withServer({ ADMIN_TOKEN: "t0ken" }, async (s) => {
    const admin = { headers: { Authorization: "Bearer t0ken" } };
    const get = async (u: string, init?: RequestInit) => {
      const r = await fetch(u, init ?? (u.includes("cache=") ? admin : undefined));
      return { status: r.status, headers: r.headers, body: new Uint8Array(await r.arrayBuffer()) };
    };
    assertEquals((await get(`${s.url}${TILE}?cache=refresh`, {})).status, 403, "no token, no refresh");
    assertEquals((await get(`${s.url}${TILE}?cache=false`, { headers: { Authorization: "Bearer nope" } })).status, 403);
    assertEquals((await get(s.url + TILE)).headers.get("x-cache"), "miss");
    const bypass = await get(`${s.url}${TILE}?cache=false`);
    assertEquals([bypass.headers.get("x-cache"), bypass.headers.get("cache-control")], ["bypass", "no-store"]);
    assertEquals(runs(s), 2);
    const refresh = await get(`${s.url}${TILE}?cache=refresh`);
    assertEquals(refresh.headers.get("x-cache"), "refresh");
    assertEquals(runs(s), 3);
    assertEquals((await get(s.url + TILE)).headers.get("x-cache"), "hit");
    assertEquals(runs(s), 3);
    assertEquals((await get(`${s.url}${TILE}?cache=maybe`)).status, 400);
  });
});

Deno.test("Deep Zoom and XYZ tiles of the same pixels share one entry; TTL expiry", opts, async () => {
  await withServer({ TILE_SIZE: "256", TILE_OVERLAP: "0", CACHE_TTL: "1" }, async (s) => {
    // CMU 2220×2967: Deep Zoom level 12 = XYZ zoom 4 (downsample 1); tile (2, 3) is interior in both.
    const dz = await get(`${s.url}/dzi/CMU-1-Small-Region.svs_files/12/2_3.jpg`);
    const xyz = await get(`${s.url}/xyz/CMU-1-Small-Region.svs/4/2/3.jpg`);
    assertEquals(dz.headers.get("etag"), xyz.headers.get("etag"));
    assertEquals([dz.headers.get("x-cache"), xyz.headers.get("x-cache")], ["miss", "hit"]);
    assertEquals(runs(s), 1);
    await new Promise((r) => setTimeout(r, 1100));
    assertEquals(
      (await get(`${s.url}/xyz/CMU-1-Small-Region.svs/4/2/3.jpg`)).headers.get("x-cache"),
      "miss",
      "expired",
    );
  });
});

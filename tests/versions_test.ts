/**
 * A local file's version changes on every write (hardening round 3): a rewrite in place within the same
 * second, same size, mtime put back, is a new version — never old tiles from the memory cache or KV, before
 * or after a restart, and never a tile read half from each version.
 */
import { assert, assertEquals } from "./assert.ts";
import { decodePng, firstDifference, get, startServer } from "./helpers.ts";
import { rewriteInPlace, solidTiff } from "./craft_tiff.ts";
import { fileVersion } from "../sources/file_version.ts";
import { openSource } from "../sources/open.ts";
import { HttpError } from "../errors.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** The colour of every pixel of a PNG tile, or "mixed". */
async function colourOf(body: Uint8Array): Promise<string> {
  const px = await decodePng(body, 3);
  const first = [...px.data.subarray(0, 3)].join(",");
  for (let i = 0; i < px.data.length; i += 3) {
    if (px.data[i] !== px.data[0] || px.data[i + 1] !== px.data[1] || px.data[i + 2] !== px.data[2]) return "mixed";
  }
  return first;
}

const BLUE = "0,0,255";

Deno.test(
  "a same-second rewrite in place (size and mtime kept) is a new version, with and without a restart",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    const kv = `${dir}/cache.kv`;
    const path = `${dir}/img/slide.tif`;
    await Deno.mkdir(`${dir}/img`);
    const env = { IMAGES_DIR: `${dir}/img`, KV_PATH: kv, BACKEND: "workers", WORKERS: "1" };
    const tiles = ["/dzi/slide.tif_files/9/0_0.png", "/iiif/3/slide.tif/256,256,256,256/max/0/default.png"];
    try {
      let s = startServer(env);
      let version = "";
      try {
        // The whole story within one second of the clock (retried when a second boundary falls inside it).
        for (let attempt = 0;; attempt++) {
          while (Date.now() % 1000 > 100) await new Promise((r) => setTimeout(r, 5));
          await Deno.writeFile(path, solidTiff(512, [255, 0, 0]));
          const st = await Deno.stat(path);
          // Asked while the red file is there: info and both tiles.
          const asked = [get(`${s.url}/images/slide.tif`), ...tiles.map((t) => get(s.url + t))];
          await new Promise((r) => setTimeout(r, 150));
          await rewriteInPlace(path, solidTiff(512, [0, 0, 255]), st.mtime!);
          const after = await Deno.stat(path);
          const [info, ...answers] = await Promise.all(asked);
          const sameSecond = Math.floor(after.ctime!.getTime() / 1000) === Math.floor(st.ctime!.getTime() / 1000);
          if (!sameSecond && attempt < 3) continue;
          assert(sameSecond, "the rewrite fell within the second of the first write");
          assertEquals([after.size, after.mtime!.getTime(), after.ino], [st.size, st.mtime!.getTime(), st.ino]);
          assertEquals(info.status, 200, text(info.body));
          version = JSON.parse(text(info.body)).version;
          for (const a of answers) {
            assertEquals(a.status, 200, text(a.body));
            assertEquals(await colourOf(a.body), BLUE, "answered from the file as it is once its second is over");
          }
          break;
        }
        for (const t of tiles) {
          const r = await get(s.url + t);
          assertEquals([r.status, await colourOf(r.body)], [200, BLUE], t);
          const pinned = await get(`${s.url}${t}?v=${version}`);
          assertEquals([pinned.status, await colourOf(pinned.body)], [200, BLUE], `${t} pinned to ${version}`);
        }
      } finally {
        await s.close();
      }
      // A restart on the same KV file: still blue.
      s = startServer(env);
      try {
        for (const t of tiles) {
          const r = await get(s.url + t);
          assertEquals([r.status, await colourOf(r.body)], [200, BLUE], `${t} after a restart`);
        }
        // A later rewrite (its own second): the pinned old version is gone, the new one is served.
        await new Promise((r) => setTimeout(r, 1100 - (Date.now() % 1000)));
        const st = await Deno.stat(path);
        await rewriteInPlace(path, solidTiff(512, [0, 255, 0]), st.mtime!);
        const gone = await get(`${s.url}${tiles[0]}?v=${version}`);
        assertEquals(gone.status, 404, text(gone.body));
        assertEquals(JSON.parse(text(gone.body)).error.code, "stale_version");
        for (const t of tiles) assertEquals(await colourOf((await get(s.url + t)).body), "0,255,0", t);
      } finally {
        await s.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("an open source whose file is written in place refuses its reads (409), never mixing versions", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/slide.tif`;
  try {
    await Deno.writeFile(path, solidTiff(512, [255, 0, 0]));
    await new Promise((r) => setTimeout(r, 1100));
    const version = fileVersion(await Deno.stat(path));
    const source = await openSource({ path, version, maxPixels: 1e8, pinned: true });
    try {
      const red = await source.readRegion(0, 0, 0, 256, 256);
      assertEquals([...red.data.subarray(0, 3)], [255, 0, 0]);
      await rewriteInPlace(path, solidTiff(512, [0, 0, 255]), (await Deno.stat(path)).mtime!);
      // The same handle would now read blue bytes for a block not read yet: refused instead.
      const err = await source.readRegion(0, 256, 256, 256, 256).then(() => null, (e) => e);
      assert(err instanceof HttpError, String(err));
      assertEquals([err.status, err.code], [409, "source_changed"]);
      // And a source opened for the old version after the write is refused at open.
      const late = await openSource({ path, version, maxPixels: 1e8, pinned: true }).then(() => null, (e) => e);
      assertEquals([late?.status, late?.code], [409, "source_changed"]);
    } finally {
      await source.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The complete entries of a (possibly cut-off) tar stream: name and body; `ended` when its end blocks came. */
function tarEntries(bytes: Uint8Array): { entries: { name: string; body: Uint8Array }[]; ended: boolean } {
  const entries: { name: string; body: Uint8Array }[] = [];
  let at = 0;
  while (at + 512 <= bytes.length) {
    const h = bytes.subarray(at, at + 512);
    if (h.every((b) => b === 0)) return { entries, ended: at + 1024 <= bytes.length };
    const name = new TextDecoder().decode(h.subarray(0, 100)).replace(/\0.*$/s, "");
    const size = parseInt(new TextDecoder().decode(h.subarray(124, 136)).replace(/\0.*$/s, ""), 8);
    if (at + 512 + size > bytes.length) break;
    entries.push({ name, body: bytes.subarray(at + 512, at + 512 + size) });
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return { entries, ended: false };
}

Deno.test(
  "a file written during its export ends the stream as a failed transfer: no archive of two versions",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    const path = `${dir}/slide.tif`;
    // 2048² in 256² uncompressed tiles, red; exported as 256 npy patches of 128 px (12 MB: more than the
    // socket buffers hold, so the export is still running when the file changes).
    try {
      await Deno.writeFile(path, solidTiff(2048, [255, 0, 0]));
      const s = startServer({ IMAGES_DIR: dir, KV_PATH: "off", BACKEND: "workers", WORKERS: "2" });
      try {
        const res = await fetch(`${s.url}/images/slide.tif/patches.tar?size=128&min=0&format=npy`);
        assertEquals(res.status, 200);
        assertEquals(res.headers.get("x-patch-count"), "256");
        const reader = res.body!.getReader();
        const chunks: Uint8Array[] = [];
        let received = 0, failed = false;
        const read = async () => {
          const r = await reader.read();
          if (r.value) (chunks.push(r.value), received += r.value.length);
          return r.done;
        };
        while (received < 20 * 1024) if (await read()) break;
        // Written in place (same size, mtime put back) while the export runs, a second after its first write.
        await new Promise((r) => setTimeout(r, 1100 - (Date.now() % 1000)));
        await rewriteInPlace(path, solidTiff(2048, [0, 0, 255]), (await Deno.stat(path)).mtime!);
        try {
          while (!(await read()));
        } catch {
          failed = true;
        }
        const all = new Uint8Array(received);
        chunks.reduce((at, c) => (all.set(c, at), at + c.length), 0);
        const { entries, ended } = tarEntries(all);
        assert(failed, `the transfer failed (${entries.length} entries came)`);
        assert(!ended, "no closing tar blocks");
        assert(!entries.some((e) => e.name === "summary.json" || e.name === "manifest.jsonl"), "no summary");
        assert(entries.length > 0 && entries.length < 256, `${entries.length} patches before the end`);
        // Every patch of a one-colour image is the same array: the first one's, red (its first sample 255).
        const first = entries[0].body,
          data = first.subarray(10 + new DataView(first.buffer, first.byteOffset).getUint16(8, true));
        assertEquals([data[0], data.length], [255, 128 * 128 * 3], "a red patch");
        for (const e of entries) {
          assertEquals(firstDifference(e.body, first), null, `${e.name}: only the first version`);
        }
        const metrics = text((await get(`${s.url}/metrics`)).body);
        assert(/^edgetile_export_failures_total\{code="source_changed"\} 1$/m.test(metrics), "the failure counted");
      } finally {
        await s.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

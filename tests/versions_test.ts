/**
 * A local file's version changes on every write (hardening round 3): a rewrite in place within the same
 * second, same size, mtime put back, is a new version — never old tiles from the memory cache or KV, before
 * or after a restart, and never a tile read half from each version.
 */
import { assert, assertEquals } from "./assert.ts";
import { decodePng, get, startServer } from "./helpers.ts";
import { craftTiff } from "./craft_tiff.ts";
import { fileVersion } from "../sources/file_version.ts";
import { openSource } from "../sources/open.ts";
import { HttpError } from "../errors.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** An uncompressed 512×512 RGB TIFF in 256² tiles of one colour: every colour gives the same size. */
export function solidTiff(rgb: [number, number, number]): Uint8Array {
  const tile = new Uint8Array(256 * 256 * 3);
  for (let i = 0; i < tile.length; i += 3) tile.set(rgb, i);
  return craftTiff([{
    width: 512,
    height: 512,
    tile: [256, 256],
    samplesPerPixel: 3,
    bitsPerSample: 8,
    compression: 1,
    photometric: 2,
    blocks: [tile, tile, tile, tile],
  }]);
}

/** Writes `bytes` over the file in place (same inode, no truncation) and puts its mtime back. */
export async function rewriteInPlace(path: string, bytes: Uint8Array, mtime: Date) {
  const f = await Deno.open(path, { write: true });
  await f.write(bytes);
  f.close();
  await Deno.utime(path, mtime, mtime);
}

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
          await Deno.writeFile(path, solidTiff([255, 0, 0]));
          const st = await Deno.stat(path);
          // Asked while the red file is there: info and both tiles.
          const asked = [get(`${s.url}/images/slide.tif`), ...tiles.map((t) => get(s.url + t))];
          await new Promise((r) => setTimeout(r, 150));
          await rewriteInPlace(path, solidTiff([0, 0, 255]), st.mtime!);
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
        await rewriteInPlace(path, solidTiff([0, 255, 0]), st.mtime!);
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
    await Deno.writeFile(path, solidTiff([255, 0, 0]));
    await new Promise((r) => setTimeout(r, 1100));
    const version = fileVersion(await Deno.stat(path));
    const source = await openSource({ path, version, maxPixels: 1e8, pinned: true });
    try {
      const red = await source.readRegion(0, 0, 0, 256, 256);
      assertEquals([...red.data.subarray(0, 3)], [255, 0, 0]);
      await rewriteInPlace(path, solidTiff([0, 0, 255]), (await Deno.stat(path)).mtime!);
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

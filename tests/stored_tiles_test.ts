/**
 * Whole stored JPEG tiles passed through as they are are read on the router thread (service/stored_tiles.ts),
 * not sent to a worker; a slow read sends them back to the workers for a while.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, get, withServer } from "./helpers.ts";
import { storedTileBytes as storedTile } from "./jpeg_reference.ts";
import type { WorkerPool } from "../workers/pool.ts";
import { StoredTiles } from "../service/stored_tiles.ts";
import { openSource, type SourceDescriptor } from "../sources/open.ts";
import { createRuntime } from "../cache/runtime.ts";
import type { TileRequest } from "../pipeline/tile_request.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const PYRAMID = "generated__coffee-6x6_jpeg_pyramid.tif";

const endsWith = (a: Uint8Array, b: Uint8Array) =>
  a.length >= b.length && b.every((v, i) => a[a.length - b.length + i] === v);

Deno.test("stored tiles passed through as they are are read on the router, not sent to a worker", opts, async () => {
  await withServer({ IMAGES_DIR: DATA, CACHE: "off" }, async (s) => {
    const ctx = s.service.context;
    const pool = ctx.backend as WorkerPool;
    const sent = () => pool.sentPerWorker().reduce((a, n) => a + n, 0);
    const stored = ctx.storedTiles!;
    assert(stored, "a worker pool has router reads");
    const before = sent();
    for (const [tx, ty] of [[1, 1], [2, 1], [0, 3]]) {
      const r = await get(`${s.url}/iiif/3/${PYRAMID}/${tx * 256},${ty * 256},256,256/256,/0/default.jpg`);
      assertEquals([r.status, r.headers.get("x-pass-through"), r.headers.get("x-backend")], [
        200,
        "stored-jpeg",
        "workers",
      ]);
      assert(endsWith(r.body, await storedTile(PYRAMID, tx, ty)), `tile ${tx},${ty}: the file's own bytes`);
    }
    assertEquals([stored.read, sent() - before], [3, 0], "read here, no job sent");
    const metrics = new TextDecoder().decode((await get(`${s.url}/metrics`)).body);
    assert(/^edgetile_stored_tile_reads_total 3$/m.test(metrics), "counted in /metrics");
    assert(/^edgetile_stored_tile_pauses_total 0$/m.test(metrics));
    // Not a whole stored tile, or an op: the workers.
    const shifted = await get(`${s.url}/iiif/3/${PYRAMID}/257,256,256,256/256,/0/default.jpg`);
    const gray = await get(`${s.url}/iiif/3/${PYRAMID}/256,256,256,256/256,/0/gray.jpg`);
    const png = await get(`${s.url}/iiif/3/${PYRAMID}/256,256,256,256/256,/0/default.png`);
    assertEquals([shifted.status, gray.status, png.status], [200, 200, 200]);
    assertEquals([stored.read, sent() - before], [3, 3]);
    // A stored tile in WebP is no JPEG: the read declines it and the workers compute it.
    const webp = await get(`${s.url}/iiif/3/generated__coffee-6x6_webp_pyramid.tif/256,256,256,256/256,/0/default.jpg`);
    assertEquals([webp.status, webp.headers.get("x-pass-through"), stored.read, sent() - before], [200, null, 3, 4]);
    // A DICOM frame passes through on a worker: its length is the file's word, not capped as a TIFF tile's is.
    const dicom = await get(`${s.url}/iiif/3/generated__cmu-1-small-region_dicom/240,240,240,240/240,/0/default.jpg`);
    assertEquals([dicom.status, dicom.headers.get("x-pass-through"), stored.read, sent() - before], [
      200,
      "stored-jpeg",
      3,
      5,
    ]);
  });
});

Deno.test("slow reads in a row send stored tiles to the workers for a while; one alone does not", opts, async () => {
  const path = DATA + PYRAMID;
  const d: SourceDescriptor = { path, version: "v", maxPixels: 1e9 };
  const info = await openSource(d).then(async (src) => {
    await src.close();
    return src.info;
  });
  const req: TileRequest = {
    image: PYRAMID,
    version: "v",
    region: { x: 256, y: 256, w: 256, h: 256 },
    outWidth: 256,
    outHeight: 256,
    op: { name: "none", params: {} },
    format: "jpeg",
    quality: 80,
  };
  // The thread's slow reads in a row, as sources/bytes.ts counts them, played by the test.
  let t = 0, inRow = 0;
  const stored = new StoredTiles(createRuntime(), "workers", {
    slowRun: 3,
    offMs: 1000,
    now: () => t,
    slowReadsInRow: () => inRow,
  });
  // A read made while paused is none; the count a test sets for it goes unread.
  const read = (slow: boolean) => {
    inRow = slow ? inRow + 1 : 0;
    return stored.tile(d, info, req);
  };
  try {
    // Slow, slow, fast, slow, slow: never three in a row, every tile read here.
    for (const slow of [true, true, false, true, true]) assert(await read(slow), `a ${slow ? "slow" : "fast"} read`);
    assertEquals([stored.read, stored.pauses], [5, 0]);
    assert(await read(true), "the read after the third slow one in a row is still made");
    assertEquals([stored.read, stored.pauses], [6, 1]);
    t += 999;
    assertEquals(await read(false), null, "then the workers take them");
    t += 1;
    const again = await read(false);
    assert(endsWith(again!.bytes, await storedTile(PYRAMID, 1, 1)), "after the pause, read here again");
    assertEquals([stored.read, stored.pauses], [7, 1]);
  } finally {
    await stored.close();
  }
});

Deno.test(
  "a stored JPEG tile whose byte count no JPEG of its size needs is not passed through as bytes",
  opts,
  async () => {
    const file = await Deno.readFile(DATA + PYRAMID);
    const view = new DataView(file.buffer);
    // The first IFD's TileByteCounts (tag 325, LONG) of this little-endian classic TIFF: tile (1, 1) is index 16.
    const ifd = view.getUint32(4, true);
    let counts = 0;
    for (let i = 0, n = view.getUint16(ifd, true); i < n; i++) {
      const at = ifd + 2 + 12 * i;
      if (view.getUint16(at, true) === 325) counts = view.getUint32(at + 8, true);
    }
    assert(counts > 0, "TileByteCounts found");
    const dir = await Deno.makeTempDir();
    const d = (name: string): SourceDescriptor => ({ path: `${dir}/${name}`, version: "v", maxPixels: 1e9 });
    try {
      await Deno.writeFile(`${dir}/as-is.tif`, file);
      // 600,000 bytes: within the file, more than twice the tile's 196,608 samples and 64 KiB.
      view.setUint32(counts + 16 * 4, 600_000, true);
      await Deno.writeFile(`${dir}/huge-count.tif`, file);
      for (const [name, passes] of [["as-is.tif", true], ["huge-count.tif", false]] as const) {
        const src = await openSource(d(name));
        try {
          const jpeg = await src.readStoredJpeg!(0, 1, 1);
          assertEquals(jpeg !== null, passes, name);
          if (jpeg) assert(endsWith(jpeg, await storedTile(PYRAMID, 1, 1)));
        } finally {
          await src.close();
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/**
 * Files whose block layout killed the server (hardening round 3): tile offsets without a tile size, a
 * million tiny tiles, block counts that disagree with the grid, a read touching too many blocks; tiles kept
 * under the strip tags (libtiff reads them); and work whose request ended: its worker is ended and the
 * memory it held is gone (RSS of the server's own process).
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, firstDifference, get, withServer } from "./helpers.ts";
import { craftTiff, deflatedZeros } from "./craft_tiff.ts";
import { MAX_BLOCKS_PER_READ } from "../sources/tiff_layout.ts";
import { openSource } from "../sources/open.ts";
import { HttpError } from "../errors.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** One deflated block of `n` zero bytes, shared by every tile of a crafted grid (the file stays small). */
async function grid(
  width: number,
  height: number,
  tile: [number, number],
  extra: Partial<Parameters<typeof craftTiff>[0][0]> = {},
) {
  const block = await deflatedZeros(tile[0] * tile[1] * 3);
  const n = Math.ceil(width / tile[0]) * Math.ceil(height / tile[1]);
  return craftTiff([{
    width,
    height,
    tile,
    samplesPerPixel: 3,
    bitsPerSample: 8,
    compression: 8,
    photometric: 2,
    blocks: Array(n).fill(block),
    ...extra,
  }]);
}

Deno.test(
  "layout: tile offsets without a tile size, wrong block counts are 422; a million tiny tiles 413, at open",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeFile(`${dir}/no-tile-size.tif`, await grid(512, 512, [512, 512], { omit: [322, 323] }));
      // 4096² in 16×1 tiles: 1,048,576 blocks (the outside tester's file; 30 s to a 504 and +4 GB a request).
      await Deno.writeFile(`${dir}/million.tif`, await grid(4096, 4096, [16, 1]));
      // A grid of 4 tiles that lists 3.
      await Deno.writeFile(
        `${dir}/short.tif`,
        craftTiff([{
          width: 512,
          height: 512,
          tile: [256, 256],
          samplesPerPixel: 3,
          bitsPerSample: 8,
          compression: 8,
          photometric: 2,
          blocks: Array(3).fill(await deflatedZeros(256 * 256 * 3)),
        }]),
      );
      // Strips: 4 strip offsets and no RowsPerStrip (one strip).
      await Deno.writeFile(
        `${dir}/strips.tif`,
        craftTiff([{
          width: 64,
          height: 64,
          rowsPerStrip: 16,
          samplesPerPixel: 3,
          bitsPerSample: 8,
          compression: 8,
          photometric: 2,
          blocks: Array(4).fill(await deflatedZeros(64 * 16 * 3)),
          omit: [278],
        }]),
      );
      // Fine: 512² in 16×1 tiles (16,384 blocks), and 4096² in 16×16 (65,536 blocks).
      await Deno.writeFile(`${dir}/small-ok.tif`, await grid(512, 512, [16, 1]));
      await Deno.writeFile(`${dir}/grid-ok.tif`, await grid(4096, 4096, [16, 16]));
      await withServer({ IMAGES_DIR: dir, KV_PATH: "off", WORKERS: "1" }, async (s) => {
        const expect: [string, number, RegExp][] = [
          ["no-tile-size.tif", 422, /TileOffsets but no valid TileWidth and TileLength/],
          ["short.tif", 422, /3 TileOffsets and 3 TileByteCounts, where its 512×512 grid .* has 4/],
          ["strips.tif", 422, /4 strip offsets but no RowsPerStrip/],
          ["million.tif", 413, /1048576 tiles of 16×1 pixels: more than 65536 blocks must be at least 4096 pixels/],
        ];
        for (const [id, status, message] of expect) {
          for (const path of [`/images/${id}`, `/dzi/${id}_files/9/0_0.jpeg`, `/iiif/3/${id}/full/max/0/default.jpg`]) {
            const r = await get(`${s.url}${path}`);
            assertEquals(r.status, status, `${path}: ${text(r.body)}`);
            const body = JSON.parse(text(r.body));
            assert(message.test(body.error.message), `${path}: ${body.error.message}`);
          }
        }
        assertEquals((await get(`${s.url}/dzi/small-ok.tif_files/9/1_1.png`)).status, 200);
        assertEquals((await get(`${s.url}/dzi/grid-ok.tif_files/12/3_5.png`)).status, 200);
        // Listed as files the service does not read, with the reason their URLs give.
        const listed = JSON.parse(text((await get(`${s.url}/images`)).body)).images;
        for (const [id, status] of expect) {
          const row = listed.find((i: { id: string }) => i.id === id);
          assertEquals([row?.supported, row?.error.status], [false, status], id);
        }
        assertEquals((await get(`${s.url}/health`)).status, 200);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("a read that would touch more blocks than the limit is a 413 before anything is read", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    // 16384×6144 RGB, planar, in 64×64 tiles: 73,728 blocks, none small (fine at open); all at once is past
    // the bound of one read (and would assemble 302 MB).
    const width = 16384, height = 6144, n = (width / 64) * (height / 64) * 3;
    const path = `${dir}/planar.tif`;
    await Deno.writeFile(
      path,
      craftTiff([{
        width,
        height,
        tile: [64, 64],
        samplesPerPixel: 3,
        bitsPerSample: 8,
        compression: 8,
        photometric: 2,
        planar: 2,
        blocks: Array(n).fill(await deflatedZeros(64 * 64)),
      }]),
    );
    const source = await openSource({ path, version: "1", maxPixels: 1e8 });
    try {
      const part = await source.readRegion(0, 64, 64, 256, 256);
      assertEquals([part.width, part.height, part.channels], [256, 256, 3]);
      const err = await source.readRegion(0, 0, 0, width, height).then(() => null, (e) => e);
      assert(err instanceof HttpError && err.status === 413, String(err));
      assert(
        new RegExp(`touches ${n} blocks, more than the limit of ${MAX_BLOCKS_PER_READ}`).test(err.message),
        err.message,
      );
    } finally {
      await source.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Resident memory of process `pid` in bytes (Linux). */
export async function rssOf(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
}

Deno.test(
  "work whose request ended stops: a worker still at it after the grace is ended, its memory is gone",
  opts,
  async () => {
    // The server in a process of its own; its one worker's next job runs forever, holding 512 MiB and
    // heartbeating all the while (as the million-tile read did): only the request's end can stop it.
    // The job timeout leaves its 512 MiB (0.5 s quiet) ten times the time to be taken on a busy machine.
    const env = { WORKERS: "1", TIMEOUT_MS: "5000", IMAGES_DIR: new URL("../samples/", import.meta.url).pathname };
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./sabotaged_server.ts", import.meta.url).pathname, JSON.stringify(env), "runaway"],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      const url = (await lines.read()).value!.trim();
      assertEquals((await get(`${url}/health`)).status, 200);
      const idle = await rssOf(child.pid);
      let peak = idle;
      const watch = setInterval(async () => (peak = Math.max(peak, await rssOf(child.pid))), 50);
      const r = await get(`${url}/dzi/CMU-1-Small-Region.svs_files/12/1_1.png`);
      assertEquals(r.status, 504, text(r.body));
      // The worker is ended `abandonGraceMs` (2 s, the default) after the request's end;
      // its 512 MiB go with it. 20 s only catches a hang.
      let now = await rssOf(child.pid);
      for (let i = 0; i < 200 && now > idle + 150 * 2 ** 20; i++) {
        await new Promise((res) => setTimeout(res, 100));
        now = await rssOf(child.pid);
      }
      clearInterval(watch);
      const mib = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;
      assert(peak > idle + 300 * 2 ** 20, `the runaway job held its memory (idle ${mib(idle)}, peak ${mib(peak)})`);
      assert(now <= idle + 150 * 2 ** 20, `back to idle: ${mib(now)} against ${mib(idle)} before`);
      const metrics = text((await get(`${url}/metrics`)).body);
      assert(/^edgetile_worker_abandoned_kills_total 1$/m.test(metrics), "the ended worker counted");
      assertEquals((await get(`${url}/dzi/CMU-1-Small-Region.svs_files/12/1_1.png`)).status, 200, "a fresh worker");
    } finally {
      child.kill();
      await child.status;
      await lines.cancel().catch(() => {});
    }
  },
);

Deno.test(
  "tiles kept under StripOffsets/StripByteCounts (libtiff's cramps-tile.tif) read as tifffile reads them",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      // Real pixels: the coffee photo's top-left 512×384 (Pillow), cut into 256×128 uncompressed tiles.
      const py = `import sys, numpy as np
from PIL import Image
a = np.asarray(Image.open(sys.argv[1]).convert("RGB"))[:384, :512]
open(sys.argv[2], "wb").write(np.ascontiguousarray(a).tobytes())`;
      const raw = `${dir}/coffee.rgb`;
      const out = await new Deno.Command("/usr/bin/python3", { args: ["-c", py, `${DATA}skimage__coffee.png`, raw] })
        .output();
      assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      const rgb = await Deno.readFile(raw);
      const blocks: Uint8Array[] = [];
      for (let ty = 0; ty < 3; ty++) {
        for (let tx = 0; tx < 2; tx++) {
          const b = new Uint8Array(256 * 128 * 3);
          for (let y = 0; y < 128; y++) {
            const from = ((ty * 128 + y) * 512 + tx * 256) * 3;
            b.set(rgb.subarray(from, from + 256 * 3), y * 256 * 3);
          }
          blocks.push(b);
        }
      }
      const tif = `${dir}/cramps-like.tif`;
      await Deno.writeFile(
        tif,
        craftTiff([{
          width: 512,
          height: 384,
          tile: [256, 128],
          tilesAsStrips: true,
          samplesPerPixel: 3,
          bitsPerSample: 8,
          compression: 1,
          photometric: 2,
          blocks,
        }]),
      );
      // tifffile's reading of the same file, as raw RGB.
      const ref = `${dir}/ref.rgb`;
      const py2 = `import sys, tifffile
a = tifffile.imread(sys.argv[1])
open(sys.argv[2], "wb").write(a.tobytes())
print(a.shape)`;
      const out2 = await new Deno.Command("/usr/bin/python3", { args: ["-c", py2, tif, ref] }).output();
      assertEquals(out2.code, 0, new TextDecoder().decode(out2.stderr));
      assertEquals(new TextDecoder().decode(out2.stdout).trim(), "(384, 512, 3)");
      const expected = await Deno.readFile(ref);
      const source = await openSource({ path: tif, version: "1", maxPixels: 1e8 });
      try {
        const region = await source.readRegion(0, 0, 0, 512, 384);
        assertEquals(
          firstDifference(new Uint8Array(region.data.buffer, region.data.byteOffset, 512 * 384 * 3), expected),
          null,
        );
        const part = await source.readRegion(0, 200, 100, 100, 100);
        const want = new Uint8Array(100 * 100 * 3);
        for (let y = 0; y < 100; y++) {
          want.set(
            expected.subarray(((100 + y) * 512 + 200) * 3, ((100 + y) * 512 + 300) * 3),
            y * 300,
          );
        }
        assertEquals(firstDifference(part.data as Uint8Array, want), null, "a region across four tiles");
      } finally {
        await source.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

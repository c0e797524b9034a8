/** Self-healing and limits: crashed and hung workers, timeouts, overload, long URLs, traversal. */
import { assert, assertEquals } from "./assert.ts";
import { DATA, get, type TestServer, withServer } from "./helpers.ts";
import { PER_WORKER, WorkerPool } from "../workers/pool.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

function pool(s: TestServer): WorkerPool {
  return s.service.context.backend as WorkerPool;
}

Deno.test("a crashed worker is replaced and its job retried: every request still answers", opts, async () => {
  await withServer({ WORKERS: "1" }, async (s) => {
    const inflight = Array.from(
      { length: 6 },
      (_, i) => get(`${s.url}/dzi/CMU-1-Small-Region.svs_files/12/${i}_2.png`),
    );
    pool(s).sabotage("crash");
    const all = await Promise.all(inflight);
    assert(all.every((r) => r.status === 200), all.map((r) => r.status).join(","));
    assertEquals(pool(s).restarts, 1);
    const ready = await get(`${s.url}/ready`);
    assertEquals(ready.status, 503, "not ready right after a restart");
    assertEquals(JSON.parse(new TextDecoder().decode(ready.body)).workerRestarts, 1);
    assertEquals((await get(`${s.url}/dzi/CMU-1-Small-Region.svs_files/12/7_7.jpeg`)).status, 200, "still serving");
    const metrics = new TextDecoder().decode((await get(`${s.url}/metrics`)).body);
    assert(/^edgetile_worker_restarts_total 1$/m.test(metrics), "the restart counted in /metrics");
  });
});

Deno.test("a hung worker is terminated after the job timeout and the job retried on a fresh one", opts, async () => {
  await withServer({ WORKERS: "1", TIMEOUT_MS: "3000" }, async (s) => {
    pool(s).sabotage("hang");
    const t0 = performance.now();
    const r = await get(`${s.url}/dzi/CMU-1-Small-Region.svs_files/12/3_3.png`);
    const ms = performance.now() - t0;
    assertEquals(r.status, 200);
    // Not before the 1.5 s job timeout: the hung worker was waited for, then its job retried (the restart).
    assert(ms >= 1400, `answered after the 1.5 s job timeout and a retry (${ms.toFixed(0)} ms)`);
    assertEquals(pool(s).restarts, 1);
  });
});

Deno.test("request timeout: 504 with a JSON body; the server keeps serving", opts, async () => {
  await withServer({ TIMEOUT_MS: "100", KV_PATH: "off" }, async (s) => {
    const r = await get(`${s.url}/thumbnail/CMU-1-Small-Region.svs.png?width=2000&op=mask`);
    assertEquals(r.status, 504);
    assertEquals(JSON.parse(new TextDecoder().decode(r.body)).error.code, "timeout");
    assertEquals((await get(`${s.url}/health`)).status, 200);
  });
});

Deno.test("overload: past the queue bound, 503 with Retry-After; long URLs 414", opts, async () => {
  await withServer({ WORKERS: "1", QUEUE: "2", KV_PATH: "off" }, async (s) => {
    const all = await Promise.all(
      Array.from(
        { length: 12 },
        (_, i) => fetch(`${s.url}/dzi/CMU-1-Small-Region.svs_files/12/${i % 9}_${Math.floor(i / 9)}.png`),
      ),
    );
    const statuses = all.map((r) => r.status);
    for (const r of all) await r.body?.cancel();
    assert(statuses.includes(503) && statuses.includes(200), statuses.join(","));
    const refused = all.find((r) => r.status === 503)!;
    assertEquals(refused.headers.get("retry-after"), "1");
    const long = await get(`${s.url}/images/${"a".repeat(5000)}`);
    assertEquals(long.status, 414);
  });
});

Deno.test("path traversal in every spelling: 400/404, never a file outside the images directory", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/inner`);
    await Deno.copyFile(DATA + "skimage__coffee.png", `${dir}/inner/ok.png`);
    await Deno.symlink(DATA + "skimage__rocket.jpg", `${dir}/inner/out.jpg`);
    await Deno.symlink(DATA, `${dir}/inner/outdir`);
    // Inside: a subfolder, and symlinks to a file and a folder in the directory (served through realpath).
    await Deno.mkdir(`${dir}/inner/sub`);
    await Deno.copyFile(DATA + "skimage__coffee.png", `${dir}/inner/sub/deep.png`);
    await Deno.symlink(`${dir}/inner/ok.png`, `${dir}/inner/link.png`);
    await Deno.symlink(`${dir}/inner/sub`, `${dir}/inner/sublink`);
    await withServer({ IMAGES_DIR: `${dir}/inner` }, async (s) => {
      for (const id of ["ok.png", "sub%2Fdeep.png", "link.png", "sublink%2Fdeep.png"]) {
        assertEquals((await get(`${s.url}/images/${id}`)).status, 200, id);
      }
      for (const id of ["ok.png%2Fx", "sub", "sub%2Fnone.png", "none%2Fdeep.png"]) {
        assertEquals((await get(`${s.url}/images/${id}`)).status, 404, id);
      }
      for (
        const id of [
          "..%2Finner%2Fok.png",
          "%2e%2e%2Finner%2Fok.png",
          "%2E%2E/etc/passwd",
          "%2Fetc%2Fpasswd",
          "ok.png%2F..%2F..%2Fetc%2Fpasswd",
          "out.jpg",
          "outdir%2Fskimage__coffee.png",
          ".%2Fok.png",
          "%5C..%5Cok.png",
          "ok.png%00.jpg",
        ]
      ) {
        const r = await get(`${s.url}/images/${id}`);
        assert(r.status === 400 || r.status === 404, `${id} → ${r.status}`);
      }
      const list = JSON.parse(new TextDecoder().decode((await get(`${s.url}/images`)).body));
      const ids = list.images.map((i: { id: string }) => i.id);
      assertEquals(ids, ["link.png", "ok.png", "sub/deep.png"], "symlinks out (and linked folders) are not listed");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "time in the queue is not hanging: a worker busy with a long queue is never killed as hung",
  opts,
  async () => {
    // TIMEOUT_MS 12 s: a job may block its worker 6 s. Nine whole-slide mask PNGs (~0.9 s each on an idle
    // machine) on one worker: the last ones wait more than 6 s behind the others (the old timer counted
    // that and killed the worker as hung); none of them blocks it for 6 s.
    await withServer({ WORKERS: "1", TIMEOUT_MS: "12000", KV_PATH: "off" }, async (s) => {
      assertEquals((await get(`${s.url}/images/CMU-1-Small-Region.svs/stats`)).status, 200);
      const rs = await Promise.all(
        Array.from(
          { length: 9 },
          (_, i) => get(`${s.url}/iiif/3/CMU-1-Small-Region.svs/full/${2219 - i},/0/default.png?op=mask`),
        ),
      );
      // None killed as hung: a worker may only be ended for a job whose request ended (504) and ran on.
      assertEquals(pool(s).restarts - pool(s).abandonKills, 0, "no worker was killed as hung");
      // Past the request's time limit a request is 504 (and its queued job dropped); large work that would
      // wait too long is shed first (503 with Retry-After) on a busy machine.
      assert(rs.every((r) => [200, 503, 504].includes(r.status)), rs.map((r) => r.status).join());
      assert(rs[0].status === 200, rs.map((r) => r.status).join());
    });
  },
);

Deno.test("jobs of clients that left are dropped before a worker starts them", opts, async () => {
  await withServer({ WORKERS: "1", KV_PATH: "off" }, async (s) => {
    // Image statistics first (the mask's threshold needs them), so the tiles' jobs are what is queued.
    assertEquals((await get(`${s.url}/images/CMU-1-Small-Region.svs/stats`)).status, 200);
    // 40 clients that all give up once at least 38 of their jobs are in the pool (most of them still queued:
    // a worker holds at most PER_WORKER).
    const leave = new AbortController();
    const clients = Promise.all(Array.from({ length: 40 }, async (_, i) => {
      try {
        const url = `${s.url}/dzi/CMU-1-Small-Region.svs_files/12/${i % 9}_${Math.floor(i / 9)}.png?op=mask`;
        const r = await fetch(url, { signal: leave.signal });
        await r.body?.cancel();
      } catch { /* the client left */ }
    }));
    for (let k = 0; k < 500 && pool(s).pending < 38; k++) await new Promise((r) => setTimeout(r, 2));
    const queued = pool(s).pending - PER_WORKER;
    leave.abort();
    await clients;
    // The jobs already running finish (a loaded machine takes a while); nothing else may stay.
    for (let k = 0; k < 100 && pool(s).pending > 0; k++) await new Promise((r) => setTimeout(r, 50));
    assert(queued >= 10, `jobs were queued in the pool (${queued})`);
    // Workers keep finishing jobs (and taking queued ones) until the server sees the clients leave.
    assert(pool(s).cancelled >= 10, `queued jobs of departed clients dropped (${pool(s).cancelled} of ${queued})`);
    assertEquals(pool(s).pending, 0, "nothing left behind");
    assertEquals((await get(`${s.url}/dzi/CMU-1-Small-Region.svs_files/12/0_0.png?op=mask`)).status, 200);
  });
});

// This file loads Node compatibility (the WASM codecs import node:module), as the server does.
Deno.test("yieldToEventLoop: due timers and queued messages run between yields (a heartbeat never stalls)", async () => {
  const { yieldToEventLoop } = await import("../core/yield.ts");
  let beats = 0;
  const beat = setInterval(() => beats++, 5);
  const { port1, port2 } = new MessageChannel();
  let messages = 0;
  port1.onmessage = () => messages++;
  port2.postMessage("cancel");
  // 100 ms of busy work in 1-ms slices, yielding after each: the interval and the message get their turns.
  const t0 = performance.now();
  while (performance.now() - t0 < 100) {
    const t = performance.now();
    while (performance.now() - t < 1) { /* busy */ }
    await yieldToEventLoop();
  }
  clearInterval(beat);
  port1.close();
  port2.close();
  assertEquals(messages, 1);
  assert(beats >= 5, `the interval ran ${beats} times in 100 ms of yielded work`);
});

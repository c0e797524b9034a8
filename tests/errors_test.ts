/**
 * One error policy at the worker boundary: only readers raise `corrupt_source` (422); an unexpected error
 * anywhere else is a 500 `internal` (JSON, no stack), logged and counted in /metrics — where before every
 * error a worker did not expect was reported as a corrupt source.
 */
import { assert, assertEquals } from "./assert.ts";
import { get, withServer } from "./helpers.ts";
import { HttpError } from "../errors.ts";
import { InlineBackend, type TileBackend } from "../workers/backend.ts";
import { WorkerPool } from "../workers/pool.ts";
import { readerBoundary } from "../sources/source_cache.ts";
import { openSource } from "../sources/open.ts";
import { SAMPLES } from "./helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const input = { width: 4, height: 4, channels: 3, type: "uint8" as const, data: new Uint8Array(48) };

async function failure(p: Promise<unknown>): Promise<HttpError> {
  try {
    await p;
  } catch (err) {
    assert(err instanceof HttpError, String(err));
    return err;
  }
  throw new Error("did not fail");
}

Deno.test("a bug in a task (not a reader) is 500 internal on the inline backend and on the workers", opts, async () => {
  const backends: TileBackend[] = [new InlineBackend(), new WorkerPool({ size: 1 })];
  try {
    for (const b of backends) {
      const e = await failure(b.run(undefined, { kind: "kernel", job: { kernel: "no-such-kernel", input } }));
      assertEquals([e.status, e.code, e.message], [500, "internal", "internal error"], b.name);
    }
  } finally {
    for (const b of backends) await b.close();
  }
});

Deno.test("the reader boundary: a read's unexpected error is a 422 corrupt source, HttpErrors pass as they are", async () => {
  const real = await openSource({ path: `${SAMPLES}coffee.png`, version: "t", maxPixels: 1e8 });
  try {
    const broken = readerBoundary({
      ...real,
      info: real.info,
      readRegion: () => Promise.reject(new RangeError("Offset is outside the bounds of the DataView")),
      readAssociated: () => {
        throw new TypeError("cannot read properties of undefined");
      },
      close: () => real.close(),
    });
    const a = await failure(broken.readRegion(0, 0, 0, 1, 1));
    assertEquals([a.status, a.code], [422, "corrupt_source"]);
    assert(a.message.includes("outside the bounds"), a.message);
    assertEquals((await failure(broken.readAssociated("label"))).status, 422);
    // A real read through the boundary still works, and its own 404 stays a 404.
    const ok = readerBoundary(real);
    assertEquals((await ok.readRegion(0, 0, 0, 2, 2)).width, 2);
    assertEquals((await failure(ok.readAssociated("label"))).status, 404);
  } finally {
    await real.close();
  }
});

Deno.test("over HTTP: an unexpected error is a JSON 500 without a stack, counted in /metrics", opts, async () => {
  await withServer({}, async (s) => {
    const backend = s.service.context.backend;
    const run = backend.run.bind(backend);
    backend.run = () => Promise.reject(new TypeError("a bug: x is undefined"));
    try {
      const r = await get(`${s.url}/dzi/coffee.png_files/8/0_0.jpeg`);
      assertEquals(r.status, 500);
      assertEquals(r.headers.get("content-type"), "application/json; charset=utf-8");
      const body = new TextDecoder().decode(r.body);
      assertEquals(JSON.parse(body), { error: { status: 500, code: "internal", message: "internal error" } });
      assert(!body.includes("TypeError") && !body.includes(".ts:"), body);
    } finally {
      backend.run = run;
    }
    const metrics = new TextDecoder().decode((await get(`${s.url}/metrics`)).body);
    assert(/^edgetile_internal_errors_total 1$/m.test(metrics), "counted once");
    assertEquals((await get(`${s.url}/dzi/coffee.png_files/8/0_0.jpeg`)).status, 200);
  });
});

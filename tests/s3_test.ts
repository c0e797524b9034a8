/**
 * Private object storage as a source (issue 40, part 1), against a real SigV4 store: Debian's OpenStack
 * Swift with `s3api`, started here on 127.0.0.1 (tests/swift.ts). Its reads go through a counting TCP relay
 * (bytes passed unchanged, so signatures hold), so the requests each tile costs are counted.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, get, SAMPLES, type StartedTask, startServer, startTask, type TestServer } from "./helpers.ts";
import { countingRelay, hasSwift, startSwift, type TestS3 } from "./swift.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const s3Opts = { ...opts, ignore: !(await hasSwift()) && Deno.env.get("CI") !== "true" };
const enc = encodeURIComponent;
const json = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b));

/** Swift with the slides bucket, a relay in front, and a server reading the bucket with `secret`. */
async function withStore(
  fn: (s3: TestS3, s: TestServer, r: ReturnType<typeof countingRelay>) => Promise<void>,
  env = {},
) {
  const s3 = await startSwift();
  const r = countingRelay(Number(new URL(s3.endpoint).port));
  const s = startServer({
    IMAGES_DIR: SAMPLES,
    BACKEND: "workers",
    WORKERS: "1",
    S3_BUCKETS: "slides",
    S3_FORCE_PATH_STYLE: "true",
    ALLOWED_ORIGINS: r.url,
    AWS_ENDPOINT_URL_S3: r.url,
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    AWS_REGION: "us-east-1",
    ...env,
  });
  try {
    await s3.put("slides", {
      "wsi/cmu.svs": await Deno.readFile(`${SAMPLES}CMU-1-Small-Region.svs`),
      "flat/coffee.png": await Deno.readFile(`${DATA}skimage__coffee.png`),
    });
    await fn(s3, s, r);
  } finally {
    await s.close();
    r.close();
    await s3.stop();
  }
}

Deno.test(
  "a slide in a private bucket: the local file's tiles, byte for byte, by a bounded number of signed ranges",
  s3Opts,
  async () => {
    await withStore(async (_s3, s, r) => {
      const id = enc("s3://slides/wsi/cmu.svs");
      const info = json((await get(`${s.url}/images/${id}`)).body);
      assertEquals([info.width, info.height, info.format], [2220, 2967, "svs"]);
      const opened = r.counter.requests;
      // The worker that reads tiles opens the slide itself once (the same reads as the info above).
      let allowance = opened;
      for (
        const tile of [
          "12/4_5.png?op=gray",
          "12/4_4.png?op=gray",
          "12/5_5.png",
          "12/3_5.jpeg",
          "10/1_1.jpeg",
          "12/0_0.png?op=threshold",
        ]
      ) {
        const before = r.counter.requests;
        const remote = await get(`${s.url}/dzi/${id}_files/${tile}`);
        const local = await get(`${s.url}/dzi/CMU-1-Small-Region.svs_files/${tile}`);
        assertEquals(remote.status, 200, tile);
        assertEquals(remote.body, local.body, `${tile}: identical bytes`);
        // A full-resolution tile spans at most 2×2 stored tiles; a level-10 one is read from a smaller level.
        const asked = r.counter.requests - before;
        assert(asked <= 4 + allowance, `${tile}: ${asked} requests to the store (the slide opened in ${opened})`);
        allowance = 0;
      }
      assert(opened <= 8, `opening the slide: ${opened} requests (a HEAD and the header's blocks)`);
      assertEquals((await get(`${s.url}/iiif/3/${id}/full/,100/0/default.jpg`)).status, 200);
      const flat = await get(`${s.url}/thumbnail/${enc("s3://slides/flat/coffee.png")}.png?width=100`);
      assertEquals(flat.status, 200);
      // The id is the object's name: no credential in a listing, an info document, an ETag or an error.
      for (const body of [JSON.stringify(info), (await get(`${s.url}/dzi/${id}.dzi`)).headers.get("etag") ?? ""]) {
        assert(!body.includes("testing") && !body.includes("Signature"), body);
      }
    });
  },
);

Deno.test(
  "S3 refusals are clean JSON: a wrong secret, unsigned, a missing key, an unlisted bucket",
  s3Opts,
  async () => {
    await withStore(async (s3, s) => {
      const wrong = startServer({
        IMAGES_DIR: SAMPLES,
        BACKEND: "inline",
        S3_BUCKETS: "slides,other",
        S3_FORCE_PATH_STYLE: "true",
        ALLOWED_ORIGINS: s3.endpoint,
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: "not-the-secret",
      });
      const unsigned = startServer({
        IMAGES_DIR: SAMPLES,
        BACKEND: "inline",
        S3_BUCKETS: "slides",
        S3_FORCE_PATH_STYLE: "true",
        ALLOWED_ORIGINS: s3.endpoint,
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        HOME: "/nonexistent",
      });
      try {
        const cases: [string, string, number, string][] = [
          [wrong.url, "s3://slides/wsi/cmu.svs", 502, "source_denied"],
          [unsigned.url, "s3://slides/wsi/cmu.svs", 502, "bad_gateway"], // Swift: 400 to an unsigned read
          [s.url, "s3://slides/wsi/none.svs", 404, "not_found"],
          [s.url, "s3://private/wsi/cmu.svs", 403, "forbidden_bucket"],
          [s.url, "s3://slides", 400, "bad_id"],
        ];
        for (const [url, id, status, code] of cases) {
          const r = await get(`${url}/dzi/${enc(id)}.dzi`);
          const body = new TextDecoder().decode(r.body);
          assertEquals([r.status, json(r.body).error.code], [status, code], `${id}: ${body}`);
          assert(!/testing|not-the-secret|Signature|Credential|at \w+ \(/.test(body), body);
        }
        // An endpoint on loopback not listed in EDGETILE_ALLOWED_ORIGINS is refused before any request.
        const unlisted = startServer({
          IMAGES_DIR: SAMPLES,
          BACKEND: "inline",
          S3_BUCKETS: "slides",
          S3_FORCE_PATH_STYLE: "true",
          AWS_ENDPOINT_URL_S3: s3.endpoint,
          AWS_ACCESS_KEY_ID: s3.accessKeyId,
          AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
        });
        const r = await get(`${unlisted.url}/dzi/${enc("s3://slides/wsi/cmu.svs")}.dzi`);
        assertEquals([r.status, json(r.body).error.code], [403, "forbidden_origin"]);
        await unlisted.close();
      } finally {
        await wrong.close();
        await unsigned.close();
      }
    });
  },
);

Deno.test(
  "an object replaced in the bucket: pinned reads refuse the new bytes, then its new version is served",
  s3Opts,
  async () => {
    await withStore(async (s3, s) => {
      const id = enc("s3://slides/wsi/cmu.svs");
      assertEquals((await get(`${s.url}/dzi/${id}_files/12/0_0.jpeg`)).status, 200);
      await s3.put("slides", { "wsi/cmu.svs": await Deno.readFile(`${DATA}skimage__coffee.png`) });
      // Within the revalidation window the old version is still the one asked for: a read it has not made
      // yet (a tile at the file's other end) is refused by If-Match, never served from the new object's bytes.
      const during = await get(`${s.url}/dzi/${id}_files/12/8_11.jpeg`);
      assertEquals([during.status, json(during.body).error.code], [409, "source_changed"]);
      await new Promise((r) => setTimeout(r, 1100));
      const after = json((await get(`${s.url}/images/${id}`)).body);
      assertEquals([after.format, after.width, after.height], ["png", 600, 400], "the new object");
    }, { REMOTE_REVALIDATE_S: "1" });
  },
);

Deno.test(
  "deno task start reads a private bucket with the profile of a shared credentials file (its grants suffice)",
  s3Opts,
  async () => {
    const s3 = await startSwift();
    const dir = await Deno.makeTempDir();
    let task: StartedTask | undefined;
    try {
      await s3.put("slides", { "cmu.svs": await Deno.readFile(`${SAMPLES}CMU-1-Small-Region.svs`) });
      await Deno.writeTextFile(
        `${dir}/credentials`,
        `[default]\naws_access_key_id = nobody\naws_secret_access_key = wrong\n\n[lab]\n` +
          `aws_access_key_id = ${s3.accessKeyId}\naws_secret_access_key = ${s3.secretAccessKey}\n`,
      );
      task = await startTask({
        EDGETILE_KV_PATH: "off",
        EDGETILE_S3_BUCKETS: "slides",
        EDGETILE_S3_FORCE_PATH_STYLE: "true",
        EDGETILE_ALLOWED_ORIGINS: s3.endpoint,
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_PROFILE: "lab",
        AWS_SHARED_CREDENTIALS_FILE: `${dir}/credentials`,
      });
      const remote = await get(`${task.url}/dzi/${enc("s3://slides/cmu.svs")}_files/12/2_2.jpeg?op=gray`);
      const local = await get(`${task.url}/dzi/CMU-1-Small-Region.svs_files/12/2_2.jpeg?op=gray`);
      assertEquals([remote.status, remote.body], [200, local.body]);
    } finally {
      task?.child.kill("SIGTERM");
      await task?.output();
      await s3.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/**
 * Private Azure blobs as a source (issue 40, part 1), against Azurite started here on 127.0.0.1: tiles of
 * a slide read with the account's Shared Key (a blob SAS per object) and with a SAS token from the settings
 * equal the local file's; a wrong key, no credentials, a missing blob and an unlisted container are clean
 * JSON errors naming no secret; `deno task start` reads a blob with its own grants.
 */
import { assert, assertEquals } from "./assert.ts";
import { get, SAMPLES, startServer, startTask, type TestServer } from "./helpers.ts";
import { ACCOUNT, containerSas, KEY, startAzurite, type TestAzurite } from "./azurite.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const enc = encodeURIComponent;
const json = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b));

/** Azurite with the slides container and the env a server reads it with. */
async function withAzurite(fn: (az: TestAzurite, env: Record<string, string>) => Promise<void>) {
  const az = await startAzurite();
  try {
    await az.put("slides", { "wsi/cmu.svs": await Deno.readFile(`${SAMPLES}CMU-1-Small-Region.svs`) });
    await fn(az, {
      IMAGES_DIR: SAMPLES,
      BACKEND: "workers",
      WORKERS: "1",
      AZURE_CONTAINERS: "slides",
      AZURE_ENDPOINT: az.endpoint,
      ALLOWED_ORIGINS: new URL(az.endpoint).origin,
      AZURE_STORAGE_ACCOUNT: ACCOUNT,
    });
  } finally {
    await az.stop();
  }
}

async function closeAll(servers: TestServer[]) {
  for (const s of servers) await s.close();
}

Deno.test(
  "a slide in a private Azure container: the local file's tiles, by Shared Key and by a SAS token",
  opts,
  async () => {
    await withAzurite(async (_az, env) => {
      const sas = containerSas("slides");
      const servers = [
        startServer({ ...env, AZURE_STORAGE_KEY: KEY }),
        startServer({ ...env, AZURE_STORAGE_SAS_TOKEN: sas }),
      ];
      try {
        for (const s of servers) {
          const id = enc("az://slides/wsi/cmu.svs");
          const info = json((await get(`${s.url}/images/${id}`)).body);
          assertEquals([info.width, info.height, info.format], [2220, 2967, "svs"]);
          for (const tile of ["12/4_5.png?op=gray", "12/3_5.jpeg", "10/1_1.jpeg"]) {
            const remote = await get(`${s.url}/dzi/${id}_files/${tile}`);
            const local = await get(`${s.url}/dzi/CMU-1-Small-Region.svs_files/${tile}`);
            assertEquals([remote.status, remote.body], [200, local.body], tile);
          }
          assert(!JSON.stringify(info).includes("sig="), "no SAS in the info");
        }
      } finally {
        await closeAll(servers);
      }
    });
  },
);

Deno.test(
  "Azure refusals are clean JSON naming no secret: a wrong key, none, a missing blob, an unlisted container",
  opts,
  async () => {
    await withAzurite(async (_az, env) => {
      const wrongKey = btoa("not the key, but as long as one".repeat(2));
      const servers = [
        startServer({ ...env, AZURE_STORAGE_KEY: wrongKey }),
        startServer({ ...env }),
        startServer({ ...env, AZURE_STORAGE_KEY: KEY }),
        startServer({ ...env, AZURE_STORAGE_KEY: KEY, ALLOWED_ORIGINS: "" }),
      ];
      try {
        const cases: [TestServer, string, number, string][] = [
          [servers[0], "az://slides/wsi/cmu.svs", 502, "source_denied"],
          [servers[1], "az://slides/wsi/cmu.svs", 502, "source_denied"], // anonymous, to a private container
          [servers[2], "az://slides/wsi/none.svs", 404, "not_found"],
          [servers[2], "az://other/wsi/cmu.svs", 403, "forbidden_bucket"],
          [servers[2], "az://slides", 400, "bad_id"],
          [servers[3], "az://slides/wsi/cmu.svs", 403, "forbidden_origin"], // loopback, not listed
        ];
        for (const [s, id, status, code] of cases) {
          const r = await get(`${s.url}/dzi/${enc(id)}.dzi`);
          const body = new TextDecoder().decode(r.body);
          assertEquals([r.status, json(r.body).error.code], [status, code], `${id}: ${body}`);
          assert(
            !body.includes(KEY.slice(0, 12)) && !body.includes(wrongKey.slice(0, 12)) && !/sig=|at \w+ \(/.test(body),
            body,
          );
        }
      } finally {
        await closeAll(servers);
      }
    });
  },
);

Deno.test(
  "deno task start reads a private Azure blob with its own grants, by Shared Key and by SAS token",
  opts,
  async () => {
    await withAzurite(async (az) => {
      const sas = containerSas("slides");
      // A SAS token needs no SDK at run time: the grant stays the listed variables.
      for (const secret of [{ AZURE_STORAGE_KEY: KEY }, { AZURE_STORAGE_SAS_TOKEN: sas }] as Record<string, string>[]) {
        const task = await startTask({
          EDGETILE_KV_PATH: "off",
          EDGETILE_AZURE_CONTAINERS: "slides",
          EDGETILE_AZURE_ENDPOINT: az.endpoint,
          EDGETILE_ALLOWED_ORIGINS: new URL(az.endpoint).origin,
          AZURE_STORAGE_ACCOUNT: ACCOUNT,
          ...secret,
        });
        try {
          const remote = await get(`${task.url}/dzi/${enc("az://slides/wsi/cmu.svs")}_files/12/2_2.jpeg?op=gray`);
          const local = await get(`${task.url}/dzi/CMU-1-Small-Region.svs_files/12/2_2.jpeg?op=gray`);
          const said = new TextDecoder().decode(remote.body.slice(0, 300));
          assertEquals([remote.status, remote.body], [200, local.body], `${Object.keys(secret)}: ${said}`);
        } finally {
          task.child.kill("SIGTERM");
          const { stderr, stdout } = await task.output();
          assert(
            !(stderr + stdout).includes(KEY.slice(0, 12)) && !(stderr + stdout).includes("sig="),
            "no secret logged",
          );
        }
      }
    });
  },
);

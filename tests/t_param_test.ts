/**
 * `t` and the T plane (issue 39): `t` is the threshold of the ops that take one and `time` the T plane. The
 * old form — `t` as the T plane of an op without a threshold — still serves the same tile, and says it is
 * deprecated (`Deprecation`, `Warning`); the new forms say nothing of the kind.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, get, withServer } from "./helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const TCGA = "generated__tcga-hed-4ch-uint16_ome_pyramid.tif";

Deno.test(
  "t= as the T plane: the same tile as time=, with a deprecation notice; t= of a threshold has none",
  opts,
  async () => {
    await withServer({ IMAGES_DIR: DATA, KV_PATH: "off" }, async ({ url }) => {
      const tile = `${url}/dzi/${TCGA}_files/11/1_1.png`;
      const old = await get(`${tile}?t=0&c=0,1`);
      const now = await get(`${tile}?time=0&c=0,1`);
      assertEquals([old.status, now.status], [200, 200]);
      assertEquals(old.body, now.body, "the old form serves the same pixels");
      assertEquals(old.headers.get("deprecation"), "true");
      assert(
        /time=/.test(old.headers.get("warning") ?? ""),
        `the notice names the new form: ${old.headers.get("warning")}`,
      );
      assertEquals(now.headers.get("deprecation"), null, "time= is not deprecated");
      // t= of an op that takes a threshold is that threshold: nothing deprecated, and no T plane read from it.
      const th = await get(`${tile}?op=threshold&t=100&time=0`);
      assertEquals([th.status, th.headers.get("deprecation")], [200, null]);
      assertEquals(th.headers.get("x-op"), "threshold;t=100");
      // The old form is still checked as a plane: a plane the image lacks is a 400 naming t.
      const missing = await get(`${tile}?t=1`);
      assertEquals(missing.status, 400);
      assert(/^t: no T plane/.test(JSON.parse(new TextDecoder().decode(missing.body)).error.message));
    });
  },
);

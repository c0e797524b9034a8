/**
 * The vendor TIFFs (issue 38, part 4): Philips TIFF, Leica SCN and Ventana BIF, made from a real slide's
 * pixels by tests/make_vendor_tiffs.py, read against OpenSlide 3.4.1's reading of the same files (Debian's
 * python3-openslide): levels, µm/px, associated images and every level's pixels (deflate tiles: exact on both
 * sides; the Philips macro is a JPEG, decoded by libjpeg-turbo on both sides with the native codec tier).
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, get, psnr, withServer } from "./helpers.ts";
import { openSource } from "../sources/open.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** The files, with where OpenSlide's level 0 holds the image (Leica: the main image's place in its collection). */
const CROP = [[1000, 760], [500, 380], [250, 190]];
const FILES = [
  { id: "generated__philips-cmu-crop.tiff", vendor: "philips", format: "philips", at: [0, 0], levels: CROP },
  { id: "generated__leica-cmu-crop.scn", vendor: "leica", format: "scn", at: [300, 400], levels: CROP },
  { id: "generated__ventana-cmu-crop.bif", vendor: "ventana", format: "bif", at: [0, 0], levels: CROP },
  // Level-0 camera tiles overlapping by 8 px (TileJointInfo): every level stitched.
  {
    id: "generated__ventana-cmu-overlap.bif",
    vendor: "ventana",
    format: "bif",
    at: [0, 0],
    levels: [[1248, 1000], [624, 500], [312, 250]],
  },
] as const;

/**
 * OpenSlide's reading of `path`: vendor, mpp, associated images (RGB) and, for each of our levels' sizes
 * `sizes`, the region of that size at `at` (level-0 px, scaled to the level) of the level of that downsample.
 */
async function openslideRead(path: string, at: readonly number[], sizes: [number, number, number][]) {
  const py = `import sys, json, openslide, numpy as np
s = openslide.OpenSlide(sys.argv[1]); at = json.loads(sys.argv[2]); sizes = json.loads(sys.argv[3])
out = sys.stdout.buffer
head = {"vendor": s.properties.get("openslide.vendor"), "mpp": s.properties.get("openslide.mpp-x"),
        "associated": {k: list(v.size) for k, v in s.associated_images.items()}}
out.write((json.dumps(head) + "\\n").encode())
for k in sorted(s.associated_images): out.write(np.asarray(s.associated_images[k].convert("RGB")).tobytes())
for (w, h, ds) in sizes:
    level = s.get_best_level_for_downsample(ds + 0.01)
    r = s.read_region((at[0], at[1]), level, (w, h)).convert("RGB")
    out.write(np.asarray(r).tobytes())`;
  const res = await new Deno.Command("/usr/bin/python3", {
    args: ["-c", py, path, JSON.stringify(at), JSON.stringify(sizes)],
  }).output();
  assertEquals(res.code, 0, text(res.stderr));
  const nl = res.stdout.indexOf(10);
  const head = JSON.parse(text(res.stdout.subarray(0, nl)));
  let pos = nl + 1;
  const take = (n: number) => res.stdout.subarray(pos, pos += n);
  const associated: Record<string, Uint8Array> = {};
  for (const k of Object.keys(head.associated).sort()) {
    const [w, h] = head.associated[k];
    associated[k] = take(w * h * 3);
  }
  const levels = sizes.map(([w, h]) => take(w * h * 3));
  return { ...head, associatedPixels: associated, levels };
}

Deno.test("Philips, Leica SCN and Ventana BIF read as OpenSlide 3.4.1 reads them: levels, mpp, pixels", async () => {
  for (const f of FILES) {
    const source = await openSource({ path: DATA + f.id, version: "t", maxPixels: 1e9 });
    try {
      const info = source.info;
      assertEquals(info.format, f.format, f.id);
      const stored = info.levels.filter((l) => l.stored);
      // The made files' true level sizes (Philips stores levels 2 and 4 padded to 512² and 256²; the
      // overlapping BIF's are its stitched tiles').
      assertEquals(stored.map((l) => [l.width, l.height]), f.levels, f.id);
      const ref = await openslideRead(
        DATA + f.id,
        f.at,
        stored.map((l) => [l.width, l.height, Math.round(l.downsampleX)]),
      );
      assertEquals(ref.vendor, f.vendor, `${f.id}: OpenSlide's vendor`);
      // OpenSlide 3.4.1 gives no µm/px for Leica; the file's view says 499 nm a pixel.
      assertEquals(info.mpp?.x.toFixed(4), ref.mpp ? Number(ref.mpp).toFixed(4) : "0.4990", `${f.id}: mpp`);
      assertEquals(
        Object.fromEntries(
          info.associated.map((k) => [k, [info.associatedSizes[k].width, info.associatedSizes[k].height]]),
        ),
        ref.associated,
        `${f.id}: associated images`,
      );
      for (const [k, want] of Object.entries(ref.associatedPixels as Record<string, Uint8Array>)) {
        const ours = (await source.readAssociated(k)).data;
        const lossy = f.format === "philips" && k === "macro";
        if (!lossy || source.runtime.codec.tier === "native") {
          assertEquals(ours.findIndex((v, i) => v !== want[i]), -1, `${f.id} ${k}: byte for byte`);
        } else assert(psnr(ours, want) >= 45, `${f.id} ${k}: PSNR`);
      }
      for (let l = 0; l < stored.length; l++) {
        const r = await source.readRegion(l, 0, 0, stored[l].width, stored[l].height);
        const want = ref.levels[l];
        const ours = new Uint8Array(r.data.buffer, r.data.byteOffset, want.length);
        assertEquals(ours.findIndex((v, i) => v !== want[i]), -1, `${f.id} level ${l}: byte for byte`);
      }
    } finally {
      await source.close();
    }
  }
});

Deno.test(
  "the vendor TIFFs through the routes: listing, Deep Zoom, IIIF, thumbnail, associated, Zarr, export",
  opts,
  async () => {
    await withServer({ IMAGES_DIR: DATA, KV_PATH: "off" }, async (s) => {
      const list = JSON.parse(text((await get(`${s.url}/images`)).body)).images;
      for (const f of FILES) {
        const row = list.find((i: { id: string }) => i.id === f.id);
        assertEquals([row?.supported, row?.format, row?.width, row?.height], [true, f.format, ...f.levels[0]], f.id);
        for (
          const path of [
            `/dzi/${f.id}_files/10/1_1.jpeg`,
            `/dzi/${f.id}_files/8/0_0.png`,
            `/iiif/3/${f.id}/200,100,600,500/300,/0/default.jpg`,
            `/thumbnail/${f.id}.png?width=200`,
            `/images/${f.id}/associated/macro.png`,
            `/xyz/${f.id}/1/0/0.png`,
            `/zarr/${f.id}/0/0/1/1`,
            `/images/${f.id}/patches.ndjson?mpp=1&size=128&min=0`,
          ]
        ) {
          const r = await get(s.url + path);
          assertEquals(r.status, 200, `${path}: ${text(r.body).slice(0, 200)}`);
        }
      }
    });
  },
);

Deno.test("a Ventana BIF whose stitching metadata lies is a clear 422", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // The overlapping BIF rewritten with its level-0 EncodeInfo damaged: no area origins; a wrong tile size.
    const py = `import sys, tifffile
src, out = sys.argv[1], sys.argv[2]
for name, old, new in [("no-origin", b"<AOI0 OriginX=\\"0\\" OriginY=\\"0\\"/>", b""),
                       ("tile-size", b'Width="256"', b'Width="512"')]:
    t = tifffile.TiffFile(src)
    with tifffile.TiffWriter(f"{out}/{name}.bif", bigtiff=True) as w:
        for p in t.pages:
            extra = []
            if 700 in p.tags:
                v = bytes(p.tags[700].value)
                if p.description.startswith("level=0"): v = v.replace(old, new)
                extra = [(700, 1, len(v), v, True)]
            kw = dict(tile=(256, 256)) if p.is_tiled else {}
            w.write(p.asarray(), description=p.description, extratags=extra, photometric="rgb", compression="zlib", metadata=None, **kw)`;
    const out = await new Deno.Command("/usr/bin/python3", {
      args: ["-c", py, DATA + FILES[3].id, dir],
    }).output();
    assertEquals(out.code, 0, text(out.stderr));
    for (const [name, pattern] of [["no-origin", /inconsistent region/], ["tile-size", /tile size/]] as const) {
      const err = await openSource({ path: `${dir}/${name}.bif`, version: "t", maxPixels: 1e9 }).then(
        () => null,
        (e) => e,
      );
      assertEquals(err?.status, 422, `${name}: ${err}`);
      assert(pattern.test(err.message), `${name}: ${err.message}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

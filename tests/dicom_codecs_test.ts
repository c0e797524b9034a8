/**
 * DICOM transfer syntaxes beyond JPEG, JPEG 2000 and native (issue 38): JPEG-LS lossless in each
 * interleave mode and near-lossless, and Deflated Explicit VR Little Endian. The files are made from
 * highdicom's native sample by Debian's dcmtk (`dcmcjpls`, `dcmconv +td`); the references are pydicom's
 * pixels of the native original (lossless: exactly those) and of dcmtk's own decode (`dcmdjpls`) of the
 * near-lossless file. Damaged streams are 422s through the routes.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, decodePng, get, withServer } from "./helpers.ts";
import { openSource } from "../sources/open.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const NATIVE = `${DATA}highdicom__sm_image.dcm`;

async function run(cmd: string, ...args: string[]) {
  const out = await new Deno.Command(cmd, { args }).output();
  assertEquals(out.code, 0, `${cmd} ${args.join(" ")}: ${text(out.stderr)}`);
  return out.stdout;
}

/** pydicom's pixels of the one-level native file at `path` (TILED_FULL frames assembled). */
async function pydicomPixels(path: string): Promise<Uint8Array> {
  const py = `import sys, numpy as np, pydicom
d = pydicom.dcmread(sys.argv[1])
W, H, tw, th = d.TotalPixelMatrixColumns, d.TotalPixelMatrixRows, d.Columns, d.Rows
across, down = -(-W // tw), -(-H // th)
px = d.pixel_array.reshape(int(d.NumberOfFrames), th, tw, 3)
out = np.zeros((down * th, across * tw, 3), np.uint8)
for r in range(down):
    for c in range(across): out[r*th:(r+1)*th, c*tw:(c+1)*tw] = px[r * across + c]
sys.stdout.buffer.write(np.ascontiguousarray(out[:H, :W]).tobytes())`;
  return await run("/usr/bin/python3", "-c", py, path);
}

async function ours(path: string) {
  const s = await openSource({ path, version: "t", maxPixels: 1e9 });
  try {
    const r = await s.readRegion(0, 0, 0, s.info.width, s.info.height);
    const n = s.info.width * s.info.height * s.info.channels;
    return { compression: s.info.compression, data: new Uint8Array(r.data.buffer, r.data.byteOffset, n) };
  } finally {
    await s.close();
  }
}

/** The JPEG-LS and deflated files, in `dir`: name → dcmtk's arguments. */
const MADE: Record<string, string[]> = {
  "ls-line.dcm": ["dcmcjpls", "+il"],
  "ls-none.dcm": ["dcmcjpls", "+in"],
  "ls-sample.dcm": ["dcmcjpls", "+is"],
  "ls-near.dcm": ["dcmcjpls", "+en", "+md", "3"],
  "deflated.dcm": ["dcmconv", "+td"],
};

async function makeFiles(dir: string) {
  for (const [name, [cmd, ...args]] of Object.entries(MADE)) await run(cmd, ...args, NATIVE, `${dir}/${name}`);
  await run("dcmdjpls", `${dir}/ls-near.dcm`, `${dir}/near-decoded.dcm`);
}

Deno.test("JPEG-LS (each interleave mode, near-lossless) and deflated DICOM read as pydicom and dcmtk read them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await makeFiles(dir);
    const original = await pydicomPixels(NATIVE);
    const near = await pydicomPixels(`${dir}/near-decoded.dcm`);
    assert(near.some((v, i) => v !== original[i]), "near-lossless changes some samples (else it proves nothing)");
    for (const name of Object.keys(MADE)) {
      const got = await ours(`${dir}/${name}`);
      assertEquals(got.compression, name.startsWith("ls-") ? "JPEG-LS" : "none", name);
      const want = name === "ls-near.dcm" ? near : original;
      assertEquals(got.data.length, want.length, name);
      assertEquals(got.data.findIndex((v, i) => v !== want[i]), -1, `${name}: byte for byte`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("JPEG-LS and deflated DICOM through the routes; damaged streams are 422s", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    await makeFiles(dir);
    await Deno.remove(`${dir}/near-decoded.dcm`);
    // A JPEG-LS frame whose start-of-frame marker is gone; a deflated data set of garbage after its meta group.
    const ls = await Deno.readFile(`${dir}/ls-line.dcm`);
    const sof = ls.findIndex((_, i) =>
      ls[i] === 0xff && ls[i + 1] === 0xd8 && ls[i + 2] === 0xff && ls[i + 3] === 0xf7
    );
    assert(sof > 0, "the first frame's SOI and SOF55");
    ls[sof + 3] = 0x00;
    await Deno.writeFile(`${dir}/bad-ls.dcm`, ls);
    const deflated = await Deno.readFile(`${dir}/deflated.dcm`);
    const metaEnd = 144 + new DataView(deflated.buffer, 140, 4).getUint32(0, true);
    deflated.fill(0xa5, metaEnd + 10);
    await Deno.writeFile(`${dir}/bad-deflated.dcm`, deflated);
    const original = await pydicomPixels(NATIVE);
    await withServer({ IMAGES_DIR: dir, KV_PATH: "off" }, async (s) => {
      for (const name of ["ls-line.dcm", "ls-none.dcm", "deflated.dcm"]) {
        const info = JSON.parse(text((await get(`${s.url}/images/${name}`)).body));
        const r = await get(`${s.url}/iiif/3/${name}/full/max/0/default.png`);
        assertEquals(r.status, 200, `${name}: ${text(r.body).slice(0, 200)}`);
        const png = await decodePng(r.body, 3);
        assertEquals([png.width, png.height], [info.width, info.height], name);
        assertEquals(png.data.findIndex((v, i) => v !== original[i]), -1, `${name}: the tile is the original's pixels`);
      }
      for (
        const [name, path] of [["bad-ls.dcm", "/iiif/3/bad-ls.dcm/full/max/0/default.png"], [
          "bad-deflated.dcm",
          "/images/bad-deflated.dcm",
        ]]
      ) {
        const r = await get(s.url + path);
        assertEquals(r.status, 422, `${name}: ${text(r.body).slice(0, 200)}`);
        const message = JSON.parse(text(r.body)).error.message as string;
        assert(/JPEG-LS|deflate/i.test(message), `${name}: ${message}`);
        // Asked again: the same answer (nothing half-made was cached).
        assertEquals((await get(s.url + path)).status, 422, `${name}: again`);
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

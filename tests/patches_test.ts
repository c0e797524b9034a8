/** Patch export for ML: tar and ndjson streams, npy tensors, int8 quantization, aborts, the CLI. */
import { assert, assertEquals } from "./assert.ts";
import { get, SAMPLES, withServer } from "./helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const ID = "CMU-1-Small-Region.svs";

async function run(cmd: string, args: string[], cwd?: string): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  return { code: o.code, out: new TextDecoder().decode(o.stdout), err: new TextDecoder().decode(o.stderr) };
}

/** Parses a `.npy` file: shape, dtype and data. */
function parseNpy(b: Uint8Array): { shape: number[]; descr: string; data: Uint8Array | Int8Array | Float32Array } {
  assertEquals([...b.subarray(0, 6)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
  const len = new DataView(b.buffer, b.byteOffset).getUint16(8, true);
  const header = new TextDecoder().decode(b.subarray(10, 10 + len));
  const descr = /'descr': '([^']+)'/.exec(header)![1];
  const shape = /'shape': \(([^)]*)\)/.exec(header)![1].split(",").map((v) => v.trim()).filter(Boolean).map(Number);
  const body = b.slice(10 + len);
  const data = descr === "<f4" ? new Float32Array(body.buffer) : descr === "|i1" ? new Int8Array(body.buffer) : body;
  return { shape, descr, data };
}

Deno.test(
  "patches.tar: a standard tar of exactly the tissue listing's cells, row-major, with manifest and summary",
  opts,
  async () => {
    await withServer({}, async (s) => {
      const dir = await Deno.makeTempDir();
      try {
        for (
          const [q, ext] of [["size=256&min=0.5", "png"], [
            "downsample=2&size=128&stride=64&min=0.25&op=mask&format=jpg",
            "jpg",
          ]] as const
        ) {
          const res = await get(`${s.url}/images/${ID}/patches.tar?${q}`);
          assertEquals([res.status, res.headers.get("content-type")], [200, "application/x-tar"]);
          await Deno.writeFile(`${dir}/p.tar`, res.body);
          const listed = await run("tar", ["-tf", `${dir}/p.tar`]);
          assertEquals(listed.code, 0, listed.err);
          const names = listed.out.trim().split("\n");
          const listing = JSON.parse(
            new TextDecoder().decode((await get(`${s.url}/images/${ID}/tissue.json?${q}`)).body),
          );
          const expected = listing.tiles.map((t: { x: number; y: number }) => `${t.x}_${t.y}.${ext}`);
          assertEquals(names, [...expected, "manifest.jsonl", "summary.json"]);
          await Deno.mkdir(`${dir}/x`, { recursive: true });
          assertEquals((await run("tar", ["-xf", `${dir}/p.tar`, "-C", `${dir}/x`])).code, 0);
          const manifest = (await Deno.readTextFile(`${dir}/x/manifest.jsonl`)).trim().split("\n").map((l) =>
            JSON.parse(l)
          );
          assertEquals(
            manifest.map((m) => [m.file, m.x, m.y, m.w, m.h, m.tissue]),
            listing.tiles.map((
              t: { x: number; y: number; w: number; h: number; tissue: number },
              i: number,
            ) => [expected[i], t.x, t.y, t.w, t.h, t.tissue]),
          );
          const summary = JSON.parse(await Deno.readTextFile(`${dir}/x/summary.json`));
          assertEquals(summary.patches, expected.length);
          if (q.includes("mask")) {
            assert(manifest[0].op.startsWith("mask;t=") || manifest[0].op.startsWith("mask:t="), manifest[0].op);
          }
        }
        // The ndjson feed: one line per patch, then the summary.
        const nd = new TextDecoder().decode((await get(`${s.url}/images/${ID}/patches.ndjson?size=512&min=0.5`)).body)
          .trim().split("\n");
        const last = JSON.parse(nd.at(-1)!);
        assertEquals(last.summary.patches, nd.length - 1);
        assertEquals((await get(`${s.url}/images/${ID}/patches.tar?format=webp`)).status, 400);
        assertEquals((await get(`${s.url}/images/${ID}/patches.tar?size=0`)).status, 400);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
);

Deno.test(
  "npy tensors load in NumPy with the right shape and dtype; int8 dequantizes within scale/2",
  opts,
  async () => {
    await withServer({}, async (s) => {
      const dir = await Deno.makeTempDir();
      try {
        const tile = `${s.url}/dzi/${ID}_files/12/4_5.npy`;
        const files: [string, string, string][] = [["u8", "", "uint8"], [
          "f32",
          "?dtype=float32&normalize=imagenet",
          "float32",
        ], ["i8", "?dtype=int8&normalize=imagenet&quant=channel", "int8"]];
        for (const [name, q] of files) await Deno.writeFile(`${dir}/${name}.npy`, (await get(tile + q)).body);
        const py = await run("python3", [
          "-c",
          `import numpy as np\nfor n in ['u8','f32','i8']:\n  a=np.load('${dir}/'+n+'.npy'); print(n, a.shape, a.dtype)`,
        ]);
        assertEquals(py.code, 0, py.err);
        assertEquals(py.out.trim().split("\n"), [
          "u8 (256, 256, 3) uint8",
          "f32 (256, 256, 3) float32",
          "i8 (256, 256, 3) int8",
        ]);
        // Dequantize the int8 tensor with the headers and compare with the float32 tensor of the same pixels.
        const f = parseNpy((await get(tile + "?dtype=float32&normalize=imagenet")).body).data as Float32Array;
        const i8res = await get(tile + "?dtype=int8&normalize=imagenet&quant=channel");
        const q = parseNpy(i8res.body).data as Int8Array;
        const scale = i8res.headers.get("x-quant-scale")!.split(",").map(Number);
        const zero = i8res.headers.get("x-quant-zero-point")!.split(",").map(Number);
        assertEquals(scale.length, 3);
        let signal = 0, noise = 0, worst = 0;
        for (let i = 0; i < f.length; i++) {
          const c = i % 3, back = (q[i] - zero[c]) * scale[c];
          worst = Math.max(worst, Math.abs(f[i] - back) / scale[c]);
          signal += f[i] * f[i];
          noise += (f[i] - back) ** 2;
        }
        assert(worst <= 0.5 + 1e-4, `worst error ${worst} scales`);
        const sqnr = 10 * Math.log10(signal / noise);
        assert(
          Math.abs(sqnr - Number(i8res.headers.get("x-quant-sqnr"))) < 0.01,
          `${sqnr} vs ${i8res.headers.get("x-quant-sqnr")}`,
        );
        // Per tensor: one scale; uint8 equals the PNG tile's pixels.
        assertEquals((await get(tile + "?dtype=int8")).headers.get("x-quant-scale")!.split(",").length, 1);
        for (
          const bad of [
            "dtype=int4",
            "dtype=uint8&normalize=imagenet",
            "dtype=float32&normalize=1,2,3",
            "dtype=float32&quant=channel",
            "dtype=int8&quant=row",
          ]
        ) {
          assertEquals((await get(`${tile}?${bad}`)).status, 400, bad);
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
);

Deno.test("a client that disconnects stops the export; the work in flight stays bounded", opts, async () => {
  await withServer({}, async (s) => {
    // min=0: every cell of a 128-px grid (432 patches).
    const res = await fetch(`${s.url}/images/${ID}/patches.tar?size=128&min=0`);
    const reader = res.body!.getReader();
    let got = 0;
    while (got < 300_000) got += (await reader.read()).value?.length ?? 0;
    await reader.cancel();
    await new Promise((r) => setTimeout(r, 800));
    const sent = async () => {
      const m = new TextDecoder().decode((await get(`${s.url}/metrics`)).body);
      return Number(/edgetile_patches_total (\d+)/.exec(m)?.[1] ?? 0);
    };
    const afterAbort = await sent();
    await new Promise((r) => setTimeout(r, 800));
    assertEquals(await sent(), afterAbort, "no patches after the abort");
    // Produced before the abort: those the client read, those in the socket buffers (the kernel sizes them:
    // 46–64 here alone, 105 once under the parallel suite) and the window in flight; never the whole export.
    assert(afterAbort < 432, `${afterAbort} of 432 patches produced before stopping`);
  });
});

Deno.test("deno task extract writes the same patches, manifest and summary, with progress lines", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const root = new URL("..", import.meta.url).pathname;
    const out = await run(Deno.execPath(), [
      "task",
      "--quiet",
      "extract",
      `${SAMPLES}${ID}`,
      `${dir}/out`,
      "--size",
      "256",
      "--min",
      "0.5",
      "--format",
      "npy",
    ], root);
    assertEquals(out.code, 0, out.err);
    assert(/35\/35 patches \(100 %\)/.test(out.out), out.out);
    const files = [...Deno.readDirSync(`${dir}/out`)].map((e) => e.name).sort();
    assertEquals(files.length, 37);
    assert(files.includes("manifest.jsonl") && files.includes("summary.json") && files.includes("1024_256.npy"));
    const manifest = (await Deno.readTextFile(`${dir}/out/manifest.jsonl`)).trim().split("\n");
    assertEquals(manifest.length, 35);
    // The same export over HTTP: the same manifest, summary (but its duration) and patch bytes.
    await withServer({}, async (s) => {
      const res = await get(`${s.url}/images/${ID}/patches.tar?size=256&min=0.5&format=npy`);
      assertEquals(res.status, 200);
      await Deno.writeFile(`${dir}/p.tar`, res.body);
      await Deno.mkdir(`${dir}/http`);
      assertEquals((await run("tar", ["-xf", `${dir}/p.tar`, "-C", `${dir}/http`])).code, 0);
    });
    const text = (d: string, f: string) => Deno.readTextFile(`${dir}/${d}/${f}`);
    assertEquals(await text("out", "manifest.jsonl"), await text("http", "manifest.jsonl"));
    const [cli, http] = [JSON.parse(await text("out", "summary.json")), JSON.parse(await text("http", "summary.json"))];
    assert(cli.seconds > 0 && http.seconds > 0);
    assertEquals({ ...cli, seconds: 0 }, { ...http, seconds: 0 });
    for (const f of files.filter((f) => f.endsWith(".npy")).slice(0, 5)) {
      assertEquals(await Deno.readFile(`${dir}/out/${f}`), await Deno.readFile(`${dir}/http/${f}`), f);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

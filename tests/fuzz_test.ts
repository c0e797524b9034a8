/**
 * Fuzzing with a fixed seed: thousands of generated and mutated URLs over every route's grammar, and
 * every shared image truncated and bit-flipped. Nothing may answer 5xx, and the server keeps serving.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, SAMPLES, startServer } from "./helpers.ts";
import { rng } from "./fuzz_rng.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

const IDS = [
  "CMU-1-Small-Region.svs",
  "coffee.png",
  "rocket.jpg",
  "nope.tif",
  "..%2F..%2Fetc%2Fpasswd",
  "%2Fetc%2Fpasswd",
  "%2e%2e",
  "a%00b",
  "%E0%A4%A",
  "CMU-1-Small-Region.svs%2F..%2Fcoffee.png",
  "",
];
const NUMS = [
  "0",
  "1",
  "2",
  "12",
  "13",
  "-1",
  "999999",
  "1e3",
  "0x10",
  "1.5",
  "",
  "NaN",
  "%31",
  "00012",
  "18446744073709551616",
];
const OPS = [
  "",
  "op=gray",
  "op=threshold",
  "op=threshold&t=300",
  "op=threshold&t=otsu&invert=1",
  "op=mask",
  "op=mask&t=-3",
  "op=quantize&levels=4",
  "op=quantize&palette=0",
  "op=quantize&palette=300",
  "op=quantize&levels=8&rescale=auto",
  "op=quantize&levels=8&rescale=9,1",
  "op=bogus",
  "op=sobel",
  "c=0&window=1e400:2&stretch=log",
  "c=,&color=",
  "c=0&colormap=turbo&window=0:1e-300",
  "c=99999999999999999999&z=7",
  "c=0,1,2&window=auto,0:1,auto&op=mask",
  "quality=0",
  "quality=101",
  "quality=50",
  "cache=maybe",
  "v=x",
  "width=0",
  "width=-5",
  "width=99999",
  "height=12",
  "format=gif",
  "downsample=3",
  "size=0",
  "min=2",
  "stride=x",
  "palette=7",
  "mpp=0.5",
  "mpp=0",
  "mpp=1e400",
  "magnification=40",
  "magnification=1e-300",
  "mpp=2&downsample=2",
  "limit=3&seed=4294967296",
  "limit=2&seed=1",
  "layout=webdataset&shard_size=2&shard=1e20",
  "shard=-1&shard_size=1",
  "layout=x",
];
const EXTS = ["jpg", "jpeg", "png", "webp", "gif", "", "JPG", "tif", "json", "dzi"];
const IIIF_REGION = [
  "full",
  "square",
  "0,0,100,100",
  "pct:10,10,50,50",
  "0,0,0,0",
  "-1,0,1,1",
  "99999,0,1,1",
  "pct:200,0,1,1",
  "x",
  "1,2,3",
];
const IIIF_SIZE = [
  "max",
  "^max",
  "100,",
  ",100",
  "pct:50",
  "^pct:500",
  "!100,100",
  "^!9000,9000",
  "0,",
  "100,100",
  "abc",
  "^",
  "pct:",
];
const IIIF_ROT = ["0", "90", "!180", "270", "45", "361", "-90", "!", "x"];
const IIIF_QF = [
  "default.jpg",
  "gray.png",
  "bitonal.webp",
  "color.jpg",
  "grey.jpg",
  "default.gif",
  "default",
  ".jpg",
  "default.JPG",
];

function generate(r: () => number, n: number): string[] {
  const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)];
  const q = () => (r() < 0.5 ? "" : "?" + Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(OPS)).join("&"));
  const forms = [
    () => `/dzi/${pick(IDS)}.dzi${q()}`,
    () => `/dzi/${pick(IDS)}_files/${pick(NUMS)}/${pick(NUMS)}_${pick(NUMS)}.${pick(EXTS)}${q()}`,
    () => `/xyz/${pick(IDS)}/${pick(NUMS)}/${pick(NUMS)}/${pick(NUMS)}.${pick(EXTS)}${q()}`,
    () => `/xyz/${pick(IDS)}/tilejson.json${q()}`,
    () => `/thumbnail/${pick(IDS)}.${pick(EXTS)}${q()}`,
    () => `/images/${pick(IDS)}${q()}`,
    () => `/images/${pick(IDS)}/stats${q()}`,
    () => `/images/${pick(IDS)}/tissue.${pick(["png", "json", "ndjson", "txt"])}${q()}`,
    () => `/images/${pick(IDS)}/associated/${pick(["label", "macro", "thumbnail", "x"])}.${pick(EXTS)}${q()}`,
    () => `/iiif/3/${pick(IDS)}/${pick(IIIF_REGION)}/${pick(IIIF_SIZE)}/${pick(IIIF_ROT)}/${pick(IIIF_QF)}${q()}`,
    () => `/iiif/3/${pick(IDS)}/info.json`,
    // Patch exports at a coarse grid (a few patches each), with the fuzzed parameters after it.
    () => `/images/${pick(IDS)}/patches.${pick(["tar", "ndjson"])}?size=64&downsample=16&${q().slice(1)}`,
  ];
  const urls: string[] = [];
  for (let i = 0; i < n; i++) {
    let u = pick(forms)();
    // Mutations: drop, duplicate or swap characters, inject specials.
    const m = r();
    if (m < 0.15) {
      const at = Math.floor(r() * u.length);
      u = u.slice(0, at) + u.slice(at + 1);
    } else if (m < 0.25) {
      const at = Math.floor(r() * u.length);
      u = u.slice(0, at) + pick(["%", "/", "..", "%00", "%2F", "?", "&", "#", "~", "%ZZ", "//"]) + u.slice(at);
    } else if (m < 0.3) u = u.replaceAll("/", "//");
    urls.push(u.startsWith("/") ? u : "/" + u);
  }
  return urls;
}

Deno.test("fuzzed URLs over every route: never a 5xx, always JSON errors, the server keeps serving", opts, async () => {
  const s = startServer({ BACKEND: "workers", WORKERS: "2", IMAGES_DIR: SAMPLES });
  try {
    const urls = generate(rng(20261121), 3000);
    const statuses = new Map<number, number>();
    for (let i = 0; i < urls.length; i += 16) {
      await Promise.all(
        urls.slice(i, i + 16).map(async (u) => {
          let res: Response;
          try {
            res = await fetch(s.url + u);
          } catch (err) {
            throw new Error(`${u}: ${(err as Error).message}`);
          }
          const body = new Uint8Array(await res.arrayBuffer());
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          assert(res.status < 500, `${u} → ${res.status} ${new TextDecoder().decode(body.slice(0, 300))}`);
          if (res.status >= 400) {
            assert(res.headers.get("content-type")?.includes("json"), `${u} error is JSON`);
          }
        }),
      );
    }
    assert(
      (statuses.get(200) ?? 0) > 100 && (statuses.get(400) ?? 0) > 100 && (statuses.get(404) ?? 0) > 100,
      JSON.stringify([...statuses]),
    );
    assertEquals((await fetch(`${s.url}/dzi/CMU-1-Small-Region.svs_files/12/0_0.jpeg`)).status, 200);
  } finally {
    await s.close();
  }
});

Deno.test(
  "every shared image truncated and bit-flipped: 4xx or a valid answer, never 5xx, never a crash",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    const r = rng(7);
    const names: string[] = [];
    try {
      for (const e of Deno.readDirSync(DATA)) {
        if (e.name.endsWith(".md") || e.isDirectory) continue;
        const bytes = await Deno.readFile(DATA + e.name);
        const ext = e.name.slice(e.name.lastIndexOf("."));
        for (const frac of [0.02, 0.3, 0.7, 0.97]) {
          const name = `${e.name}.cut${frac}${ext}`;
          await Deno.writeFile(`${dir}/${name}`, bytes.subarray(0, Math.max(8, Math.floor(bytes.length * frac))));
          names.push(name);
        }
        for (let k = 0; k < 3; k++) {
          const flipped = bytes.slice();
          for (let i = 0; i < 40; i++) flipped[Math.floor(r() * flipped.length)] ^= 1 << Math.floor(r() * 8);
          const name = `${e.name}.flip${k}${ext}`;
          await Deno.writeFile(`${dir}/${name}`, flipped);
          names.push(name);
        }
      }
      const s = startServer({ BACKEND: "workers", WORKERS: "2", IMAGES_DIR: dir });
      try {
        for (let i = 0; i < names.length; i += 8) {
          await Promise.all(
            names.slice(i, i + 8).map(async (name) => {
              const id = encodeURIComponent(name);
              for (
                const path of [
                  `/images/${id}`,
                  `/thumbnail/${id}.png?width=64`,
                  `/dzi/${id}_files/8/0_0.jpeg`,
                  `/iiif/3/${id}/full/max/0/default.jpg`,
                  `/dzi/${id}_files/6/0_0.png?op=mask`,
                ]
              ) {
                let res: Response;
                try {
                  res = await fetch(s.url + path, { signal: AbortSignal.timeout(30_000) });
                } catch (err) {
                  throw new Error(`${path}: ${(err as Error).message}`);
                }
                const body = await res.text();
                assert(res.status < 500, `${path} → ${res.status} ${body.slice(0, 300)}`);
              }
            }),
          );
        }
        assertEquals((await fetch(`${s.url}/images`)).status, 200, "still serving");
      } finally {
        await s.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

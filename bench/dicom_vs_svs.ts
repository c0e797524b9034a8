/** Deep Zoom tiles of the dicomized CMU slide against the SVS it was made from, caches off: 108 distinct full-resolution tiles, 8 at a time, 3 rounds each (issue 38 speed row: DICOM ≤ 1.5× the SVS). `deno run -A bench/dicom_vs_svs.ts`. */
import { startServer } from "../tests/helpers.ts";

const DICOM = new URL("../tests/data/generated__cmu-1-small-region_dicom", import.meta.url).pathname;
const dir = await Deno.makeTempDir();
await Deno.copyFile(new URL("../samples/CMU-1-Small-Region.svs", import.meta.url).pathname, `${dir}/cmu.svs`);
await Deno.mkdir(`${dir}/cmu-dicom`);
for (const f of Deno.readDirSync(DICOM)) await Deno.copyFile(`${DICOM}/${f.name}`, `${dir}/cmu-dicom/${f.name}`);
await new Promise((r) => setTimeout(r, 1200));
const s = startServer({
  BACKEND: "workers",
  WORKERS: "2",
  IMAGES_DIR: dir,
  KV_PATH: "off",
  MEMORY_CACHE_MB: "0",
  ADMIN_TOKEN: "t",
});
const run = async (id: string, q: string) => {
  const urls: string[] = [];
  for (let r = 0; r < 12; r++) {
    for (let c = 0; c < 9; c++) urls.push(`${s.url}/dzi/${id}_files/12/${c}_${r}.jpeg?cache=false${q}`);
  }
  let i = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (i < urls.length) {
      const r = await fetch(urls[i++], { headers: { Authorization: "Bearer t" } });
      await r.arrayBuffer();
      if (r.status !== 200) console.log(r.status);
    }
  }));
  return urls.length / ((performance.now() - t0) / 1000);
};
for (const q of ["", "&op=gray"]) {
  await run("cmu.svs", q);
  await run("cmu-dicom", q);
  const rows: number[][] = [];
  for (let k = 0; k < 3; k++) rows.push([await run("cmu.svs", q), await run("cmu-dicom", q)]);
  console.log(
    q || "none",
    rows.map(([a, b]) => `svs ${a.toFixed(0)}/s dicom ${b.toFixed(0)}/s ratio ${(a / b).toFixed(2)}`).join(" | "),
  );
}
await s.close();

import { openSource } from "./sources/open.ts";
import { toHttpError } from "./errors.ts";
for (const e of [...Deno.readDirSync("../shared/data")].sort((a, b) => a.name.localeCompare(b.name))) {
  if (e.name.endsWith(".md")) continue;
  const path = Deno.realPathSync("../shared/data/" + e.name);
  const t0 = performance.now();
  try {
    const s = await openSource({ path, version: "1", maxPixels: 1e8 });
    const i = s.info;
    const outs = [];
    for (let l = 0; l < i.levels.length; l++) {
      const L = i.levels[l];
      const w = Math.min(300, L.width), h = Math.min(300, L.height);
      const r = await s.readRegion(l, L.width - w, L.height - h, w, h);
      let sum = 0;
      for (let k = 0; k < r.data.length; k += 97) sum += Number(r.data[k]);
      outs.push(`${L.width}x${L.height}${L.stored ? "" : "*"}:${(sum / (r.data.length / 97)).toFixed(0)}`);
    }
    console.log(
      e.name,
      i.format,
      i.channels,
      i.pixelType,
      i.compression,
      i.associated.join(","),
      i.mpp?.x ?? "",
      outs.join(" "),
      (performance.now() - t0).toFixed(0) + "ms",
    );
  } catch (err) {
    const h = toHttpError(err, "source");
    console.log(e.name, "->", h.status, h.message);
  }
}

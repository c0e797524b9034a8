// deno-lint-ignore-file no-window -- browser code, served to the viewer page
// The edgetile viewer: the image list, an OpenSeadragon view through Deep Zoom or IIIF, a switch for
// ops (the mask as an overlay with opacity) and the image's info. Plain JS, no build step.
// For tests, `window.edgetileViewer` reports what is on screen and whether its tiles are loaded.
/* global OpenSeadragon */

const $ = (id) => document.getElementById(id);
const state = { image: null, info: null, stats: null, protocol: "dzi", op: "none", opacity: 0.6, palette: 8 };
window.edgetileViewer = { image: null, protocol: null, op: null, fullyLoaded: false, tilesLoaded: 0, tileErrors: 0 };

const viewer = OpenSeadragon({
  id: "viewer",
  prefixUrl: "/vendor/openseadragon/images/",
  showNavigator: true,
  crossOriginPolicy: "Anonymous",
  maxZoomPixelRatio: 2,
});
viewer.addHandler("tile-loaded", () => window.edgetileViewer.tilesLoaded++);
viewer.addHandler("tile-load-failed", () => window.edgetileViewer.tileErrors++);

const enc = encodeURIComponent;

/** The op's query string for tile URLs. */
function opQuery(op) {
  if (op === "threshold") return "op=threshold";
  if (op === "gray") return "op=gray";
  if (op === "mask") return "op=mask";
  if (op === "quantize") return `op=quantize&palette=${state.palette}`;
  return "";
}

/** A tile source for `op` through the chosen protocol. */
async function tileSource(op) {
  const q = opQuery(op);
  if (state.protocol === "dzi") return `/dzi/${enc(state.image)}.dzi${q ? "?" + q : ""}`;
  const info = await (await fetch(`/iiif/3/${enc(state.image)}/info.json`)).json();
  const source = new OpenSeadragon.IIIFTileSource(info);
  // IIIF qualities where they exist (gray, bitonal); other ops ride on the edgetile ?op= extension.
  const base = source.getTileUrl.bind(source);
  source.getTileUrl = (level, x, y) => {
    const url = base(level, x, y);
    if (op === "gray") return url.replace(/\/default\.(\w+)$/, "/gray.$1");
    if (op === "threshold") return url.replace(/\/default\.(\w+)$/, "/bitonal.$1");
    return q ? `${url}?${q}` : url;
  };
  return source;
}

/** Waits until every tiled image of the view reports its tiles loaded. */
function trackLoading() {
  window.edgetileViewer.fullyLoaded = false;
  const check = () => {
    const n = viewer.world.getItemCount();
    let all = n > 0;
    for (let i = 0; i < n; i++) all = all && viewer.world.getItemAt(i).getFullyLoaded();
    window.edgetileViewer.fullyLoaded = all;
    $("status").textContent = all ? "loaded" : "loading…";
  };
  for (let i = 0; i < viewer.world.getItemCount(); i++) {
    viewer.world.getItemAt(i).addHandler("fully-loaded-change", check);
  }
  check();
}

/** Opens the current image with the current protocol and op. */
async function show() {
  if (!state.image) return;
  window.edgetileViewer.fullyLoaded = false;
  const overlay = state.op === "mask";
  const base = await tileSource(overlay ? "none" : state.op);
  viewer.world.removeAll();
  await new Promise((resolve, reject) =>
    viewer.addTiledImage({ tileSource: base, success: resolve, error: (e) => reject(new Error(e.message)) })
  );
  if (overlay) {
    const mask = await tileSource("mask");
    await new Promise((resolve, reject) =>
      viewer.addTiledImage({
        tileSource: mask,
        opacity: state.opacity,
        compositeOperation: "multiply",
        success: resolve,
        error: (e) => reject(new Error(e.message)),
      })
    );
  }
  Object.assign(window.edgetileViewer, { image: state.image, protocol: state.protocol, op: state.op });
  trackLoading();
  $("opacity-label").hidden = !overlay;
  $("palette-label").hidden = state.op !== "quantize";
}

function showInfo() {
  const i = state.info, s = state.stats;
  const rows = [
    ["size", `${i.width} × ${i.height}`],
    ["format", `${i.format}${i.compression ? " / " + i.compression : ""}`],
    ["pixels", `${i.channels} × ${i.pixelType}`],
    ["levels", i.levels.map((l) => `${l.width}×${l.height}${l.stored ? "" : "*"}`).join(", ")],
    ["MPP", i.mpp ? `${i.mpp.x.toFixed(4)} µm` : "—"],
    ["Otsu", s ? `gray ${s.otsu.gray}, saturation ${s.otsu.saturation}` : "…"],
    ["tissue", s ? `${(s.tissue.fraction * 100).toFixed(1)} %` : "…"],
    ["associated", i.associated.join(", ") || "—"],
  ];
  $("info").replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = k;
    dd.textContent = v;
    return [dt, dd];
  }));
}

async function select(id) {
  state.image = id;
  for (const li of $("images").children) li.classList.toggle("selected", li.dataset.id === id);
  const url = new URL(location.href);
  url.searchParams.set("image", id);
  history.replaceState(null, "", url);
  state.info = await (await fetch(`/images/${enc(id)}`)).json();
  state.stats = null;
  showInfo();
  await show();
  fetch(`/images/${enc(id)}/stats`).then((r) => r.ok ? r.json() : null).then((s) => {
    state.stats = s;
    if (state.image === id) showInfo();
  });
}

async function main() {
  const { images } = await (await fetch("/images")).json();
  $("images").replaceChildren(...images.map((img) => {
    const li = document.createElement("li");
    li.dataset.id = img.id;
    const thumb = document.createElement("img");
    thumb.src = `/thumbnail/${enc(img.id)}.jpg?width=128`;
    thumb.alt = "";
    thumb.loading = "lazy";
    const name = document.createElement("span");
    name.textContent = `${img.id} (${img.width}×${img.height})`;
    li.append(thumb, name);
    li.addEventListener("click", () => select(img.id));
    return li;
  }));
  const params = new URLSearchParams(location.search);
  for (const key of ["protocol", "op"]) {
    if (params.get(key)) {
      state[key] = params.get(key);
      $(key).value = state[key];
    }
  }
  $("protocol").addEventListener("change", (e) => (state.protocol = e.target.value, show()));
  $("op").addEventListener("change", (e) => (state.op = e.target.value, show()));
  $("palette").addEventListener("change", (e) => (state.palette = Number(e.target.value) || 8, show()));
  $("opacity").addEventListener("input", (e) => {
    state.opacity = Number(e.target.value);
    const overlay = viewer.world.getItemAt(1);
    if (overlay) overlay.setOpacity(state.opacity);
  });
  const first = params.get("image") ?? images[0]?.id;
  if (first) await select(first);
}

main().catch((err) => ($("status").textContent = `error: ${err.message}`));

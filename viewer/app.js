// deno-lint-ignore-file no-window -- browser code, served to the viewer page
// The edgetile viewer: the image list, an OpenSeadragon view through Deep Zoom or IIIF, a switch for
// ops (the mask as an overlay with opacity), the image's info and a scale bar. The whole view (image,
// protocol, op and its parameters, centre and zoom) lives in the page URL, so a link shows the same view;
// switching op or protocol keeps the view. Every URL is relative to the page, so it works under a proxy's
// path prefix. Plain JS, no build step.
// Images the server renders (multichannel, high bit depth) get the channel panel (viewer/channels.js).
// For tests, `window.edgetileViewer` reports what is on screen and whether its tiles are loaded.
/* global OpenSeadragon */
import { defaultRender, parseRender, renderPanel, renderQuery } from "./channels.js";

const $ = (id) => document.getElementById(id);
const OPS = ["none", "gray", "threshold", "sobel", "mask", "quantize"];
/** Ops whose tiles must be exact (1-bit masks, palettes): requested as PNG, never JPEG. */
const LOSSLESS = new Set(["threshold", "mask", "quantize"]);
const state = {
  image: null,
  info: null,
  stats: null,
  protocol: "dzi",
  op: "none",
  opacity: 0.6,
  palette: 8,
  /** The channel panel's render (viewer/channels.js), for images the server renders; else null. */
  render: null,
  /** A shared link's `render=`, applied to the first image opened. */
  linkedRender: null,
};
window.edgetileViewer = {
  image: null,
  protocol: null,
  op: null,
  fullyLoaded: false,
  tilesLoaded: 0,
  tileErrors: 0,
  error: null,
  view: null,
};

const viewer = OpenSeadragon({
  id: "viewer",
  prefixUrl: "vendor/openseadragon/images/",
  showNavigator: true,
  crossOriginPolicy: "Anonymous",
  maxZoomPixelRatio: 2,
  preserveViewport: true,
});
window.edgetileViewer.osd = viewer;
viewer.addHandler("tile-loaded", () => (window.edgetileViewer.tilesLoaded++, updateStatus()));
viewer.addHandler("tile-load-failed", (e) => {
  window.edgetileViewer.tileErrors++;
  explainTileFailure(e.tile?.getUrl?.() ?? e.tile?.url);
});

const enc = encodeURIComponent;

/** Shows an error (the server's message where there is one) in the page; null clears it. */
function showError(message) {
  window.edgetileViewer.error = message;
  $("error").textContent = message ?? "";
  $("error").hidden = !message;
}

/** The server's message of a failed response (its JSON error body), else its status line. */
async function serverMessage(res) {
  try {
    const body = await res.json();
    return body?.error?.message ?? `${res.status} ${res.statusText}`;
  } catch {
    return `${res.status} ${res.statusText}`;
  }
}

/** JSON of a relative URL, or an Error carrying the server's message. */
async function fetchJson(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(await serverMessage(res));
  return await res.json();
}

const explained = new Set();
/** A tile failed: ask its URL again once, to show why (OpenSeadragon only says that it failed). */
async function explainTileFailure(url) {
  if (!url || explained.has(url)) return;
  explained.add(url);
  try {
    const res = await fetch(url);
    if (!res.ok) showError(`a tile failed: ${await serverMessage(res)}`);
  } catch (err) {
    showError(`a tile failed: ${err.message}`);
  }
}

/** The op's query parameters for tile URLs. */
function opParams(op) {
  if (op === "quantize") return { op, palette: String(state.palette) };
  return op === "none" ? {} : { op };
}

/** The render's parameters (empty without one). */
function renderParams() {
  return state.render ? renderQuery(state.render) : new URLSearchParams();
}

/** A tile source for `op` through the chosen protocol (PNG for exact ops). */
async function tileSource(op) {
  const params = new URLSearchParams(opParams(op));
  const render = renderParams();
  if (state.protocol === "dzi") {
    for (const [k, v] of render) params.set(k, v);
    if (LOSSLESS.has(op)) params.set("format", "png");
    const q = params.toString();
    return `dzi/${enc(state.image)}.dzi${q ? "?" + q : ""}`;
  }
  // The render rides in the identifier (a meta-identifier `id;c=…`, as the server's info.json writes it).
  const meta = render.size ? `;${enc(render.toString())}` : "";
  const info = await fetchJson(`iiif/3/${enc(state.image)}${meta}/info.json`);
  // Tiles from this page's own origin and prefix, whatever base the server wrote into `id`.
  info.id = new URL(`iiif/3/${enc(state.image)}${meta}`, location.href).href;
  const source = new OpenSeadragon.IIIFTileSource(info);
  // IIIF qualities where they exist (gray, bitonal); other ops ride on the edgetile ?op= extension.
  const base = source.getTileUrl.bind(source);
  source.getTileUrl = (level, x, y) => {
    let url = base(level, x, y);
    if (LOSSLESS.has(op)) url = url.replace(/\.\w+$/, ".png");
    if (op === "gray") return url.replace(/\/default\.(\w+)$/, "/gray.$1");
    if (op === "threshold") return url.replace(/\/default\.(\w+)$/, "/bitonal.$1");
    const q = params.toString();
    return q ? `${url}?${q}` : url;
  };
  return source;
}

/** The view as image coordinates: centre (level-0 pixels) and zoom (screen pixels per image pixel). */
function currentView() {
  const item = viewer.world.getItemAt(0);
  if (!item) return null;
  const c = item.viewportToImageCoordinates(viewer.viewport.getCenter(true));
  return { x: c.x, y: c.y, z: item.viewportToImageZoom(viewer.viewport.getZoom(true)) };
}

/** Moves the view to `view` at once (or home when there is none). */
function applyView(view) {
  const item = viewer.world.getItemAt(0);
  if (!item) return;
  if (!view || ![view.x, view.y, view.z].every(Number.isFinite) || view.z <= 0) return viewer.viewport.goHome(true);
  viewer.viewport.zoomTo(item.imageToViewportZoom(view.z), null, true);
  viewer.viewport.panTo(item.imageToViewportCoordinates(view.x, view.y), true);
}

/** Writes the state into the page URL (replacing the history entry: panning is not navigation). */
function writeUrl() {
  const view = currentView();
  window.edgetileViewer.view = view;
  const p = new URLSearchParams({ image: state.image ?? "", protocol: state.protocol, op: state.op });
  if (state.op === "quantize") p.set("palette", String(state.palette));
  if (state.op === "mask") p.set("opacity", String(state.opacity));
  if (state.render) p.set("render", renderQuery(state.render).toString());
  window.edgetileViewer.render = state.render ? renderQuery(state.render).toString() : null;
  if (view) {
    p.set("x", view.x.toFixed(0));
    p.set("y", view.y.toFixed(0));
    p.set("z", view.z.toPrecision(4));
  }
  history.replaceState(null, "", `${location.pathname}?${p}`);
}

/** Waits until every tiled image of the view reports its tiles loaded (`edgetileViewer.fullyLoaded`). */
function trackLoading() {
  window.edgetileViewer.fullyLoaded = false;
  lastBusy = performance.now(); // a new view: its tiles are about to be asked for
  const check = () => {
    const n = viewer.world.getItemCount();
    let all = n > 0;
    for (let i = 0; i < n; i++) all = all && viewer.world.getItemAt(i).getFullyLoaded();
    window.edgetileViewer.fullyLoaded = all;
    updateStatus();
  };
  for (let i = 0; i < viewer.world.getItemCount(); i++) {
    viewer.world.getItemAt(i).addHandler("fully-loaded-change", check);
  }
  check();
}

/**
 * The status line: "loading…" while tiles are asked for or being drawn in, else "loaded" — from the tile
 * loader's own queue as well as the images' fully-loaded flags, so that it never stays at "loading…" once
 * nothing is in flight (a flag that missed its change event did that), and "" with no image open.
 */
let lastBusy = 0;
function updateStatus() {
  const loader = viewer.imageLoader;
  const busy = (loader?.jobsInProgress ?? 0) > 0 || (loader?.jobQueue?.length ?? 0) > 0;
  if (busy) lastBusy = performance.now();
  const open = viewer.world.getItemCount() > 0;
  // Not fully loaded by the flags, but nothing asked for in 1.5 s: loaded (the flags lag or missed a change).
  const waiting = busy || (!window.edgetileViewer.fullyLoaded && performance.now() - lastBusy < 1500);
  $("status").textContent = !open ? "" : waiting ? "loading…" : "loaded";
}
setInterval(updateStatus, 500);

/** The controls an op has: the mask's opacity, the palette's colours; none with no image open. */
function showControls() {
  const open = viewer.world.getItemCount() > 0;
  $("opacity-label").hidden = !open || state.op !== "mask";
  $("palette-label").hidden = !open || state.op !== "quantize";
  // The navigator is a box of nothing without an image.
  if (viewer.navigator?.element) viewer.navigator.element.style.display = open ? "" : "none";
}

/** Adds a tiled image and waits for it (the event of OpenSeadragon's `success`: `{ item }`). */
function addTiledImage(options) {
  return new Promise((resolve, reject) =>
    viewer.addTiledImage({ ...options, success: resolve, error: (e) => reject(new Error(e.message)) })
  );
}

/** Opens the current image with the current protocol and op, at `view` (default: the view now shown). */
async function show(view = currentView()) {
  if (!state.image) return;
  window.edgetileViewer.fullyLoaded = false;
  showError(null);
  const overlay = state.op === "mask";
  const base = await tileSource(overlay ? "none" : state.op);
  viewer.world.removeAll();
  await addTiledImage({ tileSource: base });
  if (overlay) {
    const mask = await addTiledImage({
      tileSource: await tileSource("mask"),
      opacity: state.opacity,
      compositeOperation: "multiply",
    });
    // Mask tiles are opaque 1-bit PNGs, but OpenSeadragon takes every PNG for transparent and keeps drawing the
    // coarser levels' tiles under the finer ones; multiplied, their coarse holes stayed on screen as blocks
    // the mask does not have at the level shown.
    mask.item.source.hasTransparency = () => false;
  }
  applyView(view);
  Object.assign(window.edgetileViewer, { image: state.image, protocol: state.protocol, op: state.op });
  trackLoading();
  writeUrl();
  updateScaleBar();
  showControls();
}

/** A scale bar from the image's microns per pixel: a round length near 100 screen pixels. */
function updateScaleBar() {
  const mpp = state.info?.mpp?.x;
  const view = currentView();
  $("scalebar").hidden = !mpp || !view;
  if (!mpp || !view) return;
  const umPerScreenPx = mpp / view.z;
  const target = 100 * umPerScreenPx;
  const pow = 10 ** Math.floor(Math.log10(target));
  const nice = [1, 2, 5, 10].map((m) => m * pow).filter((v) => v <= target).pop() ?? pow;
  $("scalebar-bar").style.width = `${Math.round(nice / umPerScreenPx)}px`;
  $("scalebar-label").textContent = nice >= 1000 ? `${nice / 1000} mm` : `${nice} µm`;
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

/** Opens image `id` (at `view`, or home). */
async function select(id, view = null) {
  state.image = id;
  for (const b of $("images").querySelectorAll("button")) {
    const on = b.dataset.id === id;
    b.parentElement.classList.toggle("selected", on);
    if (on) b.setAttribute("aria-current", "true");
    else b.removeAttribute("aria-current");
  }
  state.stats = null;
  try {
    state.info = await fetchJson(`images/${enc(id)}`);
  } catch (err) {
    viewer.world.removeAll();
    $("info").replaceChildren();
    $("channels").hidden = true;
    showControls();
    updateStatus();
    showError(`${id}: ${err.message}`);
    return;
  }
  showInfo();
  state.render = null;
  if (state.info.rendered) {
    state.render = (state.linkedRender && parseRender(state.info, state.linkedRender)) ?? defaultRender(state.info);
    drawPanel();
  } else $("channels").hidden = true;
  state.linkedRender = null;
  await show(view);
  fetch(`images/${enc(id)}/stats`).then((r) => r.ok ? r.json() : null).then((s) => {
    state.stats = s;
    if (state.image !== id) return;
    showInfo();
    if (state.render) drawPanel();
  });
}

/** The channel panel of the open image; a change re-renders the view in place. */
function drawPanel() {
  renderPanel($("channels"), state.info, state.stats, state.render, () => show().catch(fail));
}

/** `text` as nodes with a line-break opportunity (<wbr>) after each _ - . and /, and nowhere else. */
function breakable(text) {
  return text.split(/(?<=[_\-./])/).flatMap((part, i) => i ? [document.createElement("wbr"), part] : [part]);
}

/** Marks the image strip `more` while it can scroll further right (the fade at its edge says so). */
function markMore() {
  const list = $("images");
  list.classList.toggle("more", list.scrollLeft + list.clientWidth < list.scrollWidth - 2);
}

/** The image list: one button per image; arrow keys (and Home/End) move between them, Enter opens. */
function renderList(images) {
  $("images").replaceChildren(...images.map((img) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.id = img.id;
    const thumb = document.createElement("img");
    thumb.src = `thumbnail/${enc(img.id)}.jpg?width=128`;
    thumb.alt = "";
    thumb.loading = "lazy";
    const name = document.createElement("span");
    if (img.supported === false) {
      // A file the server does not read: listed, greyed, with why (the server's own words).
      name.append(...breakable(img.id));
      const why = document.createElement("small");
      why.className = "reason";
      why.textContent = img.reason;
      button.disabled = true;
      button.title = img.reason;
      li.classList.add("unsupported");
      button.append(name, why);
      li.append(button);
      return li;
    }
    name.append(...breakable(img.id), " ");
    const size = document.createElement("span");
    size.className = "size";
    size.textContent = `(${img.width}×${img.height})`;
    name.append(size);
    button.append(thumb, name);
    button.addEventListener("click", () => select(img.id).catch((err) => showError(err.message)));
    li.append(button);
    return li;
  }));
  markMore();
  $("images").addEventListener("scroll", markMore, { passive: true });
  addEventListener("resize", markMore);
  $("images").addEventListener("keydown", (e) => {
    const buttons = [...$("images").querySelectorAll("button:not(:disabled)")];
    const at = buttons.indexOf(document.activeElement);
    const next = { ArrowDown: at + 1, ArrowRight: at + 1, ArrowUp: at - 1, ArrowLeft: at - 1 };
    const to = { ...next, Home: 0, End: buttons.length - 1 }[e.key];
    if (to === undefined || !buttons.length) return;
    e.preventDefault();
    buttons[Math.max(0, Math.min(buttons.length - 1, to))].focus();
  });
}

async function main() {
  const params = new URLSearchParams(location.search);
  if (["dzi", "iiif"].includes(params.get("protocol"))) state.protocol = params.get("protocol");
  if (OPS.includes(params.get("op"))) state.op = params.get("op");
  const palette = Number(params.get("palette"));
  if (Number.isInteger(palette) && palette >= 2 && palette <= 256) state.palette = palette;
  state.linkedRender = params.get("render");
  const opacity = Number(params.get("opacity"));
  if (params.has("opacity") && opacity >= 0 && opacity <= 1) state.opacity = opacity;
  $("protocol").value = state.protocol;
  $("op").value = state.op;
  $("palette").value = String(state.palette);
  $("opacity").value = String(state.opacity);
  $("protocol").addEventListener("change", (e) => (state.protocol = e.target.value, show().catch(fail)));
  $("op").addEventListener("change", (e) => (state.op = e.target.value, show().catch(fail)));
  $("palette").addEventListener("change", (e) => (state.palette = Number(e.target.value) || 8, show().catch(fail)));
  $("opacity").addEventListener("input", (e) => {
    state.opacity = Number(e.target.value);
    viewer.world.getItemAt(1)?.setOpacity(state.opacity);
    writeUrl();
  });
  viewer.addHandler("animation-finish", writeUrl);
  viewer.addHandler("animation", updateScaleBar);
  viewer.addHandler("resize", updateScaleBar);
  const { images } = await fetchJson("images");
  renderList(images);
  const view = { x: Number(params.get("x")), y: Number(params.get("y")), z: Number(params.get("z")) };
  const first = params.get("image") ?? images.find((i) => i.supported !== false)?.id;
  if (first) await select(first, params.has("z") ? view : null);
  else showError("no images: put some in EDGETILE_IMAGES_DIR");
}

function fail(err) {
  $("status").textContent = "error";
  showError(err.message);
}

main().catch(fail);

// The channel panel (like Avivator's) for images the server renders (multichannel OME-TIFFs, 16-bit and
// float rasters): per channel a toggle, a colour and a window over the channel's histogram (from the stats
// level, with "auto" = its 0.5 / 99.5 percentiles), then the stretch, a colormap (one channel on), and Z/T
// sliders. Its state is the render's query string (c, color, window, stretch, colormap, z, time): the
// viewer puts it in tile URLs and in the page URL (`render=`), so a link shows the same rendering.

const MAX_ON = 16;

/** A fresh render state for `info` (the server's defaults: first ≤ 6 channels, its colours, auto windows). */
export function defaultRender(info) {
  return {
    channels: info.channelList.map((ch, i) => ({
      on: i < 6,
      color: ch.color.toLowerCase(), // the server's default colour of the channel (`channelList`)
      window: null, // null: auto
    })),
    stretch: "linear",
    colormap: "",
    z: 0,
    t: 0,
  };
}

/** The render state as tile-URL parameters. */
export function renderQuery(r) {
  const on = r.channels.map((ch, i) => ({ ...ch, i })).filter((ch) => ch.on).slice(0, MAX_ON);
  const q = new URLSearchParams();
  if (!on.length) return q;
  q.set("c", on.map((ch) => ch.i).join(","));
  q.set("color", on.map((ch) => ch.color).join(","));
  q.set("window", on.map((ch) => ch.window ? `${ch.window[0]}:${ch.window[1]}` : "auto").join(","));
  if (r.stretch !== "linear") q.set("stretch", r.stretch);
  if (r.colormap && on.length === 1) q.set("colormap", r.colormap);
  if (r.z) q.set("z", String(r.z));
  if (r.t) q.set("time", String(r.t));
  return q;
}

/** A render state read back from `renderQuery`'s string (a shared link), or null when it does not fit `info`. */
export function parseRender(info, text) {
  const q = new URLSearchParams(text), r = defaultRender(info);
  const c = (q.get("c") ?? "").split(",").filter(Boolean).map(Number);
  if (!c.length || c.some((i) => !(i >= 0 && i < r.channels.length))) return null;
  const colors = (q.get("color") ?? "").split(","), windows = (q.get("window") ?? "").split(",");
  r.channels.forEach((ch) => (ch.on = false));
  c.forEach((i, k) => {
    const ch = r.channels[i];
    ch.on = true;
    if (/^[0-9a-f]{6}$/i.test(colors[k] ?? "")) ch.color = colors[k].toLowerCase();
    const w = /^(-?[\d.e+-]+):(-?[\d.e+-]+)$/i.exec(windows[k] ?? "");
    ch.window = w ? [Number(w[1]), Number(w[2])] : null;
  });
  r.stretch = q.get("stretch") ?? "linear";
  r.colormap = q.get("colormap") ?? "";
  r.z = Math.min(Number(q.get("z")) || 0, (info.sizeZ ?? 1) - 1);
  r.t = Math.min(Number(q.get("time")) || 0, (info.sizeT ?? 1) - 1);
  return r;
}

function el(tag, props = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

/** A window bound as shown: integers as they are, real values to 4 significant digits. */
function num(v) {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
}

/** A small SVG of a 256-bin histogram (log counts). */
function histogramSvg(bins) {
  const max = Math.log1p(Math.max(1, ...bins));
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 256 32");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("class", "histogram");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", `M0,32 ${bins.map((b, i) => `L${i},${32 - 32 * Math.log1p(b) / max}`).join(" ")} L256,32 Z`);
  svg.append(path);
  return svg;
}

/**
 * Draws the panel for `info` (with `stats`: its channel histograms) into `root`; `onChange(render)` is
 * called (debounced) after every change.
 */
export function renderPanel(root, info, stats, render, onChange) {
  let timer = 0;
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(() => onChange(render), 250);
  };
  const rows = info.channelList.map((ch, i) => {
    const state = render.channels[i];
    const lo = ch.min ?? 0, hi = ch.max ?? 255;
    const step = info.pixelType.startsWith("float")
      ? (hi - lo) / 1000 || 0.001
      : Math.max(1, Math.round((hi - lo) / 1000));
    const toggle = el("input", { type: "checkbox", checked: state.on, title: "show this channel" });
    toggle.dataset.channel = String(i);
    const color = el("input", { type: "color", value: `#${state.color}`, title: "colour" });
    const from = el("input", { type: "range", min: lo, max: hi, step, value: state.window?.[0] ?? ch.low ?? lo });
    const to = el("input", { type: "range", min: lo, max: hi, step, value: state.window?.[1] ?? ch.high ?? hi });
    const label = el("span", { className: "window-value" });
    const auto = el("button", { type: "button", textContent: "auto", title: "the 0.5–99.5 percentile window" });
    // The window in use: the one set, or auto's (the channel's percentiles, as the server computed them).
    const autoWindow = Number.isFinite(ch.low) && Number.isFinite(ch.high)
      ? `${num(ch.low)} – ${num(ch.high)} (auto)`
      : "auto";
    const show = () => (label.textContent = state.window ? `${state.window[0]} – ${state.window[1]}` : autoWindow);
    show();
    toggle.addEventListener("change", () => (state.on = toggle.checked, changed()));
    color.addEventListener("input", () => (state.color = color.value.slice(1), changed()));
    const slide = () => {
      const [a, b] = [Number(from.value), Number(to.value)];
      if (a >= b) return;
      state.window = [a, b];
      show();
      changed();
    };
    from.addEventListener("input", slide);
    to.addEventListener("input", slide);
    auto.addEventListener("click", () => {
      state.window = null;
      from.value = String(ch.low ?? lo);
      to.value = String(ch.high ?? hi);
      show();
      changed();
    });
    const hist = stats?.channels?.histogram?.[i];
    return el(
      "li",
      { className: "channel" },
      el("label", {}, toggle, ` ${ch.name ?? `channel ${i}`}`),
      color,
      el("div", { className: "window" }, ...(hist ? [histogramSvg(hist)] : []), from, to),
      label,
      auto,
    );
  });
  const stretch = el(
    "select",
    { id: "stretch" },
    ...["linear", "sqrt", "log", "asinh"].map((s) => el("option", { value: s, textContent: s })),
  );
  stretch.value = render.stretch;
  stretch.addEventListener("change", () => (render.stretch = stretch.value, changed()));
  const colormap = el(
    "select",
    { id: "colormap", title: "one channel on: a colormap instead of its colour" },
    el("option", { value: "", textContent: "colour" }),
    ...["viridis", "magma", "inferno", "plasma", "cividis", "turbo", "gray"].map((s) =>
      el("option", { value: s, textContent: s })
    ),
  );
  colormap.value = render.colormap;
  colormap.addEventListener("change", () => (render.colormap = colormap.value, changed()));
  const planes = ["z", "t"].flatMap((dim) => {
    const size = dim === "z" ? info.sizeZ ?? 1 : info.sizeT ?? 1;
    if (size <= 1) return [];
    const slider = el("input", {
      type: "range",
      id: `plane-${dim}`,
      min: 0,
      max: size - 1,
      step: 1,
      value: render[dim],
    });
    const value = el("span", { textContent: String(render[dim]) });
    slider.addEventListener("input", () => {
      render[dim] = Number(slider.value);
      value.textContent = slider.value;
      changed();
    });
    return [el("label", {}, `${dim.toUpperCase()} `, slider, value)];
  });
  root.replaceChildren(
    el("h2", { textContent: "channels" }),
    el("ul", { id: "channel-list" }, ...rows),
    el(
      "div",
      { className: "render-options" },
      el("label", {}, "stretch ", stretch),
      el("label", {}, "colormap ", colormap),
      ...planes,
    ),
  );
  root.hidden = false;
}

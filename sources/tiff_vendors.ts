/**
 * Which IFDs of a slide TIFF are its pyramid levels and which its associated images, by vendor: Aperio SVS
 * (the `|`-separated description), Philips TIFF (the DPUfsImport XML: per-level DICOM_PIXEL_SPACING, levels
 * padded to whole tiles cropped to the level-0 size over their downsample, label and macro IFDs or base64
 * JPEGs), Leica SCN (the collection XML: the largest brightfield image is the slide, the image spanning the
 * whole collection is the macro) and Ventana BIF / Ventana TIFF (the iScan XMP: Magnification, ScanRes;
 * `level=N mag=M` IFDs, `Label Image` → macro, `Thumbnail`; a BIF's overlapping tiles stitched: bif.ts), else a generic pyramid (reduced-resolution or
 * tiled IFDs of the main image's samples). OpenSlide 3.4.1 reads each the same way (tests/vendors_test.ts).
 */
import { XMLParser } from "fast-xml-parser";
import { type IfdEntry, tag } from "./tiff_ifd.ts";
import { corruptSource, unsupportedSource } from "../errors.ts";
import { type BifLayout, bifLayout, bifLevelSize } from "./bif.ts";

/** A slide TIFF's layout: its levels (largest first) with their sizes, associated images, metadata. */
export interface TiffLayout {
  format: "svs" | "philips" | "scn" | "bif" | "tiff";
  levels: IfdEntry[];
  /** Each level's size where it is smaller than its IFD's (Philips' padding cropped). */
  sizes: { width: number; height: number }[];
  associated: Map<string, IfdEntry>;
  /** Associated images stored in the metadata itself (Philips' base64 JPEGs). */
  embedded: Map<string, Uint8Array>;
  mpp?: { x: number; y: number };
  properties: Record<string, string>;
  /** A BIF's stitching (`bif.ts`) and each level's downsample (from its `mag=`). */
  bif?: { layout: BifLayout; downsamples: number[] };
}

// deno-lint-ignore no-explicit-any
type Xml = any;
const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  isArray: (_name: string, _path: string, _leaf: boolean, isAttribute: boolean) => !isAttribute,
});

function parseXml(text: string, what: string): Xml {
  try {
    return xml.parse(text);
  } catch (err) {
    throw corruptSource(`${what} XML does not parse: ${(err as Error).message}`);
  }
}

/** A tag's text (ASCII, or bytes such as the XMP packet), "" when absent. */
async function tagText(e: IfdEntry, name: string): Promise<string> {
  const v = await tag(e.image.getFileDirectory(), name).catch(() => undefined);
  if (typeof v === "string") return v;
  if (v && ArrayBuffer.isView(v)) return new TextDecoder().decode(v as Uint8Array);
  if (Array.isArray(v)) return new TextDecoder().decode(Uint8Array.from(v as number[]));
  return "";
}

/** Levels largest first, each narrower than the one before (a repeated size is not a level). */
function pyramid(candidates: IfdEntry[]): IfdEntry[] {
  const out: IfdEntry[] = [];
  for (const e of [...candidates].sort((a, b) => b.width - a.width)) {
    const prev = out[out.length - 1];
    if (!prev || (e.width < prev.width && e.height <= prev.height)) out.push(e);
  }
  return out;
}

const layout = (format: TiffLayout["format"], levels: IfdEntry[], rest: Partial<TiffLayout> = {}): TiffLayout => ({
  format,
  levels,
  sizes: levels.map((e) => ({ width: e.width, height: e.height })),
  associated: new Map(),
  embedded: new Map(),
  properties: {},
  ...rest,
});

/** The layout of a slide TIFF whose IFDs (in chain order) are `ifds`. */
export async function tiffLayout(ifds: IfdEntry[]): Promise<TiffLayout> {
  const main = ifds[0];
  if (main.description.startsWith("Aperio")) return aperio(ifds);
  if ((await tagText(main, "Software")).startsWith("Philips") && main.description.includes("DPUfsImport")) {
    return philips(ifds);
  }
  if (/<scn\b/.test(main.description) && main.description.includes("leica-microsystems.com/scn")) return leica(ifds);
  const xmp = await tagText(main, "XMP");
  if (xmp.includes("iScan")) return await ventana(ifds, xmp);
  const levels = pyramid(ifds.filter((e, i) =>
    i === 0 ||
    (((e.subfileType & 1) === 1 || e.tiled) && e.spp === main.spp && e.type === main.type && e.width < main.width)
  ));
  return layout("tiff", levels);
}

function aperio(ifds: IfdEntry[]): TiffLayout {
  const associated = new Map<string, IfdEntry>();
  const levels = [ifds[0]];
  for (const e of ifds.slice(1)) {
    const desc = e.description.toLowerCase();
    if (/\blabel\b/.test(desc)) associated.set("label", e);
    else if (/\bmacro\b/.test(desc)) associated.set("macro", e);
    else if (e.index === 1 && !e.tiled) associated.set("thumbnail", e);
    else if (e.tiled) levels.push(e);
  }
  const properties: Record<string, string> = {};
  for (const part of ifds[0].description.split("|").slice(1)) {
    const m = /^\s*([^=]+?)\s*=\s*(.*?)\s*$/.exec(part);
    if (m) properties[`aperio.${m[1]}`] = m[2];
  }
  const v = Number(properties["aperio.MPP"]);
  return layout("svs", pyramid(levels), { associated, properties, ...(v > 0 ? { mpp: { x: v, y: v } } : {}) });
}

/** Philips' `"0.000227" "0.000227"` (mm, row then column) as [x, y] µm per pixel. */
function philipsSpacing(text: string): [number, number] | null {
  const v = text.replaceAll('"', " ").trim().split(/\s+/).map(Number);
  return v.length === 2 && v.every((n) => n > 0) ? [v[1] * 1000, v[0] * 1000] : null;
}

function philips(ifds: IfdEntry[]): TiffLayout {
  const doc = parseXml(ifds[0].description, "the Philips");
  const root = doc.DataObject?.[0];
  const attr = (o: Xml, name: string): Xml => (o?.Attribute ?? []).find((a: Xml) => a["@Name"] === name);
  const text = (a: Xml): string => (typeof a === "string" ? a : a?.["#text"] ?? "");
  const scanned: Xml[] = attr(root, "PIM_DP_SCANNED_IMAGES")?.Array?.[0]?.DataObject ?? [];
  const wsi = scanned.filter((o) => text(attr(o, "PIM_DP_IMAGE_TYPE")) === "WSI");
  if (wsi.length !== 1) throw unsupportedSource(`a Philips TIFF with ${wsi.length} WSI images (one only)`);
  const properties: Record<string, string> = {};
  for (const a of [...(root?.Attribute ?? []), ...(wsi[0].Attribute ?? [])]) {
    if (!a.Array && text(a)) properties[`philips.${a["@Name"]}`] = text(a);
  }
  const levels = ifds.filter((e) => e.tiled && (e.index === 0 || (e.subfileType & 1) === 1));
  for (let i = 1; i < levels.length; i++) {
    if (levels[i].width > levels[i - 1].width || levels[i].height > levels[i - 1].height) {
      throw corruptSource(`Philips level ${i} is larger than the level before it`);
    }
  }
  const reps: Xml[] = attr(wsi[0], "PIIM_PIXEL_DATA_REPRESENTATION_SEQUENCE")?.Array?.[0]?.DataObject ?? [];
  const spacings = reps.map((r) => philipsSpacing(text(attr(r, "DICOM_PIXEL_SPACING"))));
  if (spacings.length !== levels.length || spacings.some((s) => !s)) {
    throw corruptSource(`a Philips TIFF with ${levels.length} levels and ${spacings.length} pixel spacings`);
  }
  // Levels are stored padded to whole tiles: each is the level-0 size over its (integer) downsample.
  const [x0, y0] = spacings[0]!;
  const sizes = levels.map((e, i) => {
    if (i === 0) return { width: e.width, height: e.height };
    const ds = Math.round((spacings[i]![0] / x0 + spacings[i]![1] / y0) / 2);
    return {
      width: Math.min(e.width, Math.floor(levels[0].width / ds)),
      height: Math.min(e.height, Math.floor(levels[0].height / ds)),
    };
  });
  const associated = new Map<string, IfdEntry>();
  for (const e of ifds) {
    if (!e.tiled && e.description.startsWith("Label")) associated.set("label", e);
    if (!e.tiled && e.description.startsWith("Macro")) associated.set("macro", e);
  }
  const embedded = new Map<string, Uint8Array>();
  for (const o of scanned) {
    const kind = { LABELIMAGE: "label", MACROIMAGE: "macro" }[text(attr(o, "PIM_DP_IMAGE_TYPE"))];
    const data = text(attr(o, "PIM_DP_IMAGE_DATA"));
    if (kind && data && !associated.has(kind)) {
      embedded.set(
        kind,
        Uint8Array.from(atob(data.trim()), (c) => c.charCodeAt(0)),
      );
    }
  }
  const mpp = philipsSpacing(properties["philips.DICOM_PIXEL_SPACING"] ?? "") ?? spacings[0]!;
  return layout("philips", levels, { sizes, associated, embedded, properties, mpp: { x: mpp[0], y: mpp[1] } });
}

function leica(ifds: IfdEntry[]): TiffLayout {
  const doc = parseXml(ifds[0].description, "the Leica SCN");
  const collection = doc.scn?.[0]?.collection?.[0];
  if (!collection) throw corruptSource("a Leica SCN without a collection");
  const cw = Number(collection["@sizeX"]), ch = Number(collection["@sizeY"]);
  const images = (collection.image ?? []).map((im: Xml) => {
    const view = im.view?.[0] ?? {};
    const dims = (im.pixels?.[0]?.dimension ?? [])
      .filter((d: Xml) => Number(d["@z"] ?? 0) === 0 && Number(d["@c"] ?? 0) === 0)
      .map((d: Xml) => ({ ifd: Number(d["@ifd"]), width: Number(d["@sizeX"]), height: Number(d["@sizeY"]) }));
    const settings = im.scanSettings?.[0];
    const illumination = settings?.illuminationSettings?.[0]?.illuminationSource?.[0] ?? "";
    return {
      dims,
      nmAcross: Number(view["@sizeX"]),
      macro: Number(view["@offsetX"]) === 0 && Number(view["@offsetY"]) === 0 && Number(view["@sizeX"]) === cw &&
        Number(view["@sizeY"]) === ch,
      brightfield: illumination === "brightfield",
      objective: String(settings?.objectiveSettings?.[0]?.objective?.[0] ?? ""),
    };
  });
  const ifdOf = (i: number) => {
    const e = ifds[i];
    if (!e) throw corruptSource(`the Leica SCN XML names IFD ${i}, past the file's ${ifds.length}`);
    return e;
  };
  const area = (im: { dims: { width: number; height: number }[] }) =>
    Math.max(0, ...im.dims.map((d) => d.width * d.height));
  const mains = images.filter((im: Xml) => !im.macro && im.brightfield && im.dims.length);
  if (!mains.length) throw unsupportedSource("a Leica SCN without a brightfield image (fluorescence SCN is not read)");
  const main = mains.reduce((a: Xml, b: Xml) => (area(b) > area(a) ? b : a));
  const levels = pyramid(main.dims.map((d: Xml) => ifdOf(d.ifd)));
  const associated = new Map<string, IfdEntry>();
  const macro = images.find((im: Xml) => im.macro && im.dims.length);
  if (macro) associated.set("macro", ifdOf(macro.dims.reduce((a: Xml, b: Xml) => (b.width > a.width ? b : a)).ifd));
  const nm = main.nmAcross / levels[0].width;
  return layout("scn", levels, {
    associated,
    properties: main.objective ? { "leica.objective": main.objective } : {},
    ...(nm > 0 ? { mpp: { x: nm / 1000, y: nm / 1000 } } : {}),
  });
}

async function ventana(ifds: IfdEntry[], xmp: string): Promise<TiffLayout> {
  const doc = parseXml(xmp, "the Ventana");
  const iscan = doc.iScan?.[0] ?? doc.Metadata?.[0]?.iScan?.[0];
  if (!iscan) throw corruptSource("a Ventana TIFF without an iScan element");
  const properties: Record<string, string> = {};
  for (const [k, v] of Object.entries(iscan)) {
    if (k.startsWith("@") && v) properties[`ventana.${k.slice(1)}`] = String(v);
  }
  const levels: IfdEntry[] = [], associated = new Map<string, IfdEntry>();
  for (const e of ifds) {
    const level = /(?:^|\s)level=(\d+)/.exec(e.description);
    if (level) {
      if (Number(level[1]) !== levels.length) throw corruptSource(`Ventana level ${level[1]} out of order`);
      levels.push(e);
    } else if (/^Label[ _]Image/.test(e.description)) associated.set("macro", e);
    else if (e.description.startsWith("Thumbnail")) associated.set("thumbnail", e);
  }
  if (!levels.length) throw corruptSource("a Ventana TIFF without level=0");
  // A BIF: level 0's camera tiles overlap (its XMP's EncodeInfo), every level is their grid, stitched.
  const encode = parseXml((await tagText(levels[0], "XMP")) || "<EncodeInfo/>", "the Ventana level-0");
  const bif = bifLayout(encode, levels[0].blockWidth, levels[0].blockHeight);
  if (bif) {
    const mags = levels.map((e) => Number(/(?:^|\s)mag=([\d.]+)/.exec(e.description)?.[1]));
    if (mags.some((m, i) => !(m > 0) || (i > 0 && m >= mags[i - 1]))) {
      throw corruptSource("Ventana levels without decreasing mag= values");
    }
    const downsamples = mags.map((m) => mags[0] / m);
    for (const [i, e] of levels.entries()) {
      const ds = downsamples[i];
      if (e.blockWidth !== levels[0].blockWidth || e.blockHeight !== levels[0].blockHeight || (e.blockWidth / ds) % 1) {
        throw unsupportedSource(`a Ventana BIF level of ${e.blockWidth}×${e.blockHeight} tiles at 1/${ds}`);
      }
    }
    const res = Number(properties["ventana.ScanRes"]);
    return layout("bif", levels, {
      associated,
      properties,
      sizes: downsamples.map((ds) => bifLevelSize(bif, ds)),
      bif: { layout: bif, downsamples },
      ...(res > 0 ? { mpp: { x: res, y: res } } : {}),
    });
  }
  const res = Number(properties["ventana.ScanRes"]);
  return layout("bif", pyramid(levels), { associated, properties, ...(res > 0 ? { mpp: { x: res, y: res } } : {}) });
}
